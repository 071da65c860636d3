import NIOCore

/// Parsing JSON request bodies into `JSONValue`, failing exactly where and how Python's `json.loads`
/// fails, so a malformed body gets FastAPI's `json_invalid` error word for word.
///
/// The reference is CPython 3.11's `json.loads(bytes)` (the C scanner), which FastAPI reaches through
/// Starlette's `Request.json()`. Like it, the parser accepts `NaN`, `Infinity` and `-Infinity`, keeps
/// duplicate keys (lookup finds the last), skips a leading UTF-8 byte order mark, reads UTF-16 and
/// UTF-32 bodies where Python's `json.detect_encoding` would, rejects raw control characters in
/// strings and reports positions in code points of the decoded text. Deliberate differences are
/// listed on `JSONValue.parse(_:maxDepth:)`.
///
/// One pass over the bytes with an index: string runs without escapes become `String`s straight
/// from the input bytes (validated by the standard library), numbers are read without a `String`
/// unless they need correct rounding beyond the exact fast path, and nothing here allocates on the
/// error-free path except the values themselves.

/// Why a document is not JSON, in Python's words and at Python's position.
public struct JSONParseError: Error, Sendable, Equatable {
    /// Python's message (`JSONDecodeError.msg`), e.g. `"Expecting ',' delimiter"`.
    public var message: String
    /// Python's position (`JSONDecodeError.pos`): code points from the start of the document (after
    /// a byte order mark). When the bytes do not decode it is the offset of the first bad byte, also
    /// after a byte order mark (`UnicodeDecodeError.start`).
    public var position: Int

    /// An error with `message` at `position`.
    public init(message: String, position: Int) {
        self.message = message
        self.position = position
    }

    /// Whether Python fails with `json.JSONDecodeError` here, which FastAPI answers with a 422
    /// `json_invalid` error. When false (bytes that do not decode, nesting too deep, an over-long
    /// integer) Python raises another exception and FastAPI answers 400 "There was an error parsing
    /// the body".
    public var isSyntaxError: Bool {
        message != Self.invalidUTF8Message && message != Self.invalidUTF16Message
            && message != Self.invalidUTF32Message && message != Self.nestingTooDeepMessage
            && !message.hasPrefix(Self.integerTooLongPrefix)
    }

    /// The message for a body that is not valid UTF-8 (Python: `UnicodeDecodeError`).
    public static let invalidUTF8Message = "Invalid UTF-8"
    /// The message for a body Python reads as UTF-16 that does not decode.
    public static let invalidUTF16Message = "Invalid UTF-16"
    /// The message for a body Python reads as UTF-32 that does not decode.
    public static let invalidUTF32Message = "Invalid UTF-32"
    /// The message for nesting deeper than `maxDepth` (Python: `RecursionError`).
    public static let nestingTooDeepMessage = "Maximum nesting depth exceeded"
    /// How Python's message for an integer literal over 4300 digits starts (Python: `ValueError`).
    public static let integerTooLongPrefix = "Exceeds the limit (4300 digits) for integer string conversion"
}

