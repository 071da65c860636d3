import Foundation

/// Settings of the generated OpenAPI document and the docs page.
public struct OpenAPIConfiguration: Sendable {
    /// The API's title.
    public var title = "FasterAPI"
    /// The API's version.
    public var version = "0.1.0"
    /// A description of the API (Markdown).
    public var description: String?
    /// Where the document is served (nil: not served).
    public var documentPath: String? = "/openapi.json"
    /// Where the interactive docs page is served (nil: not served).
    public var docsPath: String? = "/docs"

    /// The default settings.
    public init() {}
}

extension App {
    /// The OpenAPI 3.1 document of the app's typed routes.
    public func openAPIDocument() -> JSONObject {
        OpenAPIBuilder(configuration: configuration.openAPI).document(for: routes)
    }
}

/// Builds the OpenAPI document from the routes' declarations.
struct OpenAPIBuilder {
    let configuration: OpenAPIConfiguration
    private var registry = SchemaRegistry()
    private var securitySchemes = JSONObject()

    init(configuration: OpenAPIConfiguration) { self.configuration = configuration }

    func document(for routes: [Route]) -> JSONObject {
        var builder = self
        var paths = JSONObject()
        var usedIDs = Set<String>()
        for route in routes {
            guard var operation = route.operation, operation.includeInSchema else { continue }
            let path = Self.openAPIPath(route.path)
            operation.operationID = Self.uniqueOperationID(
                operation.operationID, path: path, method: route.method, used: &usedIDs)
            var item: JSONObject
            if case .object(let existing) = paths[path] { item = existing } else { item = JSONObject() }
            item[route.method.rawValue.lowercased()] = .object(builder.operation(operation, inputs: route.inputs))
            paths[path] = .object(item)
        }
        var info: JSONObject = ["title": .string(configuration.title), "version": .string(configuration.version)]
        if let description = configuration.description { info["description"] = .string(description) }
        var components = JSONObject()
        if !builder.registry.components.members.isEmpty {
            components["schemas"] = .object(
                JSONObject(builder.registry.components.members.sorted { $0.key < $1.key }))
        }
        if !builder.securitySchemes.members.isEmpty { components["securitySchemes"] = .object(builder.securitySchemes) }
        var document: JSONObject = ["openapi": "3.1.0", "info": .object(info), "paths": .object(paths)]
        if !components.members.isEmpty { document["components"] = .object(components) }
        return document
    }

    /// `id` when no other operation has it yet; else FastAPI's spelling, `id_<path>_<method>`
    /// (`contact_v2_contact_post`), numbered if even that is taken.
    static func uniqueOperationID(_ id: String, path: String, method: HTTPMethod, used: inout Set<String>) -> String {
        var candidate = id
        if used.contains(candidate) {
            let slug = String(path.map { $0.isLetter || $0.isNumber ? $0 : "_" })
            let base = "\(id)\(slug)_\(method.rawValue.lowercased())"
            candidate = base
            var number = 2
            while used.contains(candidate) {
                candidate = "\(base)_\(number)"
                number += 1
            }
        }
        used.insert(candidate)
        return candidate
    }

    /// `{rest...}` and `{rest:path}` are `{rest}` in OpenAPI.
    static func openAPIPath(_ path: String) -> String {
        path.replacingOccurrences(of: "...}", with: "}").replacingOccurrences(of: ":path}", with: "}")
    }

    private struct Collected {
        var parameters: [ParameterSpec] = []
        var bodies: [BodySpec] = []
        var formFields: [BodySpec] = []
        var security: [(scheme: SecuritySchemeSpec, scopes: [String])] = []
    }

    private func collect(_ inputs: [InputSpec], scopes: [String], into collected: inout Collected) {
        for input in inputs {
            switch input {
            case .parameter(let parameter):
                if !collected.parameters.contains(where: {
                    $0.name == parameter.name && $0.location == parameter.location
                }) {
                    collected.parameters.append(parameter)
                }
            case .body(let body): collected.bodies.append(body)
            case .formField(let field):
                if !collected.formFields.contains(where: { $0.name == field.name }) {
                    collected.formFields.append(field)
                }
            case .dependency(let dependency):
                let scopes = scopes + dependency.scopes.filter { !scopes.contains($0) }
                if let scheme = dependency.securityScheme {
                    if let index = collected.security.firstIndex(where: { $0.scheme.name == scheme.name }) {
                        collected.security[index].scopes += scopes.filter {
                            !collected.security[index].scopes.contains($0)
                        }
                    } else {
                        collected.security.append((scheme, scopes))
                    }
                }
                collect(dependency.inputs, scopes: scopes, into: &collected)
            }
        }
    }

