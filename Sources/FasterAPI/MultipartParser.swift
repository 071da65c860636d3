import FasterAPICore
import NIOCore

// Incremental `multipart/form-data` parsing (RFC 7578 on the RFC 2046 multipart grammar).
//
// The parser is a value type fed with byte chunks split anywhere; it yields part heads, body
// slices of the input (never copied byte by byte), part ends and the end of the body. Memory is
// bounded: at most `delimiter.count - 1` bytes of body are held back while it is not yet known
// whether they start a delimiter, and part headers are limited by `MultipartLimits`.

/// Limits applied while parsing a `multipart/form-data` body.
public struct MultipartLimits: Sendable {
    /// The largest header section one part may have, in bytes, counting line endings.
    public var maxPartHeaderBytes = 16 * 1024
    /// The largest number of parts one body may contain.
    public var maxParts = 1000

    /// Creates the default limits.
    public init() {}
}

/// The error thrown when a `multipart/form-data` body is malformed or exceeds a limit.
public struct MultipartError: Error, Sendable, Equatable {
    /// A human-readable description of what was wrong with the body.
    public let reason: String

    init(reason: String) {
        self.reason = reason
    }
}

/// The header section of one part of a `multipart/form-data` body.
public struct MultipartPartHead: Sendable {
    /// The part's header fields, in the order received.
    public var headers: [(name: String, value: String)]
    /// The form field name, from the `name` (or `name*`) parameter of `Content-Disposition`.
    public var name: String?
    /// The file name, from the `filename*` (preferred) or `filename` parameter of `Content-Disposition`.
    public var filename: String?
    /// The value of the part's `Content-Type` header, if any.
    public var contentType: String?

    /// Creates a part head from its header fields, deriving `name`, `filename` and `contentType`.
    public init(headers: [(name: String, value: String)]) {
        self.headers = headers
        self.contentType = Self.firstValue(of: "content-type", in: headers)
        guard let disposition = Self.firstValue(of: "content-disposition", in: headers) else { return }
        let parameters = HeaderValueParameters.parse(Array(disposition.utf8))
        self.name = parameters.extendedValue("name*") ?? parameters.value("name")
        self.filename = parameters.extendedValue("filename*") ?? parameters.value("filename")
    }

    /// Returns the value of the first header field called `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        Self.firstValue(of: name, in: headers)
    }

    private static func firstValue(of name: String, in headers: [(name: String, value: String)]) -> String? {
        headers.first(where: { $0.name.caseInsensitiveEquals(name) })?.value
    }
}

/// One step of a parsed `multipart/form-data` body.
enum MultipartEvent: Sendable {
    /// A part begins; its body follows as zero or more `.body` events.
    case partHead(MultipartPartHead)
    /// A slice of the current part's body.
    case body(ByteBuffer)
    /// The current part is complete.
    case partEnd
    /// The closing delimiter was seen; nothing follows.
    case end
}

/// An incremental `multipart/form-data` parser.
///
/// Feed input with `append(_:)`, then call `next()` until it returns `nil`; repeat. When the input
/// ends, call `finish()`, which throws unless the closing delimiter was seen. After an error the
/// parser keeps throwing the same error.
struct MultipartParser {
    private enum State {
        /// Nothing consumed yet: the first delimiter may appear without its leading CRLF.
        case start
        /// Discarding the preamble while looking for the first delimiter.
        case preamble
        /// Just past `--boundary`: expecting `--`, or transport padding and CRLF.
        case boundaryLine(sawPadding: Bool)
        /// Reading a part's header lines.
        case headers
        /// Emitting a part's body up to the next delimiter.
        case body
        /// After the closing delimiter: input is ignored.
        case epilogue
        /// A previous call threw this error.
        case failed(MultipartError)
    }

    private enum SearchResult {
        /// A whole delimiter starts at this offset of the readable bytes.
        case found(Int)
        /// No whole delimiter; this many leading bytes cannot be part of one.
        case notFound(safe: Int)
    }

