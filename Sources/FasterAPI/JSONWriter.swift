import Foundation
import NIOCore
import NIOPosix

/// A JSON encoder that writes straight into a `ByteBuffer`.
///
/// Keys keep their declaration order (as FastAPI's responses do), `nil` optionals are written as
/// `null` rather than dropped, dates are ISO 8601 strings, `Data` is base64 and non-finite
/// numbers are an error. No intermediate tree is built: containers are written as they are used
/// and closed when their parent is written to again or the value ends. The rare value that writes
/// to a container after its parent moved on is encoded again with Foundation's `JSONEncoder`
/// (whose output leaves nil optionals out and does not keep key order).
public enum JSONWriter {
    /// Appends the JSON for `value` to `buffer`.
    public static func encode<T: Encodable>(_ value: T, into buffer: inout ByteBuffer) throws {
        let start = buffer.writerIndex
        let state = WriterState.acquire(buffer: buffer)
        buffer = ByteBuffer()  // hand the storage to the state so writes do not copy it
        defer { buffer = state.release() }
        try state.encodeValue(value, depth: 0)
        state.close(to: 0)
        if state.outOfOrder {
            state.buffer.moveWriterIndex(to: start)
            state.buffer.writeBytes(try fallbackEncoder.encode(value))
        }
    }

    private static let fallbackEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    /// The JSON for `value` in a new buffer.
    public static func encode<T: Encodable>(_ value: T, initialCapacity: Int = 256) throws -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: initialCapacity)
        try encode(value, into: &buffer)
        return buffer
    }

    /// The JSON for `value` as text.
    public static func string<T: Encodable>(_ value: T) throws -> String {
        String(buffer: try encode(value))
    }
}

final class WriterState: @unchecked Sendable {
    // Sendable: a state is used by one encode call at a time, on the thread that acquired it (the
    // per-thread cache hands it out only while `inUse` is false).
    var buffer: ByteBuffer
    private var inUse = false

    /// One reusable state per thread, so encoding a response allocates no writer state.
    private static let cache = ThreadSpecificVariable<WriterState>()

    /// A state writing into `buffer`: this thread's cached one when free, else a new one.
    static func acquire(buffer: ByteBuffer) -> WriterState {
        if let cached = cache.currentValue, !cached.inUse {
            cached.reset(buffer)
            return cached
        }
        let state = WriterState(buffer: buffer)
        state.inUse = true
        if cache.currentValue == nil { cache.currentValue = state }
        return state
    }

    /// Hands back the written buffer and frees the state for the next encode on this thread.
    func release() -> ByteBuffer {
        let written = buffer
        buffer = Self.empty
        inUse = false
        return written
    }

    private static let empty = ByteBuffer()

    private func reset(_ buffer: ByteBuffer) {
        self.buffer = buffer
        stack.removeAll(keepingCapacity: true)
        nextID = 0
        outOfOrder = false
        inUse = true
    }
    /// Open containers, innermost last: whether each is an object, how many members it has, and
    /// its identity.
    private var stack: [(isObject: Bool, count: Int, id: Int)] = []
    private var nextID = 0
    /// Set when a closed container was written to: the output is then redone another way.
    private(set) var outOfOrder = false

    init(buffer: ByteBuffer) {
        self.buffer = buffer
        stack.reserveCapacity(8)
    }

    var depth: Int { stack.count }

