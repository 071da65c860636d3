import Foundation

/// A type the typed layer can describe as JSON Schema, for the OpenAPI document.
public protocol SchemaDescribable {
    /// The schema of this type; named models are added to `registry` and referenced.
    static func jsonSchema(in registry: inout SchemaRegistry) -> JSONObject
}

/// A value read from a JSON body with Pydantic's lax rules (`"7"` is an `Int`, `1.0` is an `Int`,
/// `1` is a `Bool`), reporting every problem to the context instead of stopping at the first.
public protocol JSONInput: SchemaDescribable, Sendable {
    /// The value in `json`, or nil after recording why it is not one.
    static func decode(json: JSONValue, in context: inout ValidationContext) -> Self?
    /// The value an absent field takes: nil when the field is required.
    static var valueWhenAbsent: Self? { get }
    /// Records where the value breaks `constraints`.
    func check(_ constraints: Constraints, in context: inout ValidationContext)
}

extension JSONInput {
    /// Required unless it says otherwise.
    public static var valueWhenAbsent: Self? { nil }
    /// Unconstrained unless it says otherwise.
    public func check(_ constraints: Constraints, in context: inout ValidationContext) {}
}

/// A value read from text: a path segment, or a query, header, cookie or form field.
public protocol TextInput: JSONInput {
    /// The value `text` spells, or nil after recording why it is not one.
    static func decode(text: String, in context: inout ValidationContext) -> Self?
}

/// A value read from a parameter's occurrences (a query key may repeat): scalars take the last
/// occurrence, optionals allow none, arrays take them all.
public protocol ParameterInput: SchemaDescribable, Sendable {
    /// The value of the occurrences, or nil after recording why there is none.
    static func decode(parameter values: ParameterValues, in context: inout ValidationContext) -> Self?
    /// Records where the value breaks `constraints`.
    func check(_ constraints: Constraints, in context: inout ValidationContext)
}

/// The occurrences of one parameter in a request, read without copying until asked.
public struct ParameterValues: Sendable {
    enum Storage: Sendable {
        case none
        case single(String)
        case query(QueryParameters, String)
        case headers(HTTPHeaders, String)
    }

    let storage: Storage

    /// The last occurrence (Starlette's choice for a repeated scalar), if any.
    public var last: String? {
        switch storage {
        case .none: nil
        case .single(let value): value
        case .query(let query, let name): query.pairs.last { $0.name == name }?.value
        case .headers(let headers, let name): headers.values(for: name).last.map { String($0) }
        }
    }

    /// Every occurrence, in order.
    public var all: [String] {
        switch storage {
        case .none: []
        case .single(let value): [value]
        case .query(let query, let name): query.values(for: name)
        case .headers(let headers, let name): headers.values(for: name).map { String($0) }
        }
    }
}

extension ParameterInput where Self: TextInput {
    /// A scalar: the last occurrence, required.
    public static func decode(parameter values: ParameterValues, in context: inout ValidationContext) -> Self? {
        guard let text = values.last else {
            context.missing()
            return nil
        }
        return decode(text: text, in: &context)
    }
}

// MARK: - Integers

/// Integers read as Pydantic reads them.
public protocol IntegerInput: FixedWidthInteger, TextInput, ParameterInput {}

extension IntegerInput {
    public static func jsonSchema(in registry: inout SchemaRegistry) -> JSONObject { ["type": "integer"] }

    public static func decode(json: JSONValue, in context: inout ValidationContext) -> Self? {
        switch json {
        case .int(let value):
            if let result = Self(exactly: value) { return result }
        case .double(let value):
            if value.rounded() == value, let result = Self(exactly: value) { return result }
            if value.isFinite, value.rounded() != value {
                context.fail(
                    "int_from_float", "Input should be a valid integer, got a number with a fractional part",
                    input: json)
                return nil
            }
        case .bool(let value):
            return value ? 1 : 0
        case .string(let text):
            return parse(text, input: json, in: &context)
        default:
            context.fail("int_type", "Input should be a valid integer", input: json)
            return nil
        }
        context.fail(
            "int_parsing_size", "Unable to parse input string as an integer, exceeded maximum size", input: json)
        return nil
    }

    public static func decode(text: String, in context: inout ValidationContext) -> Self? {
        parse(text, input: .string(text), in: &context)
    }

    private static func parse(_ text: String, input: JSONValue, in context: inout ValidationContext) -> Self? {
        if let value = Self(text) { return value }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let value = Self(trimmed) { return value }
        let digits = NumberText.removingUnderscores(trimmed) ?? trimmed
        if let value = Self(digits) { return value }
        if let number = Double(digits), number.isFinite {
            if number.rounded() == number, let value = Self(exactly: number) { return value }
        }
        context.fail(
            "int_parsing", "Input should be a valid integer, unable to parse string as an integer", input: input)
        return nil
    }

