import NIOCore

/// One declared input of an operation or dependency, as OpenAPI documents it.
public enum InputSpec: Sendable {
    /// A path, query, header or cookie parameter.
    case parameter(ParameterSpec)
    /// A JSON body (or one embedded member of it).
    case body(BodySpec)
    /// A form field or uploaded file.
    case formField(BodySpec)
    /// A dependency, whose own inputs belong to the operation too.
    case dependency(DependencySpec)
}

/// A documented path, query, header or cookie parameter.
public struct ParameterSpec: Sendable {
    /// Where a parameter is read from.
    public enum Location: String, Sendable {
        /// A `{name}` segment of the path.
        case path
        /// The query string.
        case query
        /// A header field.
        case header
        /// A cookie.
        case cookie
    }

    /// Where it is read from.
    public let location: Location
    /// Its name on the wire.
    public let name: String
    /// Whether the request must carry it.
    public let required: Bool
    /// Its description (from the attribute or the doc comment's `- Parameter` line).
    public let description: String?
    /// Whether it is deprecated.
    public let deprecated: Bool
    /// Its constraints.
    public let constraints: Constraints?
    /// Its default, as JSON.
    public let defaultValue: JSONValue?
    /// An example value.
    public let example: JSONValue?
    let schema: @Sendable (inout SchemaRegistry) -> JSONObject
}

/// A documented body (or body member / form field).
public struct BodySpec: Sendable {
    /// The member name when embedded (or the form field's name); nil for a whole-body model.
    public let name: String?
    /// Whether the request must carry it.
    public let required: Bool
    /// Its description.
    public let description: String?
    /// Its constraints.
    public let constraints: Constraints?
    let schema: @Sendable (inout SchemaRegistry) -> JSONObject
    /// Its default, as JSON (form fields).
    public var defaultValue: JSONValue? = nil
}

/// A path, query, header or cookie parameter of a typed handler: reads, converts and checks it.
public struct Parameter<Value: ParameterInput>: Sendable {
    /// Its documentation.
    public let spec: ParameterSpec
    private let location: [ValidationIssue.LocationElement]
    private let defaultValue: Value?

    /// A parameter read from `location` under `name`.
    public init(
        _ location: ParameterSpec.Location, _ name: String, as type: Value.Type, default defaultValue: Value? = nil,
        constraints: Constraints? = nil, description: String? = nil, deprecated: Bool = false,
        example: JSONValue? = nil
    ) {
        let constraints = constraints.flatMap { $0.isEmpty ? nil : $0 }
        var context = ValidationContext()
        let required =
            defaultValue == nil && location == .path
            || defaultValue == nil && Value.decode(parameter: ParameterValues(storage: .none), in: &context) == nil
        self.spec = ParameterSpec(
            location: location, name: name, required: required, description: description, deprecated: deprecated,
            constraints: constraints, defaultValue: defaultValue.flatMap(SchemaDefaults.json), example: example,
            schema: { Value.jsonSchema(in: &$0) })
        self.location = [.key(location.rawValue), .key(name)]
        self.defaultValue = defaultValue
    }

    /// The value, or nil after recording the problems.
    public func read(_ reader: inout InputReader) -> Value? {
        let values: ParameterValues
        switch spec.location {
        case .path:
            values = ParameterValues(
                storage: reader.request.pathParameters.first { $0.name == spec.name }.map { .single($0.value) } ?? .none
            )
        case .query:
            values = ParameterValues(storage: .query(reader.query(), spec.name))
        case .header:
            values = ParameterValues(storage: .headers(reader.request.headers, spec.name))
        case .cookie:
            values = ParameterValues(storage: reader.cookies()[spec.name].map { .single($0) } ?? .none)
        }
        let raw = values.last
        if raw == nil, let defaultValue { return defaultValue }
        reader.context.location = location
        guard let value = Value.decode(parameter: values, in: &reader.context) else { return nil }
        return check(value, raw: raw, in: &reader.context)
    }

    /// Checks `value` against the constraints; a broken one reports the text that was sent.
    func check(_ value: Value, raw: String?, in context: inout ValidationContext) -> Value? {
        guard let constraints = spec.constraints else { return value }
        let mark = context.issues.count
        value.check(constraints, in: &context)
        guard context.issues.count == mark else {
            if let raw { for index in mark..<context.issues.count { context.issues[index].input = .string(raw) } }
            return nil
        }
        return value
    }
}

/// A form field of a typed handler (URL-encoded or multipart); an empty value counts as absent,
/// as it does in FastAPI.
public struct FormField<Value: ParameterInput>: Sendable {
    /// Its documentation.
    public let spec: BodySpec
    private let parameter: Parameter<Value>
    private let defaultValue: Value?

    /// A form field named `name`.
    public init(
        _ name: String, as type: Value.Type, default defaultValue: Value? = nil, constraints: Constraints? = nil,
        description: String? = nil
    ) {
        parameter = Parameter(.query, name, as: type, default: defaultValue, constraints: constraints)
        spec = BodySpec(
            name: name, required: parameter.spec.required, description: description,
            constraints: parameter.spec.constraints, schema: { Value.jsonSchema(in: &$0) },
            defaultValue: parameter.spec.defaultValue)
        self.defaultValue = defaultValue
    }

