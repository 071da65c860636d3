import NIOCore

/// An ordered list of HTTP header fields.
///
/// Fields are kept in wire format (`name: value\r\n`) in one buffer with an index of offsets, so a
/// parsed request's headers are a slice of the bytes that arrived (nothing is copied or decoded
/// until asked for) and a response's headers are written to the socket with one copy. Names
/// compare case-insensitively. Values given to ``add(name:value:)`` that contain CR, LF or NUL
/// have those bytes replaced by spaces, so a header can never inject another line.
public struct HTTPHeaders: Sendable {
    @usableFromInline
    struct Field: Sendable {
        @usableFromInline var nameStart: Int32
        @usableFromInline var nameLength: Int32
        @usableFromInline var valueStart: Int32
        @usableFromInline var valueLength: Int32
    }

    @usableFromInline var storage: ByteBuffer
    @usableFromInline var fields: [Field]
    /// True while `storage` holds exactly the wire lines of `fields`, in order.
    @usableFromInline var isContiguous: Bool

    /// Creates an empty header list.
    public init() {
        self.storage = ByteBuffer()
        self.fields = []
        self.isContiguous = true
    }

    /// Creates a header list from name/value pairs.
    public init(_ pairs: [(String, String)]) {
        self.init()
        for (name, value) in pairs { add(name: name, value: value) }
    }

    /// Wraps already-validated wire bytes and their field offsets (used by the parsers).
    init(validatedStorage: ByteBuffer, fields: [Field]) {
        self.storage = validatedStorage
        self.fields = fields
        self.isContiguous = true
    }

    /// The number of fields.
    public var count: Int { fields.count }
    /// Whether there are no fields.
    public var isEmpty: Bool { fields.isEmpty }

    /// Appends a field, keeping any existing fields of the same name. An empty name adds nothing.
    public mutating func add(name: String, value: String) {
        guard !name.isEmpty else { return }
        if storage.capacity == 0 { storage = ByteBufferAllocator().buffer(capacity: 128) }
        let nameStart = storage.writerIndex - storage.readerIndex
        let nameLength = storage.writeString(name)
        sanitize(from: nameStart, length: nameLength, isName: true)
        storage.writeStaticString(": ")
        let valueStart = storage.writerIndex - storage.readerIndex
        let valueLength = storage.writeString(value)
        sanitize(from: valueStart, length: valueLength, isName: false)
        storage.writeStaticString("\r\n")
        fields.append(
            Field(
                nameStart: Int32(nameStart), nameLength: Int32(nameLength),
                valueStart: Int32(valueStart), valueLength: Int32(valueLength)))
    }

    /// Replaces every field called `name` with one field holding `value`.
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    /// Removes every field called `name`.
    public mutating func remove(name: String) {
        let before = fields.count
        var name = name
        name.withUTF8 { key in
            storage.withUnsafeReadableBytes { raw in
                fields.removeAll { Self.nameMatches($0, key, raw) }
            }
        }
        if fields.count != before { isContiguous = false }
    }

    /// The first value of the field called `name`, or nil.
    public subscript(name: String) -> String? {
        guard let index = firstIndex(of: name) else { return nil }
        return value(at: index)
    }

    /// Every value of the fields called `name`, in order.
    public func values(for name: String) -> [String] {
        var result: [String] = []
        var name = name
        name.withUTF8 { key in
            storage.withUnsafeReadableBytes { raw in
                for field in fields where Self.nameMatches(field, key, raw) {
                    result.append(Self.string(raw, Int(field.valueStart), Int(field.valueLength)))
                }
            }
        }
        return result
    }

    /// Whether a field called `name` is present.
    public func contains(_ name: String) -> Bool { firstIndex(of: name) != nil }

    /// Whether any value of the field `name`, read as a comma-separated list, has an element equal
    /// (case-insensitively) to `token`. Used for `Connection: close`, `Expect`, and similar.
    public func containsToken(_ token: String, in name: String) -> Bool {
        for value in values(for: name) {
            for element in value.split(separator: ",") {
                if element.trimmingSpaces().caseInsensitiveEquals(token) { return true }
            }
        }
        return false
    }

