import FasterAPI

/// The MCP protocol versions this implementation speaks, oldest first.
public enum MCPProtocolVersion {
    /// Every supported version.
    public static let supported = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
    /// The newest, answered when a client asks for one we do not know.
    public static let latest = supported.last!

    /// The version to answer a client asking for `requested` with: its own if we speak it, else
    /// our newest (the client then decides whether it can go on).
    public static func negotiate(_ requested: String) -> String {
        supported.contains(requested) ? requested : latest
    }

    /// Whether `version` lets a client send JSON-RPC batches (only 2025-03-26 did).
    static func allowsBatches(_ version: String) -> Bool { version == "2025-03-26" }
}

/// A log message's severity (RFC 5424's levels, least severe first).
public enum MCPLogLevel: String, Sendable, CaseIterable, Comparable {
    case debug, info, notice, warning, error, critical, alert, emergency

    public static func < (lhs: MCPLogLevel, rhs: MCPLogLevel) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Who the server is and what it offers, as `initialize` answers.
public struct MCPServerInfo: Sendable {
    /// The implementation's name.
    public var name: String
    /// Its version.
    public var version: String
    /// The `capabilities` object (tools, resources, prompts, logging, completions…).
    public var capabilities: JSONValue
    /// Optional instructions for the model.
    public var instructions: String?

    /// Server information.
    public init(name: String, version: String, capabilities: JSONValue = [:], instructions: String? = nil) {
        self.name = name
        self.version = version
        self.capabilities = capabilities
        self.instructions = instructions
    }
}

/// One MCP session on the server side, as a value type: it is fed the client's messages and
/// says what to do with each (answer now, hand to a method handler, pass on a notification or a
/// response to one of our own requests). Lifecycle, version negotiation and batch rules live
/// here; no I/O does.
struct MCPServerSession {
    enum Phase: Equatable {
        /// Nothing but `initialize` (and `ping`) yet.
        case awaitingInitialize
        /// `initialize` answered; waiting for `notifications/initialized`.
        case initializing(version: String)
        /// In operation.
        case ready(version: String)
    }

    /// What to do with an incoming message.
    enum Action: Equatable {
        /// Send this answer now.
        case answer(JSONRPCMessage)
        /// Run the method's handler; answer under `id`.
        case handle(id: JSONRPCID, method: String, params: JSONValue?)
        /// A notification for the server (cancellation, progress, roots changed…).
        case notify(method: String, params: JSONValue?)
        /// The client's answer to one of our requests (sampling, elicitation, roots).
        case reply(id: JSONRPCID, result: Result<JSONValue, JSONRPCError>)
        /// Nothing to do.
        case none
    }

    /// The methods a server answers (besides `initialize` and `ping`).
    static let methods: Set<String> = [
        "tools/list", "tools/call", "resources/list", "resources/templates/list", "resources/read",
        "resources/subscribe", "resources/unsubscribe", "prompts/list", "prompts/get", "completion/complete",
        "logging/setLevel",
    ]

    private(set) var phase = Phase.awaitingInitialize
    /// The least severe log level the client wants (`logging/setLevel`); nil: none asked for.
    private(set) var logLevel: MCPLogLevel?
    /// The `capabilities` the client declared in `initialize` (sampling, elicitation, roots).
    private(set) var clientCapabilities = JSONObject()
    /// The resource URIs the client subscribed to.
    private(set) var subscriptions: Set<String> = []
    let info: MCPServerInfo

    init(info: MCPServerInfo) { self.info = info }

    /// Whether the session is in operation (server notifications may be sent).
    var isReady: Bool {
        if case .ready = phase { return true }
        return false
    }

    /// The negotiated version, once `initialize` has been answered.
    var version: String? {
        switch phase {
        case .awaitingInitialize: nil
        case .initializing(let version), .ready(let version): version
        }
    }

    /// What to do with each message of `payload` (a batch answers element by element; a batch
    /// the negotiated version does not allow is one -32600).
    mutating func receive(_ payload: JSONRPCPayload) -> [Action] {
        switch payload {
        case .single(let message):
            return [receive(message)]
        case .batch(let elements):
            guard let version, MCPProtocolVersion.allowsBatches(version) else {
                let reason = version.map { "protocol version \($0) does not allow batches" } ?? "no batches before initialize"
                return [.answer(.error(id: nil, .invalidRequest(reason)))]
            }
            return elements.map { receive($0) }
        }
    }

    private mutating func receive(_ message: Result<JSONRPCMessage, JSONRPCDecodingFailure>) -> Action {
        switch message {
        case .failure(let failure):
            return .answer(.error(id: failure.id, failure.error))
        case .success(.request(let id, "initialize", let params)):
            return initialize(id: id, params: params)
        case .success(.request(let id, "ping", _)):
            return .answer(.response(id: id, result: .object(JSONObject())))
        case .success(.request(let id, "logging/setLevel", let params)) where version != nil:
            guard case .object(let object)? = params, case .string(let name)? = object["level"],
                let level = MCPLogLevel(rawValue: name)
            else {
                let names = MCPLogLevel.allCases.map(\.rawValue).joined(separator: ", ")
                return .answer(.error(id: id, .invalidParams("level must be one of \(names)")))
            }
            logLevel = level
            return .answer(.response(id: id, result: .object(JSONObject())))
        case .success(.request(let id, let method, let params))
        where version != nil && (method == "resources/subscribe" || method == "resources/unsubscribe"):
            guard case .object(let object)? = params, case .string(let uri)? = object["uri"] else {
                return .answer(.error(id: id, .invalidParams("\(method) needs a uri")))
            }
            if method == "resources/subscribe" { subscriptions.insert(uri) } else { subscriptions.remove(uri) }
            return .answer(.response(id: id, result: .object(JSONObject())))
        case .success(.request(let id, let method, let params)):
            guard version != nil else {
                // An unknown method is -32601 even now: a client probing a newer protocol's
                // methods (`server/discover`) then falls back to initialize.
                guard Self.methods.contains(method) else { return .answer(.error(id: id, .methodNotFound(method))) }
                return .answer(.error(id: id, .invalidRequest("the session is not initialized: send initialize first")))
            }
            return .handle(id: id, method: method, params: params)
        case .success(.notification("notifications/initialized", _)):
            if case .initializing(let version) = phase { phase = .ready(version: version) }
            return .none
        case .success(.notification(let method, let params)):
            return version == nil ? .none : .notify(method: method, params: params)
        case .success(.response(let id, let result)):
            return .reply(id: id, result: .success(result))
        case .success(.error(let id, let error)):
            guard let id else { return .none }
            return .reply(id: id, result: .failure(error))
        }
    }

    private mutating func initialize(id: JSONRPCID, params: JSONValue?) -> Action {
        guard version == nil else {
            return .answer(.error(id: id, .invalidRequest("the session is already initialized")))
        }
        guard case .object(let object)? = params, case .string(let requested)? = object["protocolVersion"] else {
            return .answer(.error(id: id, .invalidParams("initialize needs a protocolVersion string")))
        }
        let version = MCPProtocolVersion.negotiate(requested)
        phase = .initializing(version: version)
        if case .object(let capabilities)? = object["capabilities"] { clientCapabilities = capabilities }
        var result: [(key: String, value: JSONValue)] = [
            ("protocolVersion", .string(version)),
            ("capabilities", info.capabilities),
            ("serverInfo", ["name": .string(info.name), "version": .string(info.version)]),
        ]
        if let instructions = info.instructions { result.append(("instructions", .string(instructions))) }
        return .answer(.response(id: id, result: .object(JSONObject(result))))
    }
}
