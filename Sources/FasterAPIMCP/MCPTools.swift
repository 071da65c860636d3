import FasterAPI
import NIOCore

/// Hints about a tool's behaviour for clients (MCP's tool annotations).
public struct MCPToolAnnotations: Sendable {
    /// A human-readable title.
    public var title: String?
    /// The tool does not change its environment.
    public var readOnlyHint: Bool?
    /// The tool may destroy or overwrite (meaningful when not read-only).
    public var destructiveHint: Bool?
    /// Calling it again with the same arguments has no further effect.
    public var idempotentHint: Bool?
    /// The tool reaches an open world (the web…) rather than a closed one.
    public var openWorldHint: Bool?

    /// Annotations; leave out what does not apply.
    public init(
        title: String? = nil, readOnlyHint: Bool? = nil, destructiveHint: Bool? = nil, idempotentHint: Bool? = nil,
        openWorldHint: Bool? = nil
    ) {
        self.title = title
        self.readOnlyHint = readOnlyHint
        self.destructiveHint = destructiveHint
        self.idempotentHint = idempotentHint
        self.openWorldHint = openWorldHint
    }

    var json: JSONValue? {
        var members: [(key: String, value: JSONValue)] = []
        if let title { members.append(("title", .string(title))) }
        if let readOnlyHint { members.append(("readOnlyHint", .bool(readOnlyHint))) }
        if let destructiveHint { members.append(("destructiveHint", .bool(destructiveHint))) }
        if let idempotentHint { members.append(("idempotentHint", .bool(idempotentHint))) }
        if let openWorldHint { members.append(("openWorldHint", .bool(openWorldHint))) }
        return members.isEmpty ? nil : .object(JSONObject(members))
    }
}

/// A registered tool: how it is listed and how it is called.
struct MCPTool: Sendable {
    let name: String
    let description: String?
    let inputSchema: JSONValue
    let outputSchema: JSONValue?
    let annotations: MCPToolAnnotations
    /// Decodes the arguments (nil after recording why they do not fit) and runs the handler.
    let call: @Sendable (JSONValue, MCPContext, inout ValidationContext) async throws -> JSONValue?

    /// The entry `tools/list` shows.
    var listing: JSONValue {
        var members: [(key: String, value: JSONValue)] = [("name", .string(name))]
        if let description { members.append(("description", .string(description))) }
        members.append(("inputSchema", inputSchema))
        if let outputSchema { members.append(("outputSchema", outputSchema)) }
        if let annotations = annotations.json { members.append(("annotations", annotations)) }
        return .object(JSONObject(members))
    }

    /// A tool whose arguments are `Arguments` and whose structured result is `Output`; both
    /// schemas come from the types, as OpenAPI's do.
    static func make<Arguments: SchemaModel, Output: Encodable & SchemaDescribable & Sendable>(
        name: String, description: String?, annotations: MCPToolAnnotations,
        handler: @escaping @Sendable (Arguments, MCPContext) async throws -> Output
    ) -> MCPTool {
        // Structured content is an object: a model is one; any other result is wrapped as
        // `{"result": …}`, as the Python SDK does.
        let isModel = Output.self is any SchemaModel.Type
        return MCPTool(
            name: name, description: description,
            inputSchema: MCPSchema.standalone { Arguments.modelSchema(in: &$0) },
            outputSchema: MCPSchema.standalone { registry in
                if let model = Output.self as? any SchemaModel.Type { return model.modelSchema(in: &registry) }
                return ["type": "object", "properties": ["result": .object(Output.jsonSchema(in: &registry))], "required": ["result"]]
            },
            annotations: annotations
        ) { arguments, context, validation in
            guard let decoded = Arguments.decode(json: arguments, in: &validation) else { return nil }
            let output = try JSONValue.parse(try JSONWriter.encode(try await handler(decoded, context)))
            return isModel ? output : ["result": output]
        }
    }
}

/// JSON Schemas for MCP: self-contained, with the models they refer to under `$defs`.
enum MCPSchema {
    /// The schema `describe` builds, its `#/components/schemas/…` references rewritten to
    /// `#/$defs/…` and the referenced models attached.
    static func standalone(_ describe: (inout SchemaRegistry) -> JSONObject) -> JSONValue {
        var registry = SchemaRegistry()
        var schema = describe(&registry)
        if !registry.components.members.isEmpty {
            schema["$defs"] = .object(registry.components)
        }
        return rewriteReferences(.object(schema))
    }

    static func rewriteReferences(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            return .object(
                JSONObject(
                    object.members.map { key, value in
                        if key == "$ref", case .string(let reference) = value {
                            return (key, .string(reference.replacingOccurrences(of: "#/components/schemas/", with: "#/$defs/")))
                        }
                        return (key, rewriteReferences(value))
                    }))
        case .array(let elements):
            return .array(elements.map(rewriteReferences))
        default:
            return value
        }
    }
}

/// The tools of a server, by name, in registration order.
struct MCPToolRegistry: Sendable {
    private(set) var tools: [MCPTool] = []

    mutating func add(_ tool: MCPTool) {
        precondition(!tools.contains { $0.name == tool.name }, "MCP tool '\(tool.name)' is registered twice")
        tools.append(tool)
    }

    /// Removes the tool called `name`; false if there is none.
    mutating func remove(named name: String) -> Bool {
        guard let index = tools.firstIndex(where: { $0.name == name }) else { return false }
        tools.remove(at: index)
        return true
    }

    /// `tools/list`'s entries.
    var listing: [JSONValue] { tools.map(\.listing) }

    /// `tools/call`'s result: the structured output (and its text), `isError` when the tool
    /// threw; -32602 for an unknown tool or arguments that do not fit, with the problems.
    func call(_ params: JSONValue?, context toolContext: MCPContext) async throws(JSONRPCError) -> JSONValue {
        guard case .object(let object)? = params, case .string(let name)? = object["name"] else {
            throw .invalidParams("tools/call needs the tool's name")
        }
        guard let tool = tools.first(where: { $0.name == name }) else {
            throw .invalidParams("unknown tool: \(name)")
        }
        var context = ValidationContext(location: ["arguments"])
        let output: JSONValue?
        do {
            output = try await tool.call(object["arguments"] ?? .object(JSONObject()), toolContext, &context)
        } catch {
            return ["content": [["type": "text", "text": .string("\(error)")]], "isError": true]
        }
        guard let output else {
            let issues = (try? JSONValue.parse(try JSONWriter.encode(context.issues))) ?? .array([])
            throw .invalidParams("the arguments do not fit \(name)'s input schema", data: issues)
        }
        let text = (try? String(buffer: JSONWriter.encode(output))) ?? ""
        return ["content": [["type": "text", "text": .string(text)]], "structuredContent": output]
    }
}
