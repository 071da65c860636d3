import Foundation
import NIOCore
import PostgresNIO

extension DB {
    /// Copies `rows` into `table` with `COPY … FROM STDIN` (text format), streaming them in
    /// chunks as they are encoded. Columns are the rows' coding keys (`unitPrice` goes to
    /// `unit_price` under the default column naming; rename with `CodingKeys`), and `nil` fields
    /// are `NULL`. Arrays of scalars fill array columns; other nested values are written as JSON
    /// (for `json`/`jsonb` columns). The table name is quoted as it is (no schema prefix: it is
    /// found on the `search_path`). Returns the number of rows copied. Any error aborts the
    /// whole copy: no row is kept.
    @discardableResult
    public func copyIn<Row: Encodable>(into table: String, rows: some Sequence<Row>) async throws -> Int {
        var iterator = rows.makeIterator()
        return try await copy(into: table, first: iterator.next()) { encoder in
            // Rows are encoded without suspending until a chunk is full.
            while encoder.buffer.readableBytes < CopyRowEncoder.chunkSize, let row = iterator.next() {
                try encoder.encodeRow(row)
            }
        }
    }

    /// Copies rows produced by an async sequence; see ``copyIn(into:rows:)-(_,Sequence<Row>)``.
    @discardableResult
    public func copyIn<Rows: AsyncSequence>(into table: String, rows: Rows) async throws -> Int
    where Rows.Element: Encodable {
        var iterator = rows.makeAsyncIterator()
        let first = try await iterator.next(isolation: #isolation)
        return try await copy(into: table, first: first) { encoder in
            while encoder.buffer.readableBytes < CopyRowEncoder.chunkSize,
                let row = try await iterator.next(isolation: #isolation)
            {
                try encoder.encodeRow(row)
            }
        }
    }

    /// Starts the copy once `first` has fixed the columns, then sends what `fill` encodes, a
    /// chunk at a time, until a call adds nothing.
    private func copy<Row: Encodable>(
        into table: String, first: Row?, fill: (CopyRowEncoder) async throws -> Void
    ) async throws -> Int {
        guard !table.isEmpty, !table.contains("\""), !table.contains("\0") else {
            throw DatabaseError(.encoding, "'\(table)' cannot be used as a COPY table name")
        }
        guard let first else { return 0 }
        let encoder = CopyRowEncoder(naming: database.configuration.columnNaming)
        try encoder.encodeRow(first)
        let connection = try await connection()
        do {
            try await connection.underlying.copyFrom(
                table: table, columns: encoder.columns ?? [], logger: database.logger
            ) { writer in
                while true {
                    try await fill(encoder)
                    guard encoder.buffer.readableBytes > 0 else { return }
                    try await writer.write(encoder.buffer)
                    encoder.buffer.clear()
                }
            }
        } catch {
            throw DatabaseError.wrap(error)
        }
        return encoder.rowCount
    }
}

/// Encodes rows as lines of `COPY` text: fields separated by tabs, `\N` for NULL, and
/// backslash, tab, newline and carriage return escaped. The first row fixes the columns (nil
/// fields count: `encodeIfPresent` writes `\N` rather than skipping the key).
final class CopyRowEncoder {
    // One task encodes with it at a time, and every field touches these: the runtime's
    // exclusivity checks cost about a fifth of a copy's time, so they are left out.
    @exclusivity(unchecked) var buffer = ByteBuffer()
    /// The column names, from the first row.
    @exclusivity(unchecked) private(set) var columns: [String]?
    private let naming: PostgresConfiguration.ColumnNaming
    @exclusivity(unchecked) private var learning: [String]?
    @exclusivity(unchecked) private var field = 0
    /// Rows encoded so far.
    @exclusivity(unchecked) private(set) var rowCount = 0

    /// How many bytes are encoded before they are sent.
    static let chunkSize = 256 * 1024

    init(naming: PostgresConfiguration.ColumnNaming) {
        self.naming = naming
    }

    func encodeRow(_ row: some Encodable) throws {
        rowCount += 1
        field = 0
        if columns == nil { learning = [] }
        try row.encode(to: FieldEncoder(row: self))
        if let learned = learning {
            columns = learned
            learning = nil
        }
        guard field == columns?.count else {
            throw DatabaseError(
                .encoding, "row \(rowCount) has \(field) fields; the copy has \(columns?.count ?? 0) columns")
        }
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    /// Starts the next field, named `key`.
    fileprivate func startField(_ key: String) throws {
        if learning != nil {
            learning!.append(naming == .snakeCaseToCamelCase ? Self.snakeCase(key) : key)
        } else if field >= columns!.count {
            throw DatabaseError(.encoding, "row \(rowCount) has more fields than the copy's \(columns!.count) columns")
        }
        if field > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
        field += 1
    }

    fileprivate func writeNull() { buffer.writeStaticString("\\N") }

    /// Text, escaped for COPY.
    fileprivate func writeText(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            guard bytes.contains(where: { $0 == UInt8(ascii: "\\") || $0 < 0x20 }) else {
                buffer.writeBytes(bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
                case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
                case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
                default: buffer.writeInteger(byte)
                }
            }
        }
    }

    /// A field's value, in the text form PostgreSQL reads for its type.
    fileprivate func writeValue<Value: Encodable>(_ value: Value) throws {
        switch value {
        case let value as String: writeText(value)
        case let value as Bool: buffer.writeStaticString(value ? "t" : "f")
        case let value as any BinaryInteger: buffer.writeString("\(value)")
        case let value as Double: writeFloatingPoint(value)
        case let value as Float: writeFloatingPoint(Double(value))
        case let value as UUID: buffer.writeString(value.uuidString)
        case let value as Date: buffer.writeString(Self.timestamp(value))
        case let value as Decimal: buffer.writeString(value.description)
        // Exact types: an empty array of anything would cast to [UInt8].
        case let value as Data where Value.self == Data.self: writeBytea(value)
        case let value as [UInt8] where Value.self == [UInt8].self: writeBytea(value)
        case let value as any EncodableOptional:
            if let wrapped = value.wrappedEncodable { try writeValue(wrapped) } else { writeNull() }
        case let elements as [any Encodable]:
            writeText(try Self.arrayLiteral(elements))
        case let value as any RawRepresentable:
            guard let raw = value.rawValue as? any Encodable else { fallthrough }
            try writeValue(raw)
        default:
            // Structs, arrays and dictionaries go to json or jsonb columns.
            do {
                writeText(String(decoding: try JSONEncoder().encode(value), as: UTF8.self))
            } catch {
                throw DatabaseError(.encoding, "row \(rowCount): cannot encode \(Value.self) as JSON: \(error)")
            }
        }
    }

    fileprivate func writeFloatingPoint(_ value: Double) {
        if value.isNaN {
            buffer.writeStaticString("NaN")
        } else if value.isInfinite {
            buffer.writeStaticString(value < 0 ? "-Infinity" : "Infinity")
        } else {
            buffer.writeString(value.description)
        }
    }

    /// An array column's text: `{1,2}`, `{"a b","c\\"d"}`, `{NULL}`, nested for arrays of arrays.
    static func arrayLiteral(_ elements: [any Encodable]) throws -> String {
        let items = try elements.map { element -> String in
            switch element {
            case let element as any EncodableOptional:
                guard let wrapped = element.wrappedEncodable else { return "NULL" }
                return try arrayLiteral([wrapped]).dropFirst().dropLast().description
            case let nested as [any Encodable]:
                return try arrayLiteral(nested)
            case let text as String:
                let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                return "\"\(escaped)\""
            case let flag as Bool:
                return flag ? "t" : "f"
            case let number as any BinaryInteger:
                return "\(number)"
            case let number as Double:
                return number.isNaN ? "NaN" : number.isInfinite ? (number < 0 ? "-Infinity" : "Infinity") : "\(number)"
            case let uuid as UUID:
                return uuid.uuidString
            default:
                throw DatabaseError(.encoding, "an array of \(type(of: element)) cannot be copied into an array column")
            }
        }
        return "{" + items.joined(separator: ",") + "}"
    }

    /// `bytea` in hex form; its backslash is escaped for COPY.
    private func writeBytea(_ bytes: some Collection<UInt8>) {
        buffer.writeStaticString("\\\\x")
        let digits = Array("0123456789abcdef".utf8)
        for byte in bytes {
            buffer.writeInteger(digits[Int(byte >> 4)])
            buffer.writeInteger(digits[Int(byte & 0xF)])
        }
    }

    /// `2024-05-01T12:00:00.123456Z`: microseconds, PostgreSQL's precision.
    static func timestamp(_ date: Date) -> String {
        var seconds = date.timeIntervalSince1970.rounded(.down)
        var micros = Int(((date.timeIntervalSince1970 - seconds) * 1_000_000).rounded())
        if micros == 1_000_000 {
            seconds += 1
            micros = 0
        }
        let whole = Date(timeIntervalSince1970: seconds).formatted(.iso8601)  // …T12:00:00Z
        let fraction = String(micros)
        return "\(whole.dropLast()).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)Z"
    }

    /// `unitPrice` → `unit_price`.
    static func snakeCase(_ key: String) -> String {
        var result = ""
        for character in key {
            if character.isUppercase, !result.isEmpty { result += "_" }
            result += character.lowercased()
        }
        return result
    }
}

/// The encoder a row's `encode(to:)` sees: one keyed container whose keys are the columns.
private struct FieldEncoder: Encoder {
    let row: CopyRowEncoder
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(FieldContainer(row: row))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        FailingContainer(row: row)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        FailingContainer(row: row)
    }
}

private struct FieldContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let row: CopyRowEncoder
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws {
        try row.startField(key.stringValue)
        row.writeNull()
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try row.startField(key.stringValue)
        try row.writeValue(value)
    }