extension JSONValue {
    /// Parses one JSON document (surrounding whitespace allowed) from UTF-8 bytes.
    ///
    /// Matches Python's `json.loads(bytes)` in what it accepts and in the message and position of
    /// every `JSONDecodeError`, with these deliberate differences:
    /// - A lone surrogate (`"\ud800"`, or the bytes `ED A0 80` Python lets through) becomes U+FFFD,
    ///   because a Swift `String` cannot hold it.
    /// - An integer literal that does not fit `Int` becomes `.double` (Python keeps an exact `int`).
    /// - Nesting deeper than `maxDepth` fails at the opening bracket with `nestingTooDeepMessage`;
    ///   Python's limit is its recursion limit (about 995 in a bare interpreter, 963 under FastAPI).
    /// - Trailing commas get Python 3.11's messages; Python 3.13 says "Illegal trailing comma before
    ///   end of object/array" at the comma instead.
    ///
    /// Bytes Python decodes as UTF-16 or UTF-32 (by byte order mark, or a NUL among the first two
    /// bytes) are read that way too, on the error path only, since they never parse as UTF-8.
    /// Each level of nesting takes about 200 bytes of call stack in an optimized build (about
    /// 1.5 KB in a debug build): keep `maxDepth` modest.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 512) throws(JSONParseError) -> JSONValue {
        guard let raw = bytes.baseAddress, !bytes.isEmpty else {
            throw JSONParseError(message: JSONParseFailure.Reason.expectingValue.message, position: 0)
        }
        let base = raw.assumingMemoryBound(to: UInt8.self)
        // Python decodes a body that starts with a UTF-8 byte order mark as `utf-8-sig`.
        let origin = bytes.count >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF ? 3 : 0
        do {
            return try parseUTF8(base, from: origin, to: bytes.count, maxDepth: maxDepth)
        } catch {
            // Bytes Python reads as UTF-16 or UTF-32 never parse as UTF-8, so looking for them
            // costs nothing on the way to a value.
            if let encoding = WideEncoding(detectedIn: base, count: bytes.count) {
                return try parseWide(base, count: bytes.count, encoding: encoding, maxDepth: maxDepth)
            }
            throw error.publicError(base: base, origin: origin, end: bytes.count)
        }
    }

    /// Parses UTF-8 from `start` to `end`, failing in byte offsets.
    fileprivate static func parseUTF8(_ base: UnsafePointer<UInt8>, from origin: Int, to end: Int, maxDepth: Int)
        throws(JSONParseFailure) -> JSONValue
    {
        // Elements wait on these stacks until their container closes, then move into an array
        // of exactly their count. The standard library keeps temporary allocations of up to
        // 1 KiB on the call stack, which most documents never outgrow.
        return try withUnsafeTemporaryAllocation(
            of: JSONValue.self, capacity: max(1, 1024 / MemoryLayout<JSONValue>.stride)
        ) { values throws(JSONParseFailure) in
            try withUnsafeTemporaryAllocation(
                of: (key: String, value: JSONValue).self,
                capacity: max(1, 1024 / MemoryLayout<(key: String, value: JSONValue)>.stride)
            ) { members throws(JSONParseFailure) in
                var parser = JSONParser(
                    base: base, start: origin, end: end, maxDepth: maxDepth,
                    values: PendingStack(values), members: PendingStack(members))
                return try parser.parseDocument()
            }
        }
    }

    /// Parses a body Python decodes as UTF-16 or UTF-32, through UTF-8.
    fileprivate static func parseWide(_ base: UnsafePointer<UInt8>, count: Int, encoding: WideEncoding, maxDepth: Int)
        throws(JSONParseError) -> JSONValue
    {
        let utf8 = try encoding.transcode(base, count: count)
        let result = utf8.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                guard let base = buffer.baseAddress else {
                    throw JSONParseError(message: JSONParseFailure.Reason.expectingValue.message, position: 0)
                }
                do throws(JSONParseFailure) {
                    return try parseUTF8(base, from: 0, to: buffer.count, maxDepth: maxDepth)
                } catch {
                    throw error.publicError(base: base, origin: 0, end: buffer.count)
                }
            }
        }
        return try result.get()
    }

    /// Parses one JSON document (surrounding whitespace allowed) from the readable bytes of
    /// `buffer`, as `parse(_:maxDepth:)` does.
    public static func parse(_ buffer: ByteBuffer, maxDepth: Int = 512) throws(JSONParseError) -> JSONValue {
        let result = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(JSONParseError) in try parse(bytes, maxDepth: maxDepth) }
        }
        return try result.get()
    }

    /// Parses one JSON document (surrounding whitespace allowed) from `text`, as
    /// `parse(_:maxDepth:)` does from its UTF-8 bytes (so like Python's `json.loads(text.encode())`).
    public static func parse(_ text: String, maxDepth: Int = 512) throws(JSONParseError) -> JSONValue {
        var text = text
        let result = text.withUTF8 { utf8 in
            Result { () throws(JSONParseError) in try parse(UnsafeRawBufferPointer(utf8), maxDepth: maxDepth) }
        }
        return try result.get()
    }
}