    /// `CRLF "--" boundary`.
    private let delimiter: [UInt8]
    /// Boyer-Moore-Horspool shifts for `delimiter`, by byte value.
    private let shifts: [UInt8]
    private let limits: MultipartLimits
    private var state = State.start
    /// Unconsumed input.
    private var buffer = ByteBuffer()
    /// Held-back body bytes proven not to start a delimiter when the next chunk arrived; they
    /// are emitted before `buffer` so that chunk is taken as is rather than copied behind them.
    private var pendingBody: ByteBuffer?
    private var partCount = 0
    private var headerFields: [(name: String, value: String)] = []
    /// Header bytes of the current part consumed so far.
    private var headerBytes = 0
    /// Bytes of the current header line already searched for LF.
    private var scannedHeaderBytes = 0

    /// Creates a parser for a body whose parts are separated by `boundary`, typically the value
    /// returned by `boundary(fromContentType:)`.
    init(boundary: String, limits: MultipartLimits = MultipartLimits()) {
        let delimiter = Array("\r\n--\(boundary)".utf8)
        var shifts = [UInt8](repeating: UInt8(clamping: delimiter.count), count: 256)
        for index in 0..<(delimiter.count - 1) {
            shifts[Int(delimiter[index])] = UInt8(clamping: delimiter.count - 1 - index)
        }
        self.delimiter = delimiter
        self.shifts = shifts
        self.limits = limits
    }

    /// Extracts the `boundary` parameter from a `multipart/form-data` Content-Type value.
    ///
    /// Returns `nil` when the media type is not `multipart/form-data` or the boundary is missing
    /// or breaks RFC 2046 (1-70 characters from its `bchars` set, not ending in a space).
    static func boundary(fromContentType contentType: String) -> String? {
        let parameters = HeaderValueParameters.parse(Array(contentType.utf8))
        guard
            String(decoding: parameters.type, as: UTF8.self).caseInsensitiveEquals("multipart/form-data"),
            let boundary = parameters.rawValue("boundary"),
            (1...70).contains(boundary.count),
            boundary.last != UInt8(ascii: " "),
            boundary.allSatisfy(isBoundaryCharacter)
        else { return nil }
        return String(decoding: boundary, as: UTF8.self)
    }

    /// Feeds more input. Chunks may be split anywhere, even one byte at a time.
    mutating func append(_ chunk: ByteBuffer) {
        switch state {
        case .epilogue, .failed:
            return
        case .preamble, .body:
            if pendingBody == nil, buffer.readableBytes > 0, buffer.readableBytes < delimiter.count,
                chunk.readableBytes >= delimiter.count, !delimiterMayStartInBuffer(followedBy: chunk)
            {
                if case .body = state { pendingBody = buffer }
                buffer = chunk
                return
            }
        case .start, .boundaryLine, .headers:
            break
        }
        if buffer.readableBytes == 0 {
            buffer = chunk
        } else {
            if buffer.readerIndex > 0 { buffer.discardReadBytes() }
            var chunk = chunk
            buffer.writeBuffer(&chunk)
        }
    }

