import FasterAPI

/// Sends a message to the client outside an answer (a notification, or a request of ours).
typealias MCPOutbound = @Sendable (JSONRPCMessage) async -> Void

/// What a handler can do beyond returning its result: report progress (when the client asked
/// for it with a progress token), log to the client (at or above the level it set), and ask the
/// client for things — its model (sampling), its user (elicitation), its roots. A cancelled
/// request's handler sees `Task.isCancelled`.
public struct MCPContext: Sendable {
    /// The request being handled.
    public let requestID: JSONRPCID
    /// The capabilities the client declared (`sampling`, `elicitation`, `roots`…).
    public let clientCapabilities: JSONObject
    /// The HTTP request that carried the call (the `POST`, or the request that opened the
    /// WebSocket or event stream), with its headers and credentials; nil on stdio.
    public let request: Request?
    let progressToken: JSONValue?
    let logLevel: MCPLogLevel?
    let related: MCPOutbound
    let session: MCPSessionDriver?

    init(
        requestID: JSONRPCID, params: JSONValue?, logLevel: MCPLogLevel?, clientCapabilities: JSONObject = JSONObject(),
        request: Request? = nil, related: @escaping MCPOutbound, session: MCPSessionDriver? = nil
    ) {
        self.requestID = requestID
        if case .object(let object)? = params, case .object(let meta)? = object["_meta"] {
            progressToken = meta["progressToken"]
        } else {
            progressToken = nil
        }
        self.logLevel = logLevel
        self.clientCapabilities = clientCapabilities
        self.request = request
        self.related = related
        self.session = session
    }

    /// Sends `notifications/progress` (nothing if the client gave no progress token).
    public func progress(_ progress: Double, total: Double? = nil, message: String? = nil) async {
        guard let progressToken else { return }
        var members: [(key: String, value: JSONValue)] = [("progressToken", progressToken), ("progress", .number(progress))]
        if let total { members.append(("total", .number(total))) }
        if let message { members.append(("message", .string(message))) }
        await related(.notification(method: "notifications/progress", params: .object(JSONObject(members))))
    }

    /// Sends `notifications/message` if `level` is at or above the level the client set.
    public func log(_ level: MCPLogLevel, _ message: String, logger: String? = nil) async {
        guard let logLevel, level >= logLevel else { return }
        var members: [(key: String, value: JSONValue)] = [("level", .string(level.rawValue)), ("data", .string(message))]
        if let logger { members.append(("logger", .string(logger))) }
        await related(.notification(method: "notifications/message", params: .object(JSONObject(members))))
    }

    /// Asks the client's model to continue a conversation (`sampling/createMessage`).
    public func sample(_ request: MCPSamplingRequest, timeout: Duration = .seconds(60)) async throws -> MCPSamplingResult {
        try await ask("sampling/createMessage", needs: "sampling", params: .encoding(request), timeout: timeout)
            .decoded(as: MCPSamplingResult.self)
    }

    /// Asks the client's user for an answer shaped by `schema` (`elicitation/create`).
    public func elicit(_ message: String, schema: JSONValue, timeout: Duration = .seconds(300)) async throws
        -> MCPElicitationResult
    {
        let request = MCPElicitationRequest(message: message, requestedSchema: schema)
        return try await ask("elicitation/create", needs: "elicitation", params: .encoding(request), timeout: timeout)
            .decoded(as: MCPElicitationResult.self)
    }

    /// Asks the client's user for a `Model` (a flat `@Schema` model of strings, numbers,
    /// booleans and enums; its schema is what the client shows): the user's action, and the
    /// answer when accepted, validated as a request body would be.
    public func elicit<Model: SchemaModel>(_ message: String, as model: Model.Type, timeout: Duration = .seconds(300))
        async throws -> (action: MCPElicitationResult.Action, value: Model?)
    {
        let result = try await elicit(message, schema: MCPSchema.standalone { Model.modelSchema(in: &$0) }, timeout: timeout)
        guard result.action == .accept, let content = result.content else { return (result.action, nil) }
        var validation = ValidationContext(location: ["content"])
        guard let value = Model.decode(json: content, in: &validation) else {
            throw MCPError.unexpectedAnswer("the answer does not fit \(Model.self): \(validation.issues)")
        }
        return (result.action, value)
    }

    /// Asks the client for the roots it lets the server work in (`roots/list`).
    public func roots(timeout: Duration = .seconds(30)) async throws -> [MCPRoot] {
        let result = try await ask("roots/list", needs: "roots", params: nil, timeout: timeout)
        guard case .object(let object) = result, let roots = object["roots"] else {
            throw MCPError.unexpectedAnswer("roots/list answered without roots")
        }
        return try roots.decoded(as: [MCPRoot].self)
    }

    private func ask(_ method: String, needs capability: String, params: JSONValue?, timeout: Duration) async throws
        -> JSONValue
    {
        guard let session else { throw MCPError.sessionClosed }
        guard clientCapabilities[capability] != nil else { throw MCPError.capabilityMissing(capability) }
        return try await session.request(method, params: params, via: related, timeout: timeout)
    }
}