// MARK: - Failures

/// A parse failure at a byte offset, before it is put in Python's terms.
fileprivate struct JSONParseFailure: Error {
    enum Reason: UInt8 {
        case expectingValue, expectingPropertyName, expectingColon, expectingComma, extraData
        case unterminatedString, invalidControlCharacter, invalidEscape, invalidUnicodeEscape
        case invalidUTF8, nestingTooDeep, integerTooLong

        var message: String {
            switch self {
            case .expectingValue: "Expecting value"
            case .expectingPropertyName: "Expecting property name enclosed in double quotes"
            case .expectingColon: "Expecting ':' delimiter"
            case .expectingComma: "Expecting ',' delimiter"
            case .extraData: "Extra data"
            case .unterminatedString: "Unterminated string starting at"
            case .invalidControlCharacter: "Invalid control character at"
            case .invalidEscape: "Invalid \\escape"
            case .invalidUnicodeEscape: "Invalid \\uXXXX escape"
            case .invalidUTF8: JSONParseError.invalidUTF8Message
            case .nestingTooDeep: JSONParseError.nestingTooDeepMessage
            case .integerTooLong: JSONParseError.integerTooLongPrefix
            }
        }
    }

    var reason: Reason
    /// Offset of the offending byte in the input buffer.
    var offset: Int

    init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    /// The error Python reports for this input: bad UTF-8 anywhere wins (Python decodes the whole
    /// body first); otherwise the message at the failure's offset counted in code points.
    func publicError(base: UnsafePointer<UInt8>, origin: Int, end: Int) -> JSONParseError {
        var surrogates = false
        if let bad = firstInvalidUTF8(base, from: origin, to: end, surrogates: &surrogates) {
            return JSONParseError(message: JSONParseError.invalidUTF8Message, position: bad - origin)
        }
        var codePoints = 0
        for index in origin..<offset where base[index] & 0xC0 != 0x80 { codePoints += 1 }
        var message = reason.message
        if reason == .integerTooLong {
            var digitsEnd = offset + (base[offset] == UInt8(ascii: "-") ? 1 : 0)
            let digitsStart = digitsEnd
            while digitsEnd < end && isDigit(base[digitsEnd]) { digitsEnd += 1 }
            message +=
                ": value has \(digitsEnd - digitsStart) digits; use sys.set_int_max_str_digits() to increase the limit"
        }
        return JSONParseError(message: message, position: codePoints)
    }
}

/// The offset of the first byte that Python's `bytes.decode("utf-8", "surrogatepass")` rejects
/// between `start` and `end`, or nil. Encoded surrogates (`ED A0`–`ED BF`) pass, as in Python, and
/// set `surrogates`.
fileprivate func firstInvalidUTF8(_ base: UnsafePointer<UInt8>, from start: Int, to end: Int, surrogates: inout Bool)
    -> Int?
{
    var index = start
    while index < end {
        let lead = base[index]
        if lead < 0x80 {
            index += 1
            continue
        }
        var length = 2
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: (length, low) = (3, 0xA0)
        case 0xE1...0xEF: length = 3
        case 0xF0: (length, low) = (4, 0x90)
        case 0xF1...0xF3: length = 4
        case 0xF4: (length, high) = (4, 0x8F)
        default: return index
        }
        guard index + length <= end, (low...high).contains(base[index + 1]) else { return index }
        for continuation in index + 2..<index + length where base[continuation] & 0xC0 != 0x80 { return index }
        if lead == 0xED && base[index + 1] >= 0xA0 { surrogates = true }
        index += length
    }
    return nil
}