    /// Closes containers deeper than `level`.
    func close(to level: Int) {
        while stack.count > level {
            buffer.writeInteger(stack.removeLast().isObject ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }
    }

    /// Opens a container and returns its identity.
    @discardableResult
    func open(isObject: Bool) -> Int {
        buffer.writeInteger(isObject ? UInt8(ascii: "{") : UInt8(ascii: "["))
        nextID += 1
        stack.append((isObject, 0, nextID))
        return nextID
    }

    /// The identity of the container open at `level`.
    func id(at level: Int) -> Int { stack[level - 1].id }

    /// Starts a member of the container `id` at `level`: closes deeper containers, writes the
    /// separator and, for objects, the key. Returns false if that container is already closed.
    @discardableResult
    func slot(level: Int, id: Int, key: String?) -> Bool {
        guard level <= stack.count, stack[level - 1].id == id else {
            outOfOrder = true
            return false
        }
        close(to: level)
        if stack[level - 1].count > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
        stack[level - 1].count += 1
        if let key {
            writeString(key)
            buffer.writeInteger(UInt8(ascii: ":"))
        }
        return true
    }

    /// Writes a JSON tree directly (no encoder containers: a tree is written whole).
    func writeJSON(_ value: JSONValue) throws {
        switch value {
        case .null: buffer.writeStaticString("null")
        case .bool(let flag): buffer.writeStaticString(flag ? "true" : "false")
        case .int(let number): writeInteger(number)
        case .double(let number): try writeFloat(number, codingPath: [])
        case .string(let text): writeString(text)
        case .array(let values):
            buffer.writeInteger(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                try writeJSON(element)
            }
            buffer.writeInteger(UInt8(ascii: "]"))
        case .object(let object):
            buffer.writeInteger(UInt8(ascii: "{"))
            for (index, member) in object.members.enumerated() {
                if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                writeString(member.key)
                buffer.writeInteger(UInt8(ascii: ":"))
                try writeJSON(member.value)
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        }
    }

    func writeString(_ string: String) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var needsEscaping = false
        for byte in string.utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            needsEscaping = true
            break
        }
        if !needsEscaping {
            buffer.writeString(string)
        } else {
            for byte in string.utf8 {
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
                case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
                case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
                case 0..<0x20:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(hex[Int(byte >> 4)])
                    buffer.writeInteger(hex[Int(byte & 0xF)])
                default: buffer.writeInteger(byte)
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    func writeInteger<T: FixedWidthInteger>(_ value: T) {
        if value >= 0 && value < 10 {
            buffer.writeInteger(UInt8(48) + UInt8(truncatingIfNeeded: value))
        } else {
            buffer.writeString(String(value))
        }
    }

    /// Writes a finite number in its shortest round-tripping form for its own precision.
    func writeFloat<F: BinaryFloatingPoint & LosslessStringConvertible>(
        _ value: F, codingPath: @autoclosure () -> [any CodingKey]
    ) throws {
        guard value.isFinite else {
            throw EncodingError.invalidValue(
                value, .init(codingPath: codingPath(), debugDescription: "JSON has no representation for \(value)"))
        }
        buffer.writeString(value.description)
    }

    private static let iso8601 = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// Writes any value; `depth` is the level of the container the value sits in.
    func encodeValue<T: Encodable>(_ value: T, depth: Int) throws {
        // Compare metadata rather than casting: a failed dynamic cast per value is costly.
        if T.self == String.self {
            writeString(value as! String)
        } else if T.self == Int.self {
            writeInteger(value as! Int)
        } else if T.self == Double.self {
            try writeFloat(value as! Double, codingPath: [])
        } else if T.self == Bool.self {
            buffer.writeStaticString(value as! Bool ? "true" : "false")
        } else if T.self == Date.self {
            writeString(Self.iso8601.format(value as! Date))
        } else if T.self == Data.self {
            writeString((value as! Data).base64EncodedString())
        } else if T.self == URL.self {
            writeString((value as! URL).absoluteString)
        } else if T.self == Decimal.self {
            buffer.writeString((value as! Decimal).description)
        } else if T.self == JSONValue.self {
            try writeJSON(value as! JSONValue)
        } else {
            let start = buffer.writerIndex
            let encoder = StreamingEncoder(state: self, depth: depth)
            try value.encode(to: encoder)
            close(to: depth)
            // A value that wrote nothing is an empty object (as Foundation's encoder does it).
            if buffer.writerIndex == start { buffer.writeStaticString("{}") }
        }
    }
}

/// The `Encoder` handed to `Encodable` values; `depth` is the level its containers open at.
/// Two words, so passing it as `any Encoder` needs no allocation (the coding path is not kept).
struct StreamingEncoder: Encoder {
    let state: WriterState
    let depth: Int
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedWriter<Key>(state: state, level: depth + 1, id: openIfNeeded(isObject: true)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedWriter(state: state, level: depth + 1, id: openIfNeeded(isObject: false))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueWriter(state: state, depth: depth)
    }

    /// Opens this encoder's container unless it is already open (a class and its superclass
    /// encode into the same container); returns its identity.
    private func openIfNeeded(isObject: Bool) -> Int {
        if state.depth > depth {
            state.close(to: depth + 1)
            return state.id(at: depth + 1)
        }
        return state.open(isObject: isObject)
    }
}

struct KeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: WriterState
    let level: Int
    let id: Int
    var codingPath: [any CodingKey] { [] }

    /// Starts the member `key`; false if this container was closed (the output is redone).
    private func member(_ key: some CodingKey) -> Bool { state.slot(level: level, id: id, key: key.stringValue) }

    func encodeNil(forKey key: Key) throws {
        guard member(key) else { return }
        state.buffer.writeStaticString("null")
    }
    func encode(_ value: Bool, forKey key: Key) throws {
        guard member(key) else { return }
        state.buffer.writeStaticString(value ? "true" : "false")
    }
    func encode(_ value: String, forKey key: Key) throws {
        guard member(key) else { return }
        state.writeString(value)
    }
    func encode(_ value: Double, forKey key: Key) throws {
        guard member(key) else { return }
        try state.writeFloat(value, codingPath: [key])
    }
    func encode(_ value: Float, forKey key: Key) throws {
        guard member(key) else { return }
        try state.writeFloat(value, codingPath: [key])
    }
    func encode(_ value: Int, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: Int8, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: Int16, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: Int32, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: Int64, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt8, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt16, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt32, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt64, forKey key: Key) throws { try integer(value, key) }

    private func integer<T: FixedWidthInteger>(_ value: T, _ key: Key) throws {
        guard member(key) else { return }
        state.writeInteger(value)
    }

    func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        guard member(key) else { return }
        try state.encodeValue(value, depth: level)
    }

    // Optionals are written as null, not left out, like FastAPI's responses.
    func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent(_ value: String?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try optional(value, key) }
    func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try optional(value, key) }