    private mutating func operation(_ doc: OperationDoc, inputs: [InputSpec]) -> JSONObject {
        var collected = Collected()
        collect(inputs, scopes: [], into: &collected)
        var operation = JSONObject()
        if !doc.tags.isEmpty { operation["tags"] = .array(doc.tags.map { .string($0) }) }
        if let summary = doc.summary { operation["summary"] = .string(summary) }
        if let description = doc.description { operation["description"] = .string(description) }
        operation["operationId"] = .string(doc.operationID)
        if doc.deprecated { operation["deprecated"] = true }
        if !collected.security.isEmpty {
            operation["security"] = .array(
                collected.security.map { entry in
                    securitySchemes[entry.scheme.name] = .object(entry.scheme.scheme)
                    return .object([entry.scheme.name: .array(entry.scopes.map { .string($0) })])
                })
        }
        if !collected.parameters.isEmpty {
            operation["parameters"] = .array(collected.parameters.map { .object(parameter($0)) })
        }
        if let body = requestBody(collected, operationID: doc.operationID) { operation["requestBody"] = .object(body) }
        var responses = JSONObject()
        responses[String(doc.status.code)] = .object(response(doc.response))
        for (code, extra) in doc.responses.sorted(by: { $0.key < $1.key }) {
            responses[String(code)] = .object(response(extra))
        }
        if !collected.parameters.isEmpty || !collected.bodies.isEmpty || !collected.formFields.isEmpty {
            let error = validationErrorSchema()
            responses["422"] = [
                "description": "Validation Error", "content": ["application/json": ["schema": .object(error)]],
            ]
        }
        operation["responses"] = .object(responses)
        return operation
    }

    private mutating func parameter(_ spec: ParameterSpec) -> JSONObject {
        var schema = spec.schema(&registry)
        if let constraints = spec.constraints { schema = constraints.applied(to: schema) }
        if let defaultValue = spec.defaultValue { schema["default"] = defaultValue }
        var parameter: JSONObject = [
            "name": .string(spec.name), "in": .string(spec.location.rawValue), "required": .bool(spec.required),
            "schema": .object(schema),
        ]
        if let description = spec.description { parameter["description"] = .string(description) }
        if spec.deprecated { parameter["deprecated"] = true }
        if let example = spec.example { parameter["example"] = example }
        return parameter
    }

    private mutating func requestBody(_ collected: Collected, operationID: String) -> JSONObject? {
        if !collected.formFields.isEmpty {
            let multipart = collected.formFields.contains { field in
                var scratch = SchemaRegistry()
                let schema = field.schema(&scratch)
                return schema["format"] == "binary" || schema["items"] == ["type": "string", "format": "binary"]
            }
            let schema = registry.define(
                "Body_\(operationID)", object(collected.formFields, title: "Body_\(operationID)"))
            let mediaType = multipart ? "multipart/form-data" : "application/x-www-form-urlencoded"
            return [
                "content": .object([mediaType: ["schema": .object(schema)]]),
                "required": .bool(collected.formFields.contains { $0.required }),
            ]
        }
        guard !collected.bodies.isEmpty else { return nil }
        let schema: JSONObject
        if collected.bodies.count == 1, collected.bodies[0].name == nil {
            schema = collected.bodies[0].schema(&registry)
        } else {
            schema = registry.define("Body_\(operationID)", object(collected.bodies, title: "Body_\(operationID)"))
        }
        var body: JSONObject = ["content": ["application/json": ["schema": .object(schema)]]]
        if collected.bodies.contains(where: { $0.required }) { body["required"] = true }
        return body
    }

    private mutating func object(_ fields: [BodySpec], title: String) -> JSONObject {
        var properties = JSONObject()
        for field in fields {
            var schema = field.schema(&registry)
            if let constraints = field.constraints { schema = constraints.applied(to: schema) }
            if let defaultValue = field.defaultValue { schema["default"] = defaultValue }
            if let description = field.description { schema["description"] = .string(description) }
            properties[field.name ?? "body"] = .object(schema)
        }
        var schema: JSONObject = ["title": .string(title), "type": "object", "properties": .object(properties)]
        let required = fields.filter(\.required).compactMap(\.name)
        if !required.isEmpty { schema["required"] = .array(required.map { .string($0) }) }
        return schema
    }

    private mutating func response(_ doc: ResponseDoc) -> JSONObject {
        var response: JSONObject = ["description": .string(doc.description)]
        if let mediaType = doc.mediaType {
            let schema = doc.schema?(&registry) ?? [:]
            response["content"] = .object([mediaType: ["schema": .object(schema)]])
        }
        return response
    }

    private mutating func validationErrorSchema() -> JSONObject {
        let item = registry.define(
            "ValidationError",
            [
                "title": "ValidationError", "type": "object",
                "properties": [
                    "loc": [
                        "title": "Location", "type": "array",
                        "items": ["anyOf": [["type": "string"], ["type": "integer"]]],
                    ],
                    "msg": ["title": "Message", "type": "string"],
                    "type": ["title": "Error Type", "type": "string"],
                    "input": ["title": "Input"],
                    "ctx": ["title": "Context", "type": "object"],
                ],
                "required": ["loc", "msg", "type"],
            ])
        return registry.define(
            "HTTPValidationError",
            [
                "title": "HTTPValidationError", "type": "object",
                "properties": ["detail": ["title": "Detail", "type": "array", "items": .object(item)]],
            ])
    }
}