/// The UTF-16 or UTF-32 flavour Python's `json.detect_encoding` picks for a body, which it then
/// decodes with `surrogatepass`.
fileprivate enum WideEncoding {
    case utf16(bigEndian: Bool, byteOrderMark: Bool)
    case utf32(bigEndian: Bool, byteOrderMark: Bool)

    /// Python's choice for these bytes, or nil when it reads them as UTF-8: by byte order mark, else
    /// by NUL bytes among the first two (JSON text starts with two ASCII characters).
    init?(detectedIn base: UnsafePointer<UInt8>, count: Int) {
        let prefix = (0..<min(count, 4)).map { base[$0] }
        if prefix.starts(with: [0xFF, 0xFE, 0, 0]) || prefix.starts(with: [0, 0, 0xFE, 0xFF]) {
            self = .utf32(bigEndian: prefix[0] == 0, byteOrderMark: true)
        } else if prefix.starts(with: [0xFF, 0xFE]) || prefix.starts(with: [0xFE, 0xFF]) {
            self = .utf16(bigEndian: prefix[0] == 0xFE, byteOrderMark: true)
        } else if count >= 4 && prefix[0] == 0 {
            self =
                prefix[1] != 0
                ? .utf16(bigEndian: true, byteOrderMark: false) : .utf32(bigEndian: true, byteOrderMark: false)
        } else if count >= 4 && prefix[1] == 0 {
            self =
                prefix[2] != 0 || prefix[3] != 0
                ? .utf16(bigEndian: false, byteOrderMark: false) : .utf32(bigEndian: false, byteOrderMark: false)
        } else if count == 2 && (prefix[0] == 0 || prefix[1] == 0) {
            self = .utf16(bigEndian: prefix[0] == 0, byteOrderMark: false)
        } else {
            return nil
        }
    }

    /// The bytes as UTF-8, lone surrogates kept as their three-byte forms (which the parser turns
    /// into U+FFFD), or the offset of the first code unit that does not decode.
    func transcode(_ base: UnsafePointer<UInt8>, count: Int) throws(JSONParseError) -> [UInt8] {
        let (width, bigEndian, skip, failure) =
            switch self {
            case .utf16(let bigEndian, let mark): (2, bigEndian, mark ? 2 : 0, JSONParseError.invalidUTF16Message)
            case .utf32(let bigEndian, let mark): (4, bigEndian, mark ? 4 : 0, JSONParseError.invalidUTF32Message)
            }
        func unit(at offset: Int) -> UInt32 {
            var value: UInt32 = 0
            for index in 0..<width {
                let byte = UInt32(base[offset + (bigEndian ? index : width - 1 - index)])
                value = value << 8 | byte
            }
            return value
        }
        var utf8: [UInt8] = []
        utf8.reserveCapacity(count)
        var offset = skip
        while offset < count {
            guard offset + width <= count else { throw JSONParseError(message: failure, position: offset) }
            var scalar = unit(at: offset)
            offset += width
            if width == 2 && scalar & 0xFC00 == 0xD800 && offset + 2 <= count {
                let low = unit(at: offset)
                if low & 0xFC00 == 0xDC00 {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    offset += 2
                }
            }
            guard scalar <= 0x10FFFF else { throw JSONParseError(message: failure, position: offset - width) }
            appendUTF8(scalar, to: &utf8)
        }
        return utf8
    }
}

/// Appends `scalar` (any code point, surrogates included) to `bytes` as UTF-8.
@inline(__always)
fileprivate func appendUTF8(_ scalar: UInt32, to bytes: inout [UInt8]) {
    switch scalar {
    case ..<0x80:
        bytes.append(UInt8(scalar))
    case ..<0x800:
        bytes.append(UInt8(0xC0 | scalar >> 6))
        bytes.append(UInt8(0x80 | scalar & 0x3F))
    case ..<0x10000:
        bytes.append(UInt8(0xE0 | scalar >> 12))
        bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
        bytes.append(UInt8(0x80 | scalar & 0x3F))
    default:
        bytes.append(UInt8(0xF0 | scalar >> 18))
        bytes.append(UInt8(0x80 | scalar >> 12 & 0x3F))
        bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
        bytes.append(UInt8(0x80 | scalar & 0x3F))
    }
}

