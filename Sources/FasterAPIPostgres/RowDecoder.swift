import Foundation
import NIOCore
import PostgresNIO

/// Where each column of a result is, under every name a `Decodable` key may use for it. Worked
/// out once per result shape (a prepared statement keeps its map), not once per row.
struct ColumnMap: Equatable, Sendable {
    let names: [String]
    private let indexByName: [String: Int]

    init(names: [String], naming: PostgresConfiguration.ColumnNaming) {
        self.names = names
        var indexByName: [String: Int] = [:]
        for (index, name) in names.enumerated() where indexByName[name] == nil {
            indexByName[name] = index
        }
        if naming == .snakeCaseToCamelCase {
            for (index, name) in names.enumerated() {
                let camel = Self.camelCase(name)
                if indexByName[camel] == nil { indexByName[camel] = index }
            }
        }
        self.indexByName = indexByName
    }

    init(_ row: PostgresRow, naming: PostgresConfiguration.ColumnNaming) {
        self.init(names: row.map(\.columnName), naming: naming)
    }

    func index(of key: String) -> Int? { indexByName[key] }

    /// `unit_price` → `unitPrice`; leading and doubled underscores are kept as they are.
    static func camelCase(_ name: String) -> String {
        guard name.contains("_") else { return name }
        var result = ""
        var upperNext = false
        for character in name {
            if character == "_", !result.isEmpty, !upperNext {
                upperNext = true
            } else if upperNext {
                result += character == "_" ? "_" : character.uppercased()
                upperNext = character == "_" ? upperNext : false
            } else {
                result.append(character)
            }
        }
        return upperNext ? result + "_" : result
    }
}

/// Decodes a row into a `Decodable` type by column name.
struct RowDecoder: Decoder {
    let row: PostgresRandomAccessRow
    let columns: ColumnMap
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(RowContainer<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DatabaseError(.decoding, "a row decodes into a struct with keys, not into an array")
    }

    /// A one-column row decodes as its single value.
    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        guard row.count == 1 else {
            throw DatabaseError(.decoding, "a row of \(row.count) columns cannot decode as a single value")
        }
        return CellDecoder(cell: row[0])
    }

    func cell(for key: some CodingKey) throws -> PostgresCell {
        guard let index = columns.index(of: key.stringValue) else {
            throw DatabaseError(
                .decoding,
                "the result has no column for '\(key.stringValue)' (columns: \(columns.names.joined(separator: ", ")))")
        }
        return row[index]
    }
}

private struct RowContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: RowDecoder
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { decoder.columns.names.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { decoder.columns.index(of: key.stringValue) != nil }
    func decodeNil(forKey key: Key) throws -> Bool { try decoder.cell(for: key).bytes == nil }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try CellDecoder.decode(T.self, from: decoder.cell(for: key))
    }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try native(key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try native(key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try native(key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try native(key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try native(key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try narrowed(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try native(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try native(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try native(key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try narrowed(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try narrowed(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try narrowed(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try narrowed(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try narrowed(key) }

    private func native<T: PostgresDecodable>(_ key: Key) throws -> T {
        try CellDecoder.native(T.self, from: decoder.cell(for: key))
    }

    private func narrowed<T: FixedWidthInteger>(_ key: Key) throws -> T {
        try CellDecoder.narrowed(T.self, from: decoder.cell(for: key))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        throw DatabaseError(.decoding, "column '\(key.stringValue)' is one value; decode it as json or jsonb")
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw DatabaseError(.decoding, "column '\(key.stringValue)' is one value; decode arrays from array columns")
    }
    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { CellDecoder(cell: try decoder.cell(for: key)) }
}

/// Decodes one column's value: natively for the types PostgresNIO reads, from JSON for `json`
/// and `jsonb` columns, and through `init(from:)` for the rest (`String`-backed enums and other
/// single-value types).
struct CellDecoder: Decoder, SingleValueDecodingContainer {
    let cell: PostgresCell
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func decode<T: Decodable>(_ type: T.Type, from cell: PostgresCell) throws -> T {
        if cell.dataType == .json || cell.dataType == .jsonb, var bytes = cell.bytes {
            if cell.dataType == .jsonb, cell.format == .binary { bytes.moveReaderIndex(forwardBy: 1) }  // version byte
            do {
                return try JSONDecoder().decode(T.self, from: Data(bytes.readableBytesView))
            } catch {
                throw DatabaseError(.decoding, "column '\(cell.columnName)' holds JSON that is not a \(T.self): \(error)")
            }
        }
        if let native = T.self as? any PostgresDecodable.Type {
            return try Self.native(native, from: cell) as! T
        }
        return try T(from: CellDecoder(cell: cell))
    }

    static func native<T: PostgresDecodable>(_ type: T.Type, from cell: PostgresCell) throws -> T {
        do {
            return try cell.decode(T.self)
        } catch let error as PostgresDecodingError {
            throw DatabaseError(decoding: error)
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        throw DatabaseError(.decoding, "column '\(cell.columnName)' is one value; decode it as json or jsonb")
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DatabaseError(.decoding, "column '\(cell.columnName)' is one value; decode arrays from array columns")
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { cell.bytes == nil }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try Self.decode(T.self, from: cell) }
    func decode(_ type: Bool.Type) throws -> Bool { try Self.native(Bool.self, from: cell) }
    func decode(_ type: String.Type) throws -> String { try Self.native(String.self, from: cell) }
    func decode(_ type: Double.Type) throws -> Double { try Self.native(Double.self, from: cell) }
    func decode(_ type: Float.Type) throws -> Float { try Self.native(Float.self, from: cell) }
    func decode(_ type: Int.Type) throws -> Int { try Self.native(Int.self, from: cell) }
    func decode(_ type: Int8.Type) throws -> Int8 { try Self.narrowed(Int8.self, from: cell) }
    func decode(_ type: Int16.Type) throws -> Int16 { try Self.native(Int16.self, from: cell) }
    func decode(_ type: Int32.Type) throws -> Int32 { try Self.native(Int32.self, from: cell) }
    func decode(_ type: Int64.Type) throws -> Int64 { try Self.native(Int64.self, from: cell) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try Self.narrowed(UInt8.self, from: cell) }
    func decode(_ type: UInt.Type) throws -> UInt { try Self.narrowed(UInt.self, from: cell) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try Self.narrowed(UInt16.self, from: cell) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try Self.narrowed(UInt32.self, from: cell) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try Self.narrowed(UInt64.self, from: cell) }

    /// Integers PostgreSQL has no type for (`Int8`, unsigned): read as an integer column, then
    /// range-checked.
    static func narrowed<T: FixedWidthInteger>(_ type: T.Type, from cell: PostgresCell) throws -> T {
        let value = try native(Int64.self, from: cell)
        guard let result = T(exactly: value) else {
            throw DatabaseError(.decoding, "column '\(cell.columnName)' holds \(value), out of range for \(T.self)")
        }
        return result
    }
}
