import FasterAPI
import Foundation
import Synchronization

extension App {
    /// Offers the app's routes tagged with one of `tags` (every documented route when nil) as
    /// tools of `mcp`, described by the app's OpenAPI document: the tool is named by the
    /// operation id, its arguments are the path and query parameters plus `body` for a JSON
    /// body, and its structured result is the JSON answer (wrapped as `{"result": …}` when it is
    /// not an object). A call goes through the whole app — middleware, dependencies, validation —
    /// as an in-process request carrying the `forwardedHeaders` of the MCP request (its
    /// credentials); a non-2xx answer is a tool failure (`isError`) with the status and body.
    /// Call it after the routes are registered.
    public func exposeRoutesAsTools(_ mcp: MCPServer, tags: [String]? = nil, forwardedHeaders: [String] = ["authorization", "cookie"]) {
        let document = openAPIDocument()
        let definitions = document["components"]?.objectValue?["schemas"]?.objectValue ?? JSONObject()
        let responder = MCPLazyResponder(app: self)
        for (path, item) in document["paths"]?.objectValue?.members ?? [] {
            for (method, operation) in item.objectValue?.members ?? [] {
                guard let operation = operation.objectValue, let name = operation["operationId"]?.stringValue,
                    ["get", "post", "put", "patch", "delete"].contains(method)
                else { continue }
                let operationTags = operation["tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
                if let tags, !operationTags.contains(where: tags.contains) { continue }
                let route = MCPRouteTool(
                    method: HTTPMethod(method.uppercased()), path: path, operation: operation, definitions: definitions,
                    forwardedHeaders: forwardedHeaders)
                mcp.add(route.tool(name: name, responder: responder))
            }
        }
    }
}

/// The app's responder, made on first use (after every route is registered).
final class MCPLazyResponder: Sendable {
    private let app: App
    private let made = Mutex<(any HTTPResponder)?>(nil)

    init(app: App) { self.app = app }

    var responder: any HTTPResponder {
        made.withLock { made in
            if let made { return made }
            let responder = app.makeResponder()
            made = responder
            return responder
        }
    }
}

/// One route offered as a tool.
struct MCPRouteTool {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let method: HTTPMethod
    let path: String
    let operation: JSONObject
    let definitions: JSONObject
    let forwardedHeaders: [String]

    /// The path and query parameters: name, where, and whether required.
    private var parameters: [(name: String, location: String, schema: JSONValue, description: String?, required: Bool)] {
        (operation["parameters"]?.arrayValue ?? []).compactMap { value in
            guard let parameter = value.objectValue, let name = parameter["name"]?.stringValue,
                let location = parameter["in"]?.stringValue, location == "path" || location == "query"
            else { return nil }
            return (name, location, parameter["schema"] ?? [:], parameter["description"]?.stringValue, parameter["required"] == true)
        }
    }

    private var bodySchema: (schema: JSONValue, required: Bool)? {
        guard let body = operation["requestBody"]?.objectValue,
            let schema = body["content"]?.objectValue?["application/json"]?.objectValue?["schema"]
        else { return nil }
        return (schema, body["required"] == true)
    }

    /// The schema of the success answer's JSON, if documented.
    private var resultSchema: JSONValue? {
        let responses = operation["responses"]?.objectValue?.members ?? []
        guard let success = responses.first(where: { $0.key.hasPrefix("2") })?.value.objectValue else { return nil }
        return success["content"]?.objectValue?["application/json"]?.objectValue?["schema"]
    }

    /// Whether `schema` (or the definition it refers to) describes an object.
    private func isObject(_ schema: JSONValue) -> Bool {
        guard let object = schema.objectValue else { return false }
        if let reference = object["$ref"]?.stringValue { return definitions[Self.name(reference)].map(isObject) ?? false }
        return object["type"] == "object"
    }

    /// A standalone schema: a reference at the root is replaced by the object it names, and
    /// the definitions it refers to (directly or not) come along under `$defs`.
    private func standalone(_ schema: JSONObject) -> JSONValue {
        var schema = schema
        if let reference = schema["$ref"]?.stringValue, let definition = definitions[Self.name(reference)]?.objectValue {
            schema = definition
        }
        var needed: [String] = []
        var pending = Self.references(in: .object(schema))
        while let name = pending.popLast() {
            guard !needed.contains(name), let definition = definitions[name] else { continue }
            needed.append(name)
            pending += Self.references(in: definition)
        }
        if !needed.isEmpty {
            schema["$defs"] = .object(JSONObject(definitions.members.filter { needed.contains($0.key) }))
        }
        return MCPSchema.rewriteReferences(.object(schema))
    }

