import Foundation
import NIOCore
import PostgresNIO

/// A statement and its parameters. Every interpolated value becomes a bound parameter (`$1`,
/// `$2`…), never text spliced into the SQL, so user input cannot change the statement:
///
/// ```swift
/// let sql: SQL = "SELECT id, name FROM items WHERE owner = \(userID) AND name ILIKE \(pattern)"
/// ```
///
/// Values PostgreSQL knows natively (integers, floating point, `String`, `Bool`, `UUID`,
/// `Date`, `Decimal`, `Data` and `ByteBuffer` as `bytea`, and arrays of these) bind as their own types; optionals bind
/// `NULL` when nil; `String`- or integer-backed enums bind their raw value; any other
/// `Encodable` binds as `jsonb`. Fragments compose (`\(filter)` where `filter` is a `SQL`), and
/// identifiers are quoted with `\(identifier: column)`.
public struct SQL: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The statement text, with `$n` placeholders.
    public private(set) var text: String
    /// The parameters, encoded, in placeholder order.
    private(set) var parameters: [Parameter] = []
    /// Where each parameter's placeholder starts in `text` (UTF-8 offsets).
    private var placeholders: [Int] = []
    /// A parameter that could not be encoded: thrown when the statement runs.
    private(set) var encodingError: DatabaseError?

    /// Statement text with no parameters.
    public init(stringLiteral value: String) { text = value }

    /// Trusted statement text, used as it is: never pass it user input.
    public init(unsafeSQL text: String) { self.text = text }

    /// A statement built by interpolation.
    public init(stringInterpolation: StringInterpolation) { self = stringInterpolation.sql }

    /// The text, with parameters shown as their placeholders.
    public var description: String { text }

    /// Appends a fragment, renumbering its placeholders (only those: `$1` in a string literal,
    /// a dollar-quoted body or an identifier is left alone).
    public mutating func append(_ fragment: SQL) {
        encodingError = encodingError ?? fragment.encodingError
        let base = text.utf8.count
        let offset = parameters.count
        var shifted = ""
        var rest = fragment.text.utf8[...]
        for (number, start) in zip(1..., fragment.placeholders) {
            let index = fragment.text.utf8.index(fragment.text.utf8.startIndex, offsetBy: start)
            shifted += String(Substring(rest[..<index]))
            placeholders.append(base + shifted.utf8.count)
            shifted += "$\(number + offset)"
            rest = rest[fragment.text.utf8.index(index, offsetBy: "$\(number)".utf8.count)...]
        }
        shifted += String(Substring(rest))
        text += shifted
        parameters += fragment.parameters
    }

    /// Two fragments one after the other.
    public static func + (lhs: SQL, rhs: SQL) -> SQL {
        var result = lhs
        result.append(rhs)
        return result
    }

    /// Binds `value` as the next parameter and appends its placeholder.
    mutating func bind<Value: Encodable>(_ value: Value) {
        switch value {
        case let value as any EncodableOptional:
            if let wrapped = value.wrappedEncodable {
                bind(wrapped)
            } else {
                append(Parameter(psqlType: .null, psqlFormat: .binary, bytes: nil))
            }
        case let value as any PostgresThrowingDynamicTypeEncodable:
            do {
                append(try Parameter(value))
            } catch {
                fail(DatabaseError(.encoding, "cannot encode \(Value.self) as a parameter: \(error)"))
            }
        case let enumeration as any RawRepresentable:
            if let raw = enumeration.rawValue as? any Encodable {
                bind(raw)
            } else {
                bindJSON(value)
            }
        default:
            bindJSON(value)
        }
    }

    private mutating func bindJSON<Value: Encodable>(_ value: Value) {
        do {
            var bytes = ByteBuffer(integer: UInt8(1))  // jsonb's binary form: a version byte, then JSON
            bytes.writeBytes(try JSONEncoder().encode(value))
            append(Parameter(psqlType: .jsonb, psqlFormat: .binary, bytes: bytes))
        } catch {
            fail(DatabaseError(.encoding, "cannot encode \(Value.self) as JSON: \(error)"))
        }
    }

    private mutating func append(_ parameter: Parameter) {
        parameters.append(parameter)
        placeholders.append(text.utf8.count)
        text += "$\(parameters.count)"
    }

    private mutating func fail(_ error: DatabaseError) {
        encodingError = encodingError ?? error
        append(Parameter(psqlType: .null, psqlFormat: .binary, bytes: nil))
    }

    /// The parameters as PostgresNIO sends them.
    var bindings: PostgresBindings {
        var bindings = PostgresBindings(capacity: parameters.count)
        for parameter in parameters {
            if parameter.bytes == nil { bindings.appendNull() } else { bindings.append(parameter) }
        }
        return bindings
    }

    /// The parameters' types: with the text, a prepared statement's identity.
    var parameterTypes: [PostgresDataType] { parameters.map(\.psqlType) }

    /// The statement as PostgresNIO runs it.
    var query: PostgresQuery { PostgresQuery(unsafeSQL: text, binds: bindings) }

    /// Interpolation into a ``SQL`` statement.
    public struct StringInterpolation: StringInterpolationProtocol {
        var sql: SQL

        /// Room for the literal.
        public init(literalCapacity: Int, interpolationCount: Int) {
            sql = SQL(unsafeSQL: "")
            sql.text.reserveCapacity(literalCapacity + 3 * interpolationCount)
        }

        /// Statement text.
        public mutating func appendLiteral(_ literal: String) { sql.text += literal }

        /// A bound parameter.
        public mutating func appendInterpolation(_ value: some Encodable) { sql.bind(value) }

        /// A bound parameter that is nil (`NULL`) or a value.
        public mutating func appendInterpolation<Value: Encodable>(_ value: Value?) { sql.bind(value) }

        /// A fragment, its parameters renumbered.
        public mutating func appendInterpolation(_ fragment: SQL) { sql.append(fragment) }

        /// A quoted identifier (table or column name): `"order"`, with embedded quotes doubled.
        public mutating func appendInterpolation(identifier: String) {
            sql.text += "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }

        /// Trusted text spliced in as it is: never pass it user input.
        public mutating func appendInterpolation(unsafeRaw text: String) { sql.text += text }
    }
}

/// One parameter, already in its wire form.
struct Parameter: PostgresDynamicTypeEncodable, Sendable {
    let psqlType: PostgresDataType
    let psqlFormat: PostgresFormat
    /// Nil for `NULL`.
    let bytes: ByteBuffer?

    init(psqlType: PostgresDataType, psqlFormat: PostgresFormat, bytes: ByteBuffer?) {
        self.psqlType = psqlType
        self.psqlFormat = psqlFormat
        self.bytes = bytes
    }

    init(_ value: some PostgresThrowingDynamicTypeEncodable) throws {
        var bytes = ByteBuffer()
        try value.encode(into: &bytes, context: .default)
        self.init(psqlType: value.psqlType, psqlFormat: value.psqlFormat, bytes: bytes)
    }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        if let bytes { buffer.writeImmutableBuffer(bytes) }
    }
}

/// An optional, seen through: what it wraps, or nil (bound or copied as `NULL`).
protocol EncodableOptional {
    var wrappedEncodable: (any Encodable)? { get }
}

extension Optional: EncodableOptional where Wrapped: Encodable {
    var wrappedEncodable: (any Encodable)? { self }
}