/// A `String` from UTF-8 that is valid except for encoded surrogates, each replaced by U+FFFD.
fileprivate func stringReplacingSurrogates(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    var repaired: [UInt8] = []
    repaired.reserveCapacity(bytes.count)
    var index = 0
    while index < bytes.count {
        if bytes[index] == 0xED, index + 2 < bytes.count, bytes[index + 1] >= 0xA0 {
            repaired.append(contentsOf: [0xEF, 0xBF, 0xBD])
            index += 3
        } else {
            repaired.append(bytes[index])
            index += 1
        }
    }
    return String(decoding: repaired, as: UTF8.self)
}

/// A `String` from valid UTF-8. (Copying into `String`'s own buffer is about half the work of
/// `String(decoding:as:)` for short strings; both check the bytes again.)
@inline(__always)
fileprivate func makeString(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    String(unsafeUninitializedCapacity: bytes.count) { destination in
        if bytes.count > 15 {
            destination.baseAddress!.update(from: bytes.baseAddress!, count: bytes.count)
        } else {
            _ = destination.initialize(from: bytes)
        }
        return bytes.count
    }
}

@inline(__always)
fileprivate func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

// MARK: - Parser

/// A recursive-descent parser over one buffer; `index` is the next unread byte.
fileprivate struct JSONParser: ~Copyable {
    let base: UnsafePointer<UInt8>
    let end: Int
    var index: Int
    var depth = 0
    let maxDepth: Int
    /// Elements of the arrays being parsed.
    var values: PendingStack<JSONValue>
    /// Members of the objects being parsed.
    var members: PendingStack<(key: String, value: JSONValue)>
    /// Reused for strings with escapes.
    var scratch: [UInt8] = []

    init(
        base: UnsafePointer<UInt8>, start: Int, end: Int, maxDepth: Int, values: consuming PendingStack<JSONValue>,
        members: consuming PendingStack<(key: String, value: JSONValue)>
    ) {
        self.base = base
        self.index = start
        self.end = end
        self.maxDepth = maxDepth
        self.values = values
        self.members = members
    }

    mutating func parseDocument() throws(JSONParseFailure) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard index == end else { throw JSONParseFailure(.extraData, at: index) }
        return value
    }

    /// Skips Python's JSON whitespace: space, tab, line feed, carriage return.
    @inline(__always)
    mutating func skipWhitespace() {
        while index < end {
            let byte = base[index]
            guard byte <= 0x20, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            index += 1
        }
    }

    /// Whether the ASCII `literal` starts at `index` (its first byte already checked).
    @inline(__always)
    func matches(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= end else { return false }
        let text = literal.utf8Start
        for offset in 1..<count where base[index + offset] != text[offset] { return false }
        return true
    }

    mutating func parseValue() throws(JSONParseFailure) -> JSONValue {
        guard index < end else { throw JSONParseFailure(.expectingValue, at: index) }
        switch base[index] {
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "{"):
            return try parseObject()
        case UInt8(ascii: "["):
            return try parseArray()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            if base[index] == UInt8(ascii: "-") && matches("-Infinity") {
                index += 9
                return .double(-.infinity)
            }
            return try parseNumber()
        case UInt8(ascii: "t") where matches("true"):
            index += 4
            return .bool(true)
        case UInt8(ascii: "f") where matches("false"):
            index += 5
            return .bool(false)
        case UInt8(ascii: "n") where matches("null"):
            index += 4
            return .null
        case UInt8(ascii: "N") where matches("NaN"):
            index += 3
            return .double(.nan)
        case UInt8(ascii: "I") where matches("Infinity"):
            index += 8
            return .double(.infinity)
        default:
            throw JSONParseFailure(.expectingValue, at: index)
        }
    }

    /// Enters a container at `index`, failing when that is one level too deep.
    @inline(__always)
    mutating func enterContainer() throws(JSONParseFailure) {
        depth += 1
        guard depth <= maxDepth else { throw JSONParseFailure(.nestingTooDeep, at: index) }
        index += 1
        skipWhitespace()
    }

    mutating func parseArray() throws(JSONParseFailure) -> JSONValue {
        try enterContainer()
        if index < end && base[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array([])
        }
        let start = values.count
        while true {
            values.push(try parseValue())
            skipWhitespace()
            guard index < end else { throw JSONParseFailure(.expectingComma, at: index) }
            let byte = base[index]
            index += 1
            if byte == UInt8(ascii: "]") { break }
            guard byte == UInt8(ascii: ",") else { throw JSONParseFailure(.expectingComma, at: index - 1) }
            skipWhitespace()
        }
        depth -= 1
        return .array(values.popArray(from: start))
    }

    mutating func parseObject() throws(JSONParseFailure) -> JSONValue {
        try enterContainer()
        if index < end && base[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(JSONObject())
        }
        let start = members.count
        while true {
            guard index < end && base[index] == UInt8(ascii: "\"") else {
                throw JSONParseFailure(.expectingPropertyName, at: index)
            }
            let key = try parseString()
            skipWhitespace()
            guard index < end && base[index] == UInt8(ascii: ":") else {
                throw JSONParseFailure(.expectingColon, at: index)
            }
            index += 1
            skipWhitespace()
            members.push((key, try parseValue()))
            skipWhitespace()
            guard index < end else { throw JSONParseFailure(.expectingComma, at: index) }
            let byte = base[index]
            index += 1
            if byte == UInt8(ascii: "}") { break }
            guard byte == UInt8(ascii: ",") else { throw JSONParseFailure(.expectingComma, at: index - 1) }
            skipWhitespace()
        }
        depth -= 1
        return .object(JSONObject(members.popArray(from: start)))
    }
}