    /// The name of the field at `index`, as sent.
    public func name(at index: Int) -> String {
        storage.withUnsafeReadableBytes { Self.string($0, Int(fields[index].nameStart), Int(fields[index].nameLength)) }
    }

    /// The value of the field at `index`.
    public func value(at index: Int) -> String {
        storage.withUnsafeReadableBytes {
            Self.string($0, Int(fields[index].valueStart), Int(fields[index].valueLength))
        }
    }

    /// The index of the first field called `name`.
    public func firstIndex(of name: String) -> Int? {
        var name = name
        return name.withUTF8 { key in
            storage.withUnsafeReadableBytes { raw in
                fields.firstIndex { Self.nameMatches($0, key, raw) }
            }
        }
    }

    /// Writes the fields in wire format (`name: value\r\n` each) to `buffer`.
    @inlinable
    public func write(to buffer: inout ByteBuffer) {
        if isContiguous {
            buffer.writeImmutableBuffer(storage)
            return
        }
        storage.withUnsafeReadableBytes { raw in
            for field in fields {
                let start = Int(field.nameStart)
                let end = Int(field.valueStart) + Int(field.valueLength)
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                buffer.writeStaticString("\r\n")
            }
        }
    }

    @usableFromInline
    static func nameMatches(_ field: Field, _ key: UnsafeBufferPointer<UInt8>, _ raw: UnsafeRawBufferPointer) -> Bool {
        guard Int(field.nameLength) == key.count else { return false }
        let start = Int(field.nameStart)
        for i in 0..<key.count where asciiLower(raw[start + i]) != asciiLower(key[i]) { return false }
        return true
    }

    static func string(_ raw: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)]), as: UTF8.self)
    }

    private mutating func sanitize(from start: Int, length: Int, isName: Bool) {
        let base = storage.readerIndex + start
        for offset in 0..<length {
            let byte = storage.getInteger(at: base + offset, as: UInt8.self)!
            let valid = isName ? HTTPByteClass.isTokenByte(byte) : HTTPByteClass.isFieldValueByte(byte)
            if !valid { storage.setInteger(isName ? UInt8(ascii: "-") : UInt8(ascii: " "), at: base + offset) }
        }
    }
}

extension HTTPHeaders: Sequence {
    /// Iterates the fields as `(name, value)` pairs, in order.
    public func makeIterator() -> AnyIterator<(name: String, value: String)> {
        var index = 0
        return AnyIterator {
            guard index < self.fields.count else { return nil }
            defer { index += 1 }
            return (self.name(at: index), self.value(at: index))
        }
    }
}

extension HTTPHeaders: ExpressibleByDictionaryLiteral {
    /// Fields from a dictionary literal, in the order written.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }
}

extension HTTPHeaders: CustomStringConvertible {
    /// The fields as `Name: value` lines.
    public var description: String { map { "\($0.name): \($0.value)" }.joined(separator: "\n") }
}

@inlinable
func asciiLower(_ byte: UInt8) -> UInt8 {
    byte &+ ((byte &- 65) < 26 ? 32 : 0)
}

/// Byte classes from RFC 9110 §5.1 and §5.5.
package enum HTTPByteClass {
    /// `tchar`: the bytes allowed in tokens such as methods and field names.
    package static func isTokenByte(_ byte: UInt8) -> Bool { tokenTable[Int(byte)] }

    /// `field-vchar`, SP and HTAB: the bytes allowed in a field value (obs-text included).
    package static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
    }

    private static let tokenTable: [Bool] = (0..<256).map { value in
        let byte = UInt8(value)
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    package func trimmingSpaces() -> Substring {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return slice
    }

    /// ASCII case-insensitive equality.
    package func caseInsensitiveEquals(_ other: some StringProtocol) -> Bool {
        let a = self.utf8, b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { asciiLower($0) == asciiLower($1) }
    }
}

/// `value` as a JSON string literal (for the few JSON bodies the server writes itself).
package func jsonQuoted(_ value: String) -> String {
    var result = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case let s where s.value < 0x20:
            result += "\\u00" + (s.value < 0x10 ? "0" : "") + String(s.value, radix: 16)
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}