    private static func name(_ reference: String) -> String { String(reference.split(separator: "/").last ?? "") }

    /// The definition names `value` refers to.
    private static func references(in value: JSONValue) -> [String] {
        switch value {
        case .object(let object):
            object.members.flatMap { key, value in
                key == "$ref" ? value.stringValue.map { [name($0)] } ?? [] : references(in: value)
            }
        case .array(let values): values.flatMap(references)
        default: []
        }
    }

    func tool(name: String, responder: MCPLazyResponder) -> MCPTool {
        var properties = JSONObject()
        var required: [JSONValue] = []
        for parameter in parameters {
            var schema = parameter.schema.objectValue ?? JSONObject()
            if let description = parameter.description { schema["description"] = .string(description) }
            properties[parameter.name] = .object(schema)
            if parameter.required { required.append(.string(parameter.name)) }
        }
        if let body = bodySchema {
            properties["body"] = body.schema
            if body.required { required.append("body") }
        }
        var input: JSONObject = ["type": "object", "properties": .object(properties)]
        if !required.isEmpty { input["required"] = .array(required) }
        let wrapped = resultSchema.map { !isObject($0) } ?? true
        let output: JSONValue? = resultSchema.map { schema in
            wrapped ? standalone(["type": "object", "properties": ["result": schema], "required": ["result"]]) : standalone(schema.objectValue ?? [:])
        }
        let summary = [operation["summary"]?.stringValue, operation["description"]?.stringValue].compactMap { $0 }
        let route = self
        return MCPTool(
            name: name, description: summary.isEmpty ? nil : summary.joined(separator: "\n\n"), inputSchema: standalone(input),
            outputSchema: output, annotations: MCPToolAnnotations(readOnlyHint: method == .get ? true : nil)
        ) { arguments, context, _ in
            let answer = try await route.call(arguments.objectValue ?? JSONObject(), context: context, responder: responder.responder)
            return wrapped ? ["result": answer] : answer
        }
    }

    /// Sends the call to the app as a request and reads the JSON answer.
    private func call(_ arguments: JSONObject, context: MCPContext, responder: any HTTPResponder) async throws -> JSONValue {
        var target = path
        var query: [String] = []
        for parameter in parameters {
            guard let value = arguments[parameter.name] else {
                if parameter.location == "path" { throw Failure(description: "the argument \(parameter.name) is required") }
                continue
            }
            let texts = (value.arrayValue ?? [value]).map(Self.text)
            if parameter.location == "path" {
                target = target.replacingOccurrences(of: "{\(parameter.name)}", with: Self.escaped(texts.first ?? ""))
            } else {
                query += texts.map { "\(Self.escaped(parameter.name))=\(Self.escaped($0))" }
            }
        }
        if !query.isEmpty { target += "?" + query.joined(separator: "&") }
        var headers = HTTPHeaders()
        headers.add(name: "Accept", value: "application/json")
        for name in forwardedHeaders {
            for value in context.request?.headers.values(for: name) ?? [] { headers.add(name: name, value: value) }
        }
        var body = RequestBody.empty
        if let json = arguments["body"] {
            let bytes = try JSONWriter.encode(json)
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(bytes.readableBytes))
            body = RequestBody(buffer: bytes)
        }
        let response = try await responder.respond(
            to: HTTPRequest(head: HTTPRequestHead(method: method, target: target, headers: headers), body: body))
        let bytes = try await response.body.collect()
        guard (200..<300).contains(response.status.code) else {
            throw Failure(description: "\(method.rawValue) \(target) answered \(response.status.code): \(String(buffer: bytes))")
        }
        return bytes.readableBytes == 0 ? .null : (try? JSONValue.parse(bytes)) ?? .string(String(buffer: bytes))
    }

    private static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .int(let number): String(number)
        case .double(let number): String(number)
        case .bool(let flag): String(flag)
        default: (try? String(buffer: JSONWriter.encode(value))) ?? ""
        }
    }

    private static func escaped(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlUnreservedCharacters) ?? text
    }
}

extension CharacterSet {
    /// RFC 3986's unreserved characters.
    static let urlUnreservedCharacters = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