/// Parsed elements waiting for their container to close: in memory the caller provides (on the
/// call stack) until they outgrow it, then on the heap.
fileprivate struct PendingStack<Element>: ~Copyable {
    private var storage: UnsafeMutablePointer<Element>
    private var capacity: Int
    private var ownsStorage = false
    /// How many elements are waiting.
    private(set) var count = 0

    /// A stack in `initial`, which must outlive it and hold at least one element.
    init(_ initial: UnsafeMutableBufferPointer<Element>) {
        storage = initial.baseAddress!
        capacity = initial.count
    }

    @inline(__always)
    mutating func push(_ element: consuming Element) {
        if count == capacity { grow() }
        (storage + count).initialize(to: element)
        count += 1
    }

    private mutating func grow() {
        let larger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
        larger.moveInitialize(from: storage, count: count)
        if ownsStorage { storage.deallocate() }
        storage = larger
        capacity *= 2
        ownsStorage = true
    }

    /// Moves the elements from position `start` on into an array of exactly their count.
    mutating func popArray(from start: Int) -> [Element] {
        let popped = count - start
        let source = storage + start
        count = start
        var array: [Element] = []
        array.reserveCapacity(popped)
        for offset in 0..<popped { array.append((source + offset).move()) }
        return array
    }

    deinit {
        storage.deinitialize(count: count)
        if ownsStorage { storage.deallocate() }
    }
}

// MARK: - Strings

extension JSONParser {
    /// The offset of the first byte at or after `start` that ends a plain run in a string (`"`,
    /// `\` or a control character), or `end`. Looks at eight bytes at a time, and ORs the run's
    /// bytes into `bits` (so bit 7 says whether there was any non-ASCII byte).
    @inline(__always)
    func endOfRun(from start: Int, bits: inout UInt64) -> Int {
        var index = start
        let raw = UnsafeRawPointer(base)
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        while index &+ 8 <= end {
            // Byte 0 in the low bits on every platform, so the lowest flagged byte comes first.
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let quote = word ^ (ones &* 0x22)
            let backslash = word ^ (ones &* 0x5C)
            // High bit set where a byte of `quote`/`backslash` is zero or a byte of `word` is below
            // 0x20. Borrows can flag bytes above a true hit, never below, so the lowest is exact.
            let special =
                ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash | (word &- ones &* 0x20) & ~word)
                & highBits
            if special != 0 {
                let offset = special.trailingZeroBitCount &>> 3
                bits |= word & ((1 &<< (offset &<< 3)) &- 1)
                return index &+ offset
            }
            bits |= word
            index &+= 8
        }
        while index < end {
            let byte = base[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { return index }
            bits |= UInt64(byte)
            index &+= 1
        }
        return end
    }