    /// Returns the next event, or `nil` when more input is needed (or the body has ended).
    mutating func next() throws(MultipartError) -> MultipartEvent? {
        if let body = pendingBody {
            pendingBody = nil
            return .body(body)
        }
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    /// Checks that the input ended after the closing delimiter.
    mutating func finish() throws(MultipartError) {
        switch state {
        case .epilogue:
            return
        case .failed(let error):
            throw error
        case .start, .preamble, .boundaryLine, .headers, .body:
            let error = MultipartError(reason: "multipart body ended before the closing boundary")
            state = .failed(error)
            throw error
        }
    }

    // MARK: - States

    private mutating func step() throws(MultipartError) -> MultipartEvent? {
        while true {
            switch state {
            case .start:
                let dashBoundaryCount = delimiter.count - 2
                let available = min(buffer.readableBytes, dashBoundaryCount)
                guard available > 0 else { return nil }
                let matches = buffer.withUnsafeReadableBytes { bytes in
                    delimiter.withUnsafeBufferPointer { needle in
                        (0..<available).allSatisfy { bytes[$0] == needle[$0 + 2] }
                    }
                }
                guard matches else {
                    state = .preamble
                    continue
                }
                guard available == dashBoundaryCount else { return nil }
                buffer.moveReaderIndex(forwardBy: dashBoundaryCount)
                state = .boundaryLine(sawPadding: false)

            case .preamble:
                switch search() {
                case .found(let offset):
                    buffer.moveReaderIndex(forwardBy: offset + delimiter.count)
                    state = .boundaryLine(sawPadding: false)
                case .notFound(let safe):
                    buffer.moveReaderIndex(forwardBy: safe)
                    return nil
                }

            case .boundaryLine(let sawPadding):
                if let event = try parseBoundaryLine(sawPadding: sawPadding) { return event }
                guard case .headers = state else { return nil }

            case .headers:
                guard let head = try parseHeaderLines() else { return nil }
                state = .body
                return .partHead(head)

            case .body:
                switch search() {
                case .found(0):
                    buffer.moveReaderIndex(forwardBy: delimiter.count)
                    state = .boundaryLine(sawPadding: false)
                    return .partEnd
                case .found(let offset):
                    return .body(buffer.readSlice(length: offset)!)
                case .notFound(0):
                    return nil
                case .notFound(let safe):
                    return .body(buffer.readSlice(length: safe)!)
                }

            case .epilogue:
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                return nil

            case .failed(let error):
                throw error
            }
        }
    }

    /// Handles the rest of a boundary line. Returns `.end` for the closing delimiter; otherwise
    /// moves to `.headers` once CRLF is read, or returns `nil` (still in `.boundaryLine`) for more input.
    private mutating func parseBoundaryLine(sawPadding: Bool) throws(MultipartError) -> MultipartEvent? {
        guard let first = byte(at: 0) else { return nil }
        if !sawPadding && first == UInt8(ascii: "-") {
            guard let second = byte(at: 1) else { return nil }
            guard second == UInt8(ascii: "-") else {
                throw MultipartError(reason: "invalid characters after multipart boundary")
            }
            state = .epilogue
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .end
        }
        var padding = 0
        while let byte = byte(at: padding), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
            padding += 1
        }
        buffer.moveReaderIndex(forwardBy: padding)
        state = .boundaryLine(sawPadding: sawPadding || padding > 0)
        guard let cr = byte(at: 0) else { return nil }
        guard cr == UInt8(ascii: "\r") else {
            throw MultipartError(reason: "invalid characters after multipart boundary")
        }
        guard let lf = byte(at: 1) else { return nil }
        guard lf == UInt8(ascii: "\n") else {
            throw MultipartError(reason: "invalid characters after multipart boundary")
        }
        buffer.moveReaderIndex(forwardBy: 2)
        guard partCount < limits.maxParts else {
            throw MultipartError(reason: "too many parts in multipart body")
        }
        partCount += 1
        headerFields = []
        headerBytes = 0
        scannedHeaderBytes = 0
        state = .headers
        return nil
    }

    /// Consumes complete header lines; returns the head once the empty line is read.
    private mutating func parseHeaderLines() throws(MultipartError) -> MultipartPartHead? {
        while true {
            let readable = buffer.readableBytes
            let start = scannedHeaderBytes
            let lineFeed = buffer.withUnsafeReadableBytes { bytes in
                bytes[start...].firstIndex(of: UInt8(ascii: "\n"))
            }
            guard let lineFeed else {
                guard headerBytes + readable <= limits.maxPartHeaderBytes else {
                    throw MultipartError(reason: "multipart part headers too large")
                }
                scannedHeaderBytes = readable
                return nil
            }
            let lineLength = lineFeed + 1
            guard headerBytes + lineLength <= limits.maxPartHeaderBytes else {
                throw MultipartError(reason: "multipart part headers too large")
            }
            guard lineFeed > 0, byte(at: lineFeed - 1) == UInt8(ascii: "\r") else {
                throw MultipartError(reason: "bare LF in multipart part headers")
            }
            headerBytes += lineLength
            scannedHeaderBytes = 0
            if lineFeed == 1 {
                buffer.moveReaderIndex(forwardBy: 2)
                let head = MultipartPartHead(headers: headerFields)
                headerFields = []
                return head
            }
            let field = buffer.withUnsafeReadableBytes { bytes in
                Self.parseHeaderField(UnsafeRawBufferPointer(rebasing: bytes[0..<(lineFeed - 1)]))
            }
            headerFields.append(try field.get())
            buffer.moveReaderIndex(forwardBy: lineLength)
        }
    }