    public func check(_ constraints: Constraints, in context: inout ValidationContext) {
        constraints.checkNumber(Double(self), input: .int(Int(truncatingIfNeeded: self)), in: &context)
    }
}

extension Int: IntegerInput {}
extension Int8: IntegerInput {}
extension Int16: IntegerInput {}
extension Int32: IntegerInput {}
extension Int64: IntegerInput {}
extension UInt: IntegerInput {}
extension UInt8: IntegerInput {}
extension UInt16: IntegerInput {}
extension UInt32: IntegerInput {}
extension UInt64: IntegerInput {}

// MARK: - Floating point

/// Floating-point numbers read as Pydantic reads them.
public protocol FloatInput: BinaryFloatingPoint, LosslessStringConvertible, TextInput, ParameterInput {}

extension FloatInput {
    public static func jsonSchema(in registry: inout SchemaRegistry) -> JSONObject { ["type": "number"] }

    public static func decode(json: JSONValue, in context: inout ValidationContext) -> Self? {
        switch json {
        case .int(let value): return Self(value)
        case .double(let value): return Self(value)
        case .bool(let value): return value ? 1 : 0
        case .string(let text): return decode(text: text, in: &context)
        default:
            context.fail("float_type", "Input should be a valid number", input: json)
            return nil
        }
    }

    public static func decode(text: String, in context: inout ValidationContext) -> Self? {
        if let value = Self(text) { return value }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let value = Self(trimmed) ?? NumberText.removingUnderscores(trimmed).flatMap(Self.init) { return value }
        context.fail(
            "float_parsing", "Input should be a valid number, unable to parse string as a number", input: .string(text))
        return nil
    }

    public func check(_ constraints: Constraints, in context: inout ValidationContext) {
        constraints.checkNumber(Double(self), input: .number(Double(self)), in: &context)
    }
}

extension Double: FloatInput {}
extension Float: FloatInput {}

enum NumberText {
    /// `1_000` as `1000`; nil when an underscore is not between two digits (Python's rule).
    static func removingUnderscores(_ text: String) -> String? {
        guard text.contains("_") else { return nil }
        let bytes = Array(text.utf8)
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "_") {
            guard index > 0, index < bytes.count - 1, bytes[index - 1].isDigit, bytes[index + 1].isDigit else {
                return nil
            }
        }
        return text.replacingOccurrences(of: "_", with: "")
    }
}

extension UInt8 {
    fileprivate var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
}

// MARK: - Strings, booleans, identifiers

extension String: TextInput, ParameterInput {
    public static func jsonSchema(in registry: inout SchemaRegistry) -> JSONObject { ["type": "string"] }

    public static func decode(json: JSONValue, in context: inout ValidationContext) -> String? {
        if case .string(let value) = json { return value }
        context.fail("string_type", "Input should be a valid string", input: json)
        return nil
    }

    public static func decode(text: String, in context: inout ValidationContext) -> String? { text }

    public func check(_ constraints: Constraints, in context: inout ValidationContext) {
        constraints.checkString(self, in: &context)
    }
}

extension Bool: TextInput, ParameterInput {
    public static func jsonSchema(in registry: inout SchemaRegistry) -> JSONObject { ["type": "boolean"] }

    public static func decode(json: JSONValue, in context: inout ValidationContext) -> Bool? {
        switch json {
        case .bool(let value): return value
        case .int(0): return false
        case .int(1): return true
        case .double(0): return false
        case .double(1): return true
        case .string(let text): return decode(text: text, in: &context)
        case .int, .double: break
        default:
            context.fail("bool_type", "Input should be a valid boolean", input: json)
            return nil
        }
        context.fail("bool_parsing", "Input should be a valid boolean, unable to interpret input", input: json)
        return nil
    }

    /// Pydantic's spellings, in any case: `1`/`0`, `true`/`false`, `t`/`f`, `yes`/`no`, `y`/`n`,
    /// `on`/`off`.
    public static func decode(text: String, in context: inout ValidationContext) -> Bool? {
        switch text.lowercased() {
        case "1", "true", "t", "yes", "y", "on": return true
        case "0", "false", "f", "no", "n", "off": return false
        default:
            context.fail(
                "bool_parsing", "Input should be a valid boolean, unable to interpret input", input: .string(text))
            return nil
        }
    }
}

extension UUID: TextInput, ParameterInput {
    public static func jsonSchema(in registry: inout SchemaRegistry) -> JSONObject {
        ["type": "string", "format": "uuid"]
    }