    /// Parses the string whose opening quote is at `index`.
    mutating func parseString() throws(JSONParseFailure) -> String {
        let quote = index
        let start = quote + 1
        var bits: UInt64 = 0
        let stop = endOfRun(from: start, bits: &bits)
        guard stop < end else { throw JSONParseFailure(.unterminatedString, at: quote) }
        switch base[stop] {
        case UInt8(ascii: "\""):
            index = stop + 1
            let bytes = UnsafeBufferPointer(start: base + start, count: stop - start)
            if bits & 0x8080_8080_8080_8080 == 0 { return makeString(bytes) }
            return try nonASCIIString(bytes, rawFrom: start)
        case UInt8(ascii: "\\"):
            return try parseEscapedString(quote: quote, runEnd: stop, bits: bits)
        default:
            throw JSONParseFailure(.invalidControlCharacter, at: stop)
        }
    }

    /// A `String` from `bytes`, decoded from the input between `start` and `index`, which holds a
    /// byte over 0x7F: bad UTF-8 fails, encoded surrogates become U+FFFD.
    func nonASCIIString(_ bytes: UnsafeBufferPointer<UInt8>, rawFrom start: Int) throws(JSONParseFailure) -> String {
        var surrogates = false
        if let bad = firstInvalidUTF8(base, from: start, to: index, surrogates: &surrogates) {
            throw JSONParseFailure(.invalidUTF8, at: bad)
        }
        return surrogates ? stringReplacingSurrogates(bytes) : makeString(bytes)
    }