    /// Parses `name ":" OWS value OWS` (the line without its CRLF).
    private static func parseHeaderField(
        _ line: UnsafeRawBufferPointer
    ) -> Result<(name: String, value: String), MultipartError> {
        if line[0] == UInt8(ascii: " ") || line[0] == UInt8(ascii: "\t") {
            return .failure(MultipartError(reason: "obsolete line folding in multipart part headers"))
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
            line[0..<colon].allSatisfy(HTTPByteClass.isTokenByte)
        else {
            return .failure(MultipartError(reason: "invalid multipart part header line"))
        }
        var valueStart = colon + 1
        var valueEnd = line.count
        while valueStart < valueEnd, line[valueStart] == UInt8(ascii: " ") || line[valueStart] == UInt8(ascii: "\t") {
            valueStart += 1
        }
        while valueEnd > valueStart,
            line[valueEnd - 1] == UInt8(ascii: " ") || line[valueEnd - 1] == UInt8(ascii: "\t")
        {
            valueEnd -= 1
        }
        let value = line[valueStart..<valueEnd]
        guard value.allSatisfy({ $0 == UInt8(ascii: "\t") || ($0 >= 0x20 && $0 != 0x7F) }) else {
            return .failure(MultipartError(reason: "invalid character in multipart part header value"))
        }
        return .success(
            (
                name: String(decoding: line[0..<colon], as: UTF8.self),
                value: String(decoding: value, as: UTF8.self)
            )
        )
    }

    // MARK: - Delimiter search

    private func byte(at offset: Int) -> UInt8? {
        buffer.getInteger(at: buffer.readerIndex + offset, as: UInt8.self)
    }

    /// Finds the first whole delimiter in the readable bytes (Boyer-Moore-Horspool); when there
    /// is none, reports how many leading bytes cannot begin one, so the rest is held back.
    private func search() -> SearchResult {
        buffer.withUnsafeReadableBytes { haystack in
            delimiter.withUnsafeBufferPointer { needle in
                shifts.withUnsafeBufferPointer { shifts in
                    Self.search(haystack, needle: needle, shifts: shifts)
                }
            }
        }
    }

    private static func search(
        _ haystack: UnsafeRawBufferPointer,
        needle: UnsafeBufferPointer<UInt8>,
        shifts: UnsafeBufferPointer<UInt8>
    ) -> SearchResult {
        let count = haystack.count
        let last = needle.count - 1
        let lastByte = needle[last]
        var position = 0
        while position + last < count {
            let byte = haystack[position + last]
            if byte == lastByte {
                var matched = 0
                while matched < last, haystack[position + matched] == needle[matched] { matched += 1 }
                if matched == last { return .found(position) }
            }
            position += Int(shifts[Int(byte)])
        }
        // Hold back the longest tail that is a proper prefix of the delimiter.
        var start = max(0, count - last)
        while start < count {
            var matched = 0
            while start + matched < count, haystack[start + matched] == needle[matched] { matched += 1 }
            if start + matched == count { return .notFound(safe: start) }
            start += 1
        }
        return .notFound(safe: count)
    }

    /// Whether a delimiter could begin at any offset of the (short) buffered bytes, given that
    /// `chunk` follows them. `chunk` must hold at least `delimiter.count` bytes.
    private func delimiterMayStartInBuffer(followedBy chunk: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { tail in
            chunk.withUnsafeReadableBytes { head in
                delimiter.withUnsafeBufferPointer { needle in
                    for start in 0..<tail.count {
                        let inTail = tail.count - start
                        var matched = 0
                        while matched < inTail, tail[start + matched] == needle[matched] { matched += 1 }
                        guard matched == inTail else { continue }
                        while matched < needle.count, head[matched - inTail] == needle[matched] { matched += 1 }
                        if matched == needle.count { return true }
                    }
                    return false
                }
            }
        }
    }

    /// RFC 2046 `bchars`.
    private static func isBoundaryCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            true
        case UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "+"), UInt8(ascii: "_"),
            UInt8(ascii: ","), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ":"),
            UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: " "):
            true
        default:
            false
        }
    }
}