    public static func decode(json: JSONValue, in context: inout ValidationContext) -> UUID? {
        guard case .string(let text) = json else {
            context.fail("uuid_type", "UUID input should be a string, bytes or UUID object", input: json)
            return nil
        }
        return decode(text: text, in: &context)
    }

    public static func decode(text: String, in context: inout ValidationContext) -> UUID? {
        if let value = UUID(uuidString: text) { return value }
        context.fail(
            "uuid_parsing", "Input should be a valid UUID, unable to parse string as a UUID", input: .string(text))
        return nil
    }
}

extension JSONValue: JSONInput {
    public static func jsonSchema(in registry: inout SchemaRegistry) -> JSONObject { [:] }
    public static func decode(json: JSONValue, in context: inout ValidationContext) -> JSONValue? { json }
}

// MARK: - Containers

extension Optional: SchemaDescribable where Wrapped: SchemaDescribable {
    /// `anyOf` the wrapped schema and `null`, as FastAPI writes optionals in OpenAPI 3.1.
    public static func jsonSchema(in registry: inout SchemaRegistry) -> JSONObject {
        ["anyOf": [.object(Wrapped.jsonSchema(in: &registry)), ["type": "null"]]]
    }
}

extension Optional: JSONInput where Wrapped: JSONInput {
    public static func decode(json: JSONValue, in context: inout ValidationContext) -> Wrapped?? {
        if case .null = json { return .some(nil) }
        return Wrapped.decode(json: json, in: &context).map { .some($0) }
    }

    /// An absent optional is `nil`.
    public static var valueWhenAbsent: Wrapped?? { .some(nil) }

    public func check(_ constraints: Constraints, in context: inout ValidationContext) {
        self?.check(constraints, in: &context)
    }
}

extension Optional: ParameterInput where Wrapped: ParameterInput {
    public static func decode(parameter values: ParameterValues, in context: inout ValidationContext) -> Wrapped?? {
        if case .none = values.storage { return .some(nil) }
        if values.last == nil { return .some(nil) }
        return Wrapped.decode(parameter: values, in: &context).map { .some($0) }
    }

    public func check(_ constraints: Constraints, in context: inout ValidationContext) {
        self?.check(constraints, in: &context)
    }
}

extension Array: SchemaDescribable where Element: SchemaDescribable {
    public static func jsonSchema(in registry: inout SchemaRegistry) -> JSONObject {
        ["type": "array", "items": .object(Element.jsonSchema(in: &registry))]
    }
}

extension Array: JSONInput where Element: JSONInput {
    public static func decode(json: JSONValue, in context: inout ValidationContext) -> [Element]? {
        guard case .array(let values) = json else {
            context.fail("list_type", "Input should be a valid array", input: json)
            return nil
        }
        var result: [Element] = []
        result.reserveCapacity(values.count)
        var failed = false
        for (index, value) in values.enumerated() {
            let element = context.at(.index(index)) { Element.decode(json: value, in: &$0) }
            if let element { result.append(element) } else { failed = true }
        }
        return failed ? nil : result
    }

    public func check(_ constraints: Constraints, in context: inout ValidationContext) {
        constraints.checkCount(count, input: .array([]), in: &context)
    }
}

extension Array: ParameterInput where Element: TextInput {
    /// Every occurrence; none is missing (declare a default, such as `[]`, to allow none).
    public static func decode(parameter values: ParameterValues, in context: inout ValidationContext) -> [Element]? {
        let all = values.all
        guard !all.isEmpty else {
            context.missing()
            return nil
        }
        var result: [Element] = []
        var failed = false
        for (index, text) in all.enumerated() {
            let element = context.at(.index(index)) { Element.decode(text: text, in: &$0) }
            if let element { result.append(element) } else { failed = true }
        }
        return failed ? nil : result
    }

    public func check(_ constraints: Constraints, in context: inout ValidationContext) {
        constraints.checkCount(count, input: .array([]), in: &context)
    }
}

extension Dictionary: SchemaDescribable where Key == String, Value: SchemaDescribable {
    public static func jsonSchema(in registry: inout SchemaRegistry) -> JSONObject {
        ["type": "object", "additionalProperties": .object(Value.jsonSchema(in: &registry))]
    }
}

extension Dictionary: JSONInput where Key == String, Value: JSONInput {
    public static func decode(json: JSONValue, in context: inout ValidationContext) -> [String: Value]? {
        guard case .object(let object) = json else {
            context.fail("dict_type", "Input should be an object", input: json)
            return nil
        }
        var result: [String: Value] = [:]
        var failed = false
        for member in object.members {
            let value = context.at(.key(member.key)) { Value.decode(json: member.value, in: &$0) }
            if let value { result[member.key] = value } else { failed = true }
        }
        return failed ? nil : result
    }
}
