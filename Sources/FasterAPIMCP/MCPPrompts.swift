import FasterAPI

/// An argument a prompt takes.
public struct MCPPromptArgument: Sendable {
    /// Its name.
    public var name: String
    /// What it is for.
    public var description: String?
    /// Whether `prompts/get` must supply it.
    public var required: Bool

    /// An argument.
    public init(_ name: String, description: String? = nil, required: Bool = false) {
        self.name = name
        self.description = description
        self.required = required
    }
}

/// One message of a prompt.
public struct MCPPromptMessage: Sendable, Equatable {
    /// Who says it.
    public enum Role: String, Sendable { case user, assistant }

    /// Who says it.
    public var role: Role
    /// The text.
    public var text: String

    /// A text message.
    public init(_ role: Role, _ text: String) {
        self.role = role
        self.text = text
    }

    var json: JSONValue { ["role": .string(role.rawValue), "content": ["type": "text", "text": .string(text)]] }
}

/// The prompts of a server.
struct MCPPromptRegistry: Sendable {
    struct Prompt: Sendable {
        let name: String
        let description: String?
        let arguments: [MCPPromptArgument]
        let render: @Sendable ([String: String]) async throws -> [MCPPromptMessage]
    }

    private(set) var prompts: [Prompt] = []

    mutating func add(_ prompt: Prompt) {
        precondition(!prompts.contains { $0.name == prompt.name }, "MCP prompt '\(prompt.name)' is registered twice")
        prompts.append(prompt)
    }

    /// Removes the prompt called `name`; false if there is none.
    mutating func remove(named name: String) -> Bool {
        guard let index = prompts.firstIndex(where: { $0.name == name }) else { return false }
        prompts.remove(at: index)
        return true
    }

    /// `prompts/list`'s entries.
    var listing: [JSONValue] {
                prompts.map { prompt in
                    var members: [(key: String, value: JSONValue)] = [("name", .string(prompt.name))]
                    if let description = prompt.description { members.append(("description", .string(description))) }
                    members.append(
                        (
                            "arguments",
                            .array(
                                prompt.arguments.map { argument in
                                    var fields: [(key: String, value: JSONValue)] = [("name", .string(argument.name))]
                                    if let description = argument.description {
                                        fields.append(("description", .string(description)))
                                    }
                                    fields.append(("required", .bool(argument.required)))
                                    return .object(JSONObject(fields))
                                })
                        ))
                    return .object(JSONObject(members))
                }
    }

    /// `prompts/get`'s result; -32602 for an unknown prompt or a missing required argument.
    func get(_ params: JSONValue?) async throws(JSONRPCError) -> JSONValue {
        guard case .object(let object)? = params, case .string(let name)? = object["name"] else {
            throw .invalidParams("prompts/get needs the prompt's name")
        }
        guard let prompt = prompts.first(where: { $0.name == name }) else { throw .invalidParams("unknown prompt: \(name)") }
        var values: [String: String] = [:]
        if case .object(let arguments)? = object["arguments"] {
            for (key, value) in arguments.members {
                guard case .string(let text) = value else { throw .invalidParams("prompt argument '\(key)' must be a string") }
                values[key] = text
            }
        }
        let missing = prompt.arguments.filter { $0.required && values[$0.name] == nil }.map(\.name)
        guard missing.isEmpty else {
            throw .invalidParams("missing required arguments: \(missing.joined(separator: ", "))")
        }
        do {
            let messages = try await prompt.render(values)
            var members: [(key: String, value: JSONValue)] = []
            if let description = prompt.description { members.append(("description", .string(description))) }
            members.append(("messages", .array(messages.map(\.json))))
            return .object(JSONObject(members))
        } catch {
            throw .internalError("rendering \(name) failed: \(error)")
        }
    }
}