    private func optional<T: Encodable>(_ value: T?, _ key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        guard member(key) else {
            return KeyedEncodingContainer(KeyedWriter<NestedKey>(state: state, level: level + 1, id: -1))
        }
        return KeyedEncodingContainer(
            KeyedWriter<NestedKey>(state: state, level: level + 1, id: state.open(isObject: true)))
    }

    func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        guard member(key) else { return UnkeyedWriter(state: state, level: level + 1, id: -1) }
        return UnkeyedWriter(state: state, level: level + 1, id: state.open(isObject: false))
    }

    func superEncoder() -> any Encoder {
        state.slot(level: level, id: id, key: "super")
        return StreamingEncoder(state: state, depth: level)
    }

    func superEncoder(forKey key: Key) -> any Encoder {
        _ = member(key)
        return StreamingEncoder(state: state, depth: level)
    }
}

struct UnkeyedWriter: UnkeyedEncodingContainer {
    let state: WriterState
    let level: Int
    let id: Int
    var codingPath: [any CodingKey] { [] }
    private(set) var count = 0

    init(state: WriterState, level: Int, id: Int) {
        self.state = state
        self.level = level
        self.id = id
    }

    /// Starts the next element; false if this container was closed (the output is redone).
    private func element() -> Bool { state.slot(level: level, id: id, key: nil) }

    mutating func encodeNil() throws {
        guard element() else { return }
        state.buffer.writeStaticString("null")
        count += 1
    }
    mutating func encode(_ value: Bool) throws {
        guard element() else { return }
        state.buffer.writeStaticString(value ? "true" : "false")
        count += 1
    }
    mutating func encode(_ value: String) throws {
        guard element() else { return }
        state.writeString(value)
        count += 1
    }
    mutating func encode(_ value: Int) throws {
        guard element() else { return }
        state.writeInteger(value)
        count += 1
    }
    mutating func encode(_ value: Double) throws {
        guard element() else { return }
        try state.writeFloat(value, codingPath: [])
        count += 1
    }
    mutating func encode<T: Encodable>(_ value: T) throws {
        guard element() else { return }
        try state.encodeValue(value, depth: level)
        count += 1
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<
        NestedKey
    > {
        count += 1
        guard element() else {
            return KeyedEncodingContainer(KeyedWriter<NestedKey>(state: state, level: level + 1, id: -1))
        }
        return KeyedEncodingContainer(
            KeyedWriter<NestedKey>(state: state, level: level + 1, id: state.open(isObject: true)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        count += 1
        guard element() else { return UnkeyedWriter(state: state, level: level + 1, id: -1) }
        return UnkeyedWriter(state: state, level: level + 1, id: state.open(isObject: false))
    }

    mutating func superEncoder() -> any Encoder {
        count += 1
        _ = element()
        return StreamingEncoder(state: state, depth: level)
    }
}

struct SingleValueWriter: SingleValueEncodingContainer {
    let state: WriterState
    let depth: Int
    var codingPath: [any CodingKey] { [] }

    func encodeNil() throws { state.buffer.writeStaticString("null") }
    func encode(_ value: Bool) throws { state.buffer.writeStaticString(value ? "true" : "false") }
    func encode(_ value: String) throws { state.writeString(value) }
    func encode(_ value: Double) throws { try state.writeFloat(value, codingPath: codingPath) }
    func encode(_ value: Float) throws { try state.writeFloat(value, codingPath: codingPath) }
    func encode(_ value: Int) throws { state.writeInteger(value) }
    func encode(_ value: Int8) throws { state.writeInteger(value) }
    func encode(_ value: Int16) throws { state.writeInteger(value) }
    func encode(_ value: Int32) throws { state.writeInteger(value) }
    func encode(_ value: Int64) throws { state.writeInteger(value) }
    func encode(_ value: UInt) throws { state.writeInteger(value) }
    func encode(_ value: UInt8) throws { state.writeInteger(value) }
    func encode(_ value: UInt16) throws { state.writeInteger(value) }
    func encode(_ value: UInt32) throws { state.writeInteger(value) }
    func encode(_ value: UInt64) throws { state.writeInteger(value) }
    func encode<T: Encodable>(_ value: T) throws { try state.encodeValue(value, depth: depth) }
}