    /// Parses a string from its first backslash on, decoding into `scratch`.
    mutating func parseEscapedString(quote: Int, runEnd firstBackslash: Int, bits: UInt64) throws(JSONParseFailure)
        -> String
    {
        var bits = bits
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(start: base + quote + 1, count: firstBackslash - quote - 1))
        var backslash = firstBackslash
        while true {
            let escape = backslash + 1
            guard escape < end else { throw JSONParseFailure(.unterminatedString, at: quote) }
            var next = escape + 1
            switch base[escape] {
            case UInt8(ascii: "\""): scratch.append(0x22)
            case UInt8(ascii: "\\"): scratch.append(0x5C)
            case UInt8(ascii: "/"): scratch.append(0x2F)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                guard let unit = hexQuad(after: escape) else {
                    throw JSONParseFailure(.invalidUnicodeEscape, at: escape)
                }
                next = escape + 5
                var scalar = UInt32(unit)
                if unit & 0xFC00 == 0xD800 {
                    // A high surrogate pairs with a low one escaped right after it; Python then needs
                    // one more character, as it does after any `\uXXXX`.
                    if next + 1 < end, base[next] == UInt8(ascii: "\\"), base[next + 1] == UInt8(ascii: "u"),
                        let low = hexQuad(after: next + 1), low & 0xFC00 == 0xDC00
                    {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                        next += 6
                    } else {
                        scalar = 0xFFFD
                    }
                } else if unit & 0xFC00 == 0xDC00 {
                    scalar = 0xFFFD
                }
                appendUTF8(scalar, to: &scratch)
            default:
                throw JSONParseFailure(.invalidEscape, at: backslash)
            }
            let stop = endOfRun(from: next, bits: &bits)
            guard stop < end else { throw JSONParseFailure(.unterminatedString, at: quote) }
            scratch.append(contentsOf: UnsafeBufferPointer(start: base + next, count: stop - next))
            switch base[stop] {
            case UInt8(ascii: "\""):
                index = stop + 1
                let start = quote + 1
                return try scratch.withUnsafeBufferPointer { bytes throws(JSONParseFailure) in
                    if bits & 0x8080_8080_8080_8080 == 0 { return makeString(bytes) }
                    return try nonASCIIString(bytes, rawFrom: start)
                }
            case UInt8(ascii: "\\"):
                backslash = stop
            default:
                throw JSONParseFailure(.invalidControlCharacter, at: stop)
            }
        }
    }

    /// The four hex digits after the `u` at `u`, if they are there and a character follows them
    /// (Python reports a `\uXXXX` at the very end as an invalid escape, not an unterminated string).
    @inline(__always)
    func hexQuad(after u: Int) -> UInt16? {
        guard u + 5 < end else { return nil }
        var value: UInt16 = 0
        for offset in 1...4 {
            let byte = base[u + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }
}

// MARK: - Numbers

/// Powers of ten that a `Double` holds exactly.
private let exactPowersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

extension JSONParser {
    /// Parses the number at `index` as Python's scanner does: an optional fraction or exponent is
    /// taken only when a digit follows the `.`, `e` or sign; otherwise the number ends before it.
    mutating func parseNumber() throws(JSONParseFailure) -> JSONValue {
        let start = index
        var cursor = start
        let negative = base[cursor] == UInt8(ascii: "-")
        if negative {
            cursor += 1
            guard cursor < end else { throw JSONParseFailure(.expectingValue, at: start) }
        }
        var significand: UInt64 = 0
        var significantDigits = 0
        let integerStart = cursor
        let first = base[cursor]
        if first == UInt8(ascii: "0") {
            cursor += 1
        } else if first &- UInt8(ascii: "1") < 9 {
            repeat {
                significand = significand &* 10 &+ UInt64(base[cursor] &- UInt8(ascii: "0"))
                cursor += 1
            } while cursor < end && isDigit(base[cursor])
            significantDigits = cursor - integerStart
        } else {
            throw JSONParseFailure(.expectingValue, at: start)
        }
        let integerDigits = cursor - integerStart
        var isFloat = false
        var fractionDigits = 0
        if cursor + 1 < end && base[cursor] == UInt8(ascii: ".") && isDigit(base[cursor + 1]) {
            isFloat = true
            cursor += 1
            repeat {
                significand = significand &* 10 &+ UInt64(base[cursor] &- UInt8(ascii: "0"))
                if significand != 0 { significantDigits += 1 }
                fractionDigits += 1
                cursor += 1
            } while cursor < end && isDigit(base[cursor])
        }
        var exponent = 0
        if cursor + 1 < end && base[cursor] | 0x20 == UInt8(ascii: "e") {
            var probe = cursor + 1
            let sign = base[probe]
            if sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { probe += 1 }
            if probe < end && isDigit(base[probe]) {
                isFloat = true
                repeat {
                    if exponent < 100_000_000_000_000_000 {
                        exponent = exponent * 10 + Int(base[probe] &- UInt8(ascii: "0"))
                    }
                    probe += 1
                } while probe < end && isDigit(base[probe])
                if sign == UInt8(ascii: "-") { exponent = -exponent }
                cursor = probe
            }
        }
        index = cursor

        if !isFloat {
            if integerDigits <= 19 {
                if !negative && significand <= UInt64(Int.max) { return .int(Int(significand)) }
                if negative && significand <= UInt64(Int.max) + 1 {
                    return .int(Int(truncatingIfNeeded: 0 &- significand))
                }
            }
            if integerDigits > 4300 { throw JSONParseFailure(.integerTooLong, at: start) }
            return .double(slowDouble(from: start))
        }
        if significantDigits == 0 { return .double(negative ? -0.0 : 0.0) }
        let scale = exponent - fractionDigits
        if significantDigits <= 19 && significand <= 1 << 53 && scale >= -22 && scale <= 22 {
            // Both factors are exact, so the one rounding gives the correctly rounded result.
            var value = Double(significand)
            value = scale < 0 ? value / exactPowersOfTen[-scale] : value * exactPowersOfTen[scale]
            return .double(negative ? -value : value)
        }
        return .double(slowDouble(from: start))
    }

    /// The correctly rounded value of the number from `start` to `index` (inf when it overflows).
    func slowDouble(from start: Int) -> Double {
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: index - start), as: UTF8.self)
        // The text is a JSON number, which the standard library always reads.
        return Double(text) ?? .nan
    }
}