    /// The value, or nil after recording the problems.
    public func read(_ reader: inout InputReader) -> Value? {
        guard case .form(let fields, _) = reader.body else { return nil }
        let present = QueryParameters(
            fields.pairs.filter { $0.name == spec.name && !$0.value.isEmpty }.map { ($0.name, $0.value) })
        let raw = present.pairs.last?.value
        if raw == nil, let defaultValue { return defaultValue }
        reader.context.location = ["body", .key(spec.name ?? "")]
        let values = ParameterValues(storage: raw == nil ? .none : .query(present, spec.name ?? ""))
        guard let value = Value.decode(parameter: values, in: &reader.context) else { return nil }
        return parameter.check(value, raw: raw, in: &reader.context)
    }
}

/// An uploaded file parameter (`UploadedFile`, `UploadedFile?` or `[UploadedFile]`).
public struct FileField<Value: Sendable>: Sendable {
    /// Its documentation.
    public let spec: BodySpec
    private let pick: @Sendable ([UploadedFile]) -> Value?

    /// A required file.
    public init(_ name: String, as type: UploadedFile.Type, description: String? = nil) where Value == UploadedFile {
        spec = BodySpec(
            name: name, required: true, description: description, constraints: nil,
            schema: { UploadedFile.jsonSchema(in: &$0) })
        pick = { $0.first { $0.name == name } }
    }

    /// An optional file.
    public init(_ name: String, as type: UploadedFile?.Type, description: String? = nil) where Value == UploadedFile? {
        spec = BodySpec(
            name: name, required: false, description: description, constraints: nil,
            schema: { UploadedFile.jsonSchema(in: &$0) })
        pick = { .some($0.first { $0.name == name }) }
    }

    /// Every file sent under the name.
    public init(_ name: String, as type: [UploadedFile].Type, description: String? = nil)
    where Value == [UploadedFile] {
        spec = BodySpec(
            name: name, required: true, description: description, constraints: nil,
            schema: { [UploadedFile].jsonSchema(in: &$0) })
        pick = { files in
            let matching = files.filter { $0.name == name }
            return matching.isEmpty ? nil : matching
        }
    }

    /// The file(s), or nil after recording that they are missing.
    public func read(_ reader: inout InputReader) -> Value? {
        guard case .form(_, let files) = reader.body else { return nil }
        if let value = pick(files) { return value }
        reader.context.location = ["body", .key(spec.name ?? "")]
        reader.context.missing()
        return nil
    }
}

/// A JSON body parameter: a whole-body model, or one member of the body when embedded.
public struct BodyParameter<Value: Sendable>: Sendable {
    /// Its documentation.
    public let spec: BodySpec
    private let decode: @Sendable (JSONValue, inout ValidationContext) -> Value?
    private let valueWhenAbsent: Value?

    /// A body read with Pydantic's rules (every problem reported).
    public init(_ type: Value.Type, embeddedAs name: String? = nil, description: String? = nil)
    where Value: JSONInput {
        spec = BodySpec(
            name: name, required: Value.valueWhenAbsent == nil, description: description, constraints: nil,
            schema: { Value.jsonSchema(in: &$0) })
        decode = { json, context in Value.decode(json: json, in: &context) }
        valueWhenAbsent = Value.valueWhenAbsent
    }

    /// A body read with `Decodable` (the first problem reported).
    @_disfavoredOverload
    public init(_ type: Value.Type, embeddedAs name: String? = nil, description: String? = nil)
    where Value: Decodable {
        spec = BodySpec(name: name, required: true, description: description, constraints: nil, schema: { _ in [:] })
        decode = { json, context in
            do {
                let buffer = try JSONWriter.encode(json)
                return try JSONBody.decode(Value.self, from: buffer)
            } catch let error as ValidationError {
                context.issues.append(contentsOf: error.issues)
            } catch {
                context.fail("value_error", "\(error)", input: json)
            }
            return nil
        }
        valueWhenAbsent = nil
    }

    /// The value, or nil after recording the problems.
    public func read(_ reader: inout InputReader) -> Value? {
        var json: JSONValue?
        if case .json(let body) = reader.body { json = body }
        if let name = spec.name {
            reader.context.location = ["body", .key(name)]
            if case .object(let object) = json { json = object[name] } else { json = nil }
        } else {
            reader.context.location = ["body"]
        }
        guard let json else {
            if let valueWhenAbsent { return valueWhenAbsent }
            reader.context.missing()
            return nil
        }
        return decode(json, &reader.context)
    }
}

/// Turns declared defaults into JSON for the schema.
enum SchemaDefaults {
    static func json<T>(_ value: T) -> JSONValue? {
        guard let value = value as? any Encodable, let buffer = try? JSONWriter.encode(value) else { return nil }
        return try? JSONValue.parse(buffer)
    }
}