/// A header value of the form `type *( ";" name "=" ( token / quoted-string ) )`, as used by
/// `Content-Type` and `Content-Disposition`. Parsing is lenient: unquoted values run to the next
/// `;`, and a parameter without `=` is skipped.
struct HeaderValueParameters {
    /// The leading value (media type or disposition type), trimmed.
    var type: ArraySlice<UInt8>
    /// Parameters in order, names lowercased, quoted-string values unescaped.
    var parameters: [(name: String, value: [UInt8])]

    /// Parses a whole header value; never fails, skipping what it cannot read.
    static func parse(_ bytes: [UInt8]) -> HeaderValueParameters {
        var index = 0
        let end = bytes.count
        func skipWhitespace() {
            while index < end, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
        }
        func trimmedEnd(from start: Int, to stop: Int) -> Int {
            var stop = stop
            while stop > start, bytes[stop - 1] == UInt8(ascii: " ") || bytes[stop - 1] == UInt8(ascii: "\t") {
                stop -= 1
            }
            return stop
        }
        skipWhitespace()
        let typeStart = index
        while index < end, bytes[index] != UInt8(ascii: ";") { index += 1 }
        let type = bytes[typeStart..<trimmedEnd(from: typeStart, to: index)]
        var parameters: [(name: String, value: [UInt8])] = []
        while index < end {
            index += 1  // ";"
            skipWhitespace()
            let nameStart = index
            while index < end, bytes[index] != UInt8(ascii: "="), bytes[index] != UInt8(ascii: ";") { index += 1 }
            let nameEnd = trimmedEnd(from: nameStart, to: index)
            guard index < end, bytes[index] == UInt8(ascii: "=") else { continue }
            let name = String(decoding: bytes[nameStart..<nameEnd], as: UTF8.self).lowercased()
            index += 1  // "="
            skipWhitespace()
            var value: [UInt8] = []
            if index < end, bytes[index] == UInt8(ascii: "\"") {
                index += 1
                while index < end {
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "\\"), index + 1 < end {
                        value.append(bytes[index + 1])
                        index += 2
                    } else if byte == UInt8(ascii: "\"") {
                        index += 1
                        break
                    } else {
                        value.append(byte)
                        index += 1
                    }
                }
                while index < end, bytes[index] != UInt8(ascii: ";") { index += 1 }
            } else {
                let valueStart = index
                while index < end, bytes[index] != UInt8(ascii: ";") { index += 1 }
                value = Array(bytes[valueStart..<trimmedEnd(from: valueStart, to: index)])
            }
            if !name.isEmpty { parameters.append((name: name, value: value)) }
        }
        return HeaderValueParameters(type: type, parameters: parameters)
    }

    /// The raw bytes of the first parameter called `name` (lowercase).
    func rawValue(_ name: String) -> [UInt8]? {
        parameters.first(where: { $0.name == name })?.value
    }

    /// The first parameter called `name` (lowercase), decoded as UTF-8.
    func value(_ name: String) -> String? {
        rawValue(name).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The first RFC 5987 extended parameter called `name` (lowercase, ending in `*`), decoded
    /// from `charset'language'percent-encoded` with charset UTF-8 or ISO-8859-1; `nil` when absent
    /// or undecodable.
    func extendedValue(_ name: String) -> String? {
        guard let raw = rawValue(name),
            let firstQuote = raw.firstIndex(of: UInt8(ascii: "'")),
            let secondQuote = raw[(firstQuote + 1)...].firstIndex(of: UInt8(ascii: "'")),
            let decoded = FormURLEncoded.percentDecodeBytes(raw[(secondQuote + 1)...])
        else { return nil }
        let charset = String(decoding: raw[..<firstQuote], as: UTF8.self)
        if charset.caseInsensitiveEquals("utf-8") {
            return String(decoding: decoded, as: UTF8.self)
        }
        if charset.caseInsensitiveEquals("iso-8859-1") {
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: decoded.map { Unicode.Scalar($0) })
            return String(scalars)
        }
        return nil
    }

}