    // The common types skip the dynamic casts of the generic path.
    mutating func encode(_ value: String, forKey key: Key) throws {
        try row.startField(key.stringValue)
        row.writeText(value)
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try plain(value ? "t" : "f", key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try plain(String(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try plain(String(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try plain(String(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try plain(String(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        try row.startField(key.stringValue)
        row.writeFloatingPoint(value)
    }

    private func plain(_ text: String, _ key: Key) throws {
        try row.startField(key.stringValue)
        row.buffer.writeString(text)
    }

    // Nil still fills its column, with NULL (the default implementations would skip the key).
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try encode(value, forKey: key) }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try present(value, key) }

    private mutating func present<T: Encodable>(_ value: T?, _ key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        KeyedEncodingContainer(FailingKeyedContainer(row: row))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { FailingContainer(row: row) }
    mutating func superEncoder() -> any Encoder { FieldEncoder(row: row) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { FieldEncoder(row: row) }
}

/// What a row that is not a flat keyed struct gets: an error naming the problem.
private struct FailingContainer: UnkeyedEncodingContainer, SingleValueEncodingContainer {
    let row: CopyRowEncoder
    var codingPath: [any CodingKey] { [] }
    var count: Int { 0 }

    private func fail() -> DatabaseError {
        DatabaseError(.encoding, "a COPY row must encode as a struct with one key per column")
    }

    mutating func encodeNil() throws { throw fail() }
    mutating func encode<T: Encodable>(_ value: T) throws { throw fail() }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(FailingKeyedContainer(row: row))
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { self }
    mutating func superEncoder() -> any Encoder { FieldEncoder(row: row) }
}

private struct FailingKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let row: CopyRowEncoder
    var codingPath: [any CodingKey] { [] }

    private func fail() -> DatabaseError {
        DatabaseError(.encoding, "a COPY row must encode as a struct with one key per column")
    }

    mutating func encodeNil(forKey key: Key) throws { throw fail() }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { throw fail() }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        KeyedEncodingContainer(FailingKeyedContainer<NestedKey>(row: row))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { FailingContainer(row: row) }
    mutating func superEncoder() -> any Encoder { FieldEncoder(row: row) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { FieldEncoder(row: row) }
}
