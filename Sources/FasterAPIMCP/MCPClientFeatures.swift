import FasterAPI
import Foundation

/// One piece of message content: text, or base64 image or audio data.
public enum MCPContent: Sendable, Equatable, Codable {
    case text(String)
    case image(data: String, mimeType: String)
    case audio(data: String, mimeType: String)

    private enum CodingKeys: String, CodingKey { case type, text, data, mimeType }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .type) {
        case "text": self = .text(try container.decode(String.self, forKey: .text))
        case "image":
            self = .image(data: try container.decode(String.self, forKey: .data), mimeType: try container.decode(String.self, forKey: .mimeType))
        case "audio":
            self = .audio(data: try container.decode(String.self, forKey: .data), mimeType: try container.decode(String.self, forKey: .mimeType))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown content type \(other)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .text(let text):
            try container.encode("text", forKey: .type)
            try container.encode(text, forKey: .text)
        case .image(let data, let mimeType), .audio(let data, let mimeType):
            try container.encode(self.isImage ? "image" : "audio", forKey: .type)
            try container.encode(data, forKey: .data)
            try container.encode(mimeType, forKey: .mimeType)
        }
    }

    private var isImage: Bool {
        if case .image = self { return true }
        return false
    }

    /// The text, if this is text content.
    public var text: String? {
        if case .text(let text) = self { return text }
        return nil
    }
}

/// A directory or file the client lets the server work in (`roots/list`).
public struct MCPRoot: Sendable, Equatable, Codable {
    /// A `file://` URI.
    public var uri: String
    /// A name for people.
    public var name: String?

    /// A root at `uri`.
    public init(uri: String, name: String? = nil) {
        self.uri = uri
        self.name = name
    }
}

/// A message of a sampling conversation.
public struct MCPSamplingMessage: Sendable, Equatable, Codable {
    /// `user` or `assistant`.
    public var role: String
    /// What it says.
    public var content: MCPContent

    /// A message from `role`.
    public init(role: String, content: MCPContent) {
        self.role = role
        self.content = content
    }
}

/// What a server asks the client's model (`sampling/createMessage`).
public struct MCPSamplingRequest: Sendable, Equatable, Codable {
    /// The conversation so far.
    public var messages: [MCPSamplingMessage]
    /// The most tokens to generate.
    public var maxTokens: Int
    /// A system prompt the client may use.
    public var systemPrompt: String?
    /// The sampling temperature.
    public var temperature: Double?
    /// Sequences that end generation.
    public var stopSequences: [String]?
    /// Hints and priorities for the client's choice of model.
    public var modelPreferences: JSONValue?

    /// A request for at most `maxTokens` tokens continuing `messages`.
    public init(
        messages: [MCPSamplingMessage], maxTokens: Int, systemPrompt: String? = nil, temperature: Double? = nil,
        stopSequences: [String]? = nil, modelPreferences: JSONValue? = nil
    ) {
        self.messages = messages
        self.maxTokens = maxTokens
        self.systemPrompt = systemPrompt
        self.temperature = temperature
        self.stopSequences = stopSequences
        self.modelPreferences = modelPreferences
    }
}

/// The client's model's answer to a sampling request.
public struct MCPSamplingResult: Sendable, Equatable, Codable {
    /// Usually `assistant`.
    public var role: String
    /// What the model said.
    public var content: MCPContent
    /// The model that said it.
    public var model: String
    /// Why it stopped (`endTurn`, `maxTokens`, `stopSequence`…).
    public var stopReason: String?

    /// An answer from `model`.
    public init(role: String = "assistant", content: MCPContent, model: String, stopReason: String? = nil) {
        self.role = role
        self.content = content
        self.model = model
        self.stopReason = stopReason
    }
}

/// What the server asks the user through the client (`elicitation/create`).
public struct MCPElicitationRequest: Sendable, Equatable, Codable {
    /// What to ask.
    public var message: String
    /// The JSON schema (flat object of primitives) of the answer.
    public var requestedSchema: JSONValue

    /// A request for an answer shaped by `requestedSchema`.
    public init(message: String, requestedSchema: JSONValue) {
        self.message = message
        self.requestedSchema = requestedSchema
    }
}

/// The user's reply to an elicitation.
public struct MCPElicitationResult: Sendable, Equatable, Codable {
    /// What the user did.
    public enum Action: String, Sendable, Codable {
        case accept, decline, cancel
    }

    /// Accepted (with `content`), declined or cancelled.
    public var action: Action
    /// The answer, when accepted.
    public var content: JSONValue?

    /// A reply.
    public init(action: Action, content: JSONValue? = nil) {
        self.action = action
        self.content = content
    }
}

/// Errors of MCP's own beyond JSON-RPC's.
public enum MCPError: Error, Sendable, Equatable {
    /// The peer did not answer a request within its timeout.
    case timedOut(method: String)
    /// The session ended before the answer came.
    case sessionClosed
    /// The peer did not declare the capability a request needs (sampling, elicitation, roots).
    case capabilityMissing(String)
    /// The peer's answer did not have the expected shape.
    case unexpectedAnswer(String)
}

extension JSONValue {
    /// `value` as JSON, leaving out members whose value is nil (the protocol's optional fields
    /// are absent rather than null).
    static func encoding(_ value: some Encodable) throws -> JSONValue {
        try JSONValue.parse(try JSONWriter.encode(value)).droppingNulls
    }

    private var droppingNulls: JSONValue {
        switch self {
        case .object(let object): .object(JSONObject(object.members.filter { $0.value != .null }.map { ($0.key, $0.value.droppingNulls) }))
        case .array(let values): .array(values.map(\.droppingNulls))
        default: self
        }
    }

    /// This JSON decoded as `T`.
    func decoded<T: Decodable>(as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(try JSONWriter.encode(self).readableBytesView))
    }
}
