import FasterAPI
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// What a client transport does: carry JSON-RPC messages to the server and hand over what the
/// server sends.
protocol MCPClientTransport: Sendable {
    /// Connects; from then on everything the server sends goes to `receive`, a request the
    /// transport could not deliver (or whose answer it lost) to `fail`, and the end of the
    /// connection (the child exited, the socket closed) to `ended`.
    func start(
        receive: @escaping @Sendable (JSONRPCMessage) -> Void, fail: @escaping @Sendable (JSONRPCID, any Error) -> Void,
        ended: @escaping @Sendable () -> Void
    ) async throws
    /// Hands one message over; its answer, if any, comes through `receive` (perhaps before this
    /// returns).
    func send(_ message: JSONRPCMessage) async throws
    /// The session is initialized with `version`.
    func initialized(version: String) async
    /// Ends the session and disconnects.
    func close() async
}

/// How the client answers the server's own requests. A missing handler means the capability
/// is not declared (and such requests are answered -32601).
public struct MCPClientHandlers: Sendable {
    /// Answers `sampling/createMessage` (runs the client's model).
    public var sampling: (@Sendable (MCPSamplingRequest) async throws -> MCPSamplingResult)?
    /// Answers `elicitation/create` (asks the user).
    public var elicitation: (@Sendable (MCPElicitationRequest) async throws -> MCPElicitationResult)?
    /// Answers `roots/list`.
    public var roots: (@Sendable () async throws -> [MCPRoot])?

    /// Handlers for the server's requests.
    public init(
        sampling: (@Sendable (MCPSamplingRequest) async throws -> MCPSamplingResult)? = nil,
        elicitation: (@Sendable (MCPElicitationRequest) async throws -> MCPElicitationResult)? = nil,
        roots: (@Sendable () async throws -> [MCPRoot])? = nil
    ) {
        self.sampling = sampling
        self.elicitation = elicitation
        self.roots = roots
    }
}

/// A notification from the server that belongs to no call: log messages, list changes,
/// resource updates.
public struct MCPNotification: Sendable, Equatable {
    /// The method (`notifications/message`, `notifications/tools/list_changed`…).
    public var method: String
    /// Its params.
    public var params: JSONValue?
}

/// Progress a server reported for a call.
public struct MCPProgress: Sendable, Equatable {
    public var progress: Double
    public var total: Double?
    public var message: String?
}

/// Who the server is, from its `initialize` answer.
public struct MCPServerDescription: Sendable {
    /// The negotiated protocol version.
    public var protocolVersion: String
    /// The server's name and version.
    public var name: String
    public var version: String
    /// Its `capabilities` object.
    public var capabilities: JSONObject
    /// Instructions for the model, if any.
    public var instructions: String?
}

/// An MCP client: connect to a server on any transport, then call its tools, read its
/// resources, get its prompts; the server's own requests go to `handlers`.
///
/// ```swift
/// let client = try await MCPClient.connect(.http("http://127.0.0.1:8000/mcp"))
/// let sum = try await client.callTool("add", arguments: ["a": 1, "b": 2], as: AddResult.self)
/// await client.close()
/// ```
public final class MCPClient: Sendable {
    /// Where the server is and how to talk to it.
    public enum Transport: Sendable {
        /// A child process speaking newline-delimited JSON on its standard input and output
        /// (its standard error is passed through).
        case stdio(executable: String, arguments: [String] = [], environment: [String: String]? = nil)
        /// Streamable HTTP at a URL (`http://…/mcp`).
        case http(String, headers: [(String, String)] = [])
        /// The 2024-11-05 HTTP+SSE transport, by the URL of its event stream (`http://…/sse`).
        case sse(String, headers: [(String, String)] = [])
        /// WebSocket (subprotocol `mcp`).
        case webSocket(String)
    }

    /// A request waiting for its answer: the caller's continuation once it waits, or the
    /// answer if it came first.
    private struct Waiting {
        var continuation: CheckedContinuation<JSONValue, any Error>?
        var result: Result<JSONValue, any Error>?
        let progress: (@Sendable (MCPProgress) -> Void)?
    }

    private struct State {
        var nextID = 0
        var waiting: [JSONRPCID: Waiting] = [:]
        var serving: [JSONRPCID: Task<Void, Never>] = [:]
        var server: MCPServerDescription?
        var closed = false
    }

    private let transport: any MCPClientTransport
    private let handlers: MCPClientHandlers
    private let state = Mutex(State())
    private let notificationsContinuation: AsyncStream<MCPNotification>.Continuation
    /// How many unread notifications are kept (the oldest go first).
    public static let keptNotifications = 10_000
    /// The server's notifications that belong to no call (log messages, list changes, resource
    /// updates), kept until read (the newest ``keptNotifications``).
    public let notifications: AsyncStream<MCPNotification>
    /// How long a request waits for its answer unless told otherwise.
    public let timeout: Duration

    private init(transport: any MCPClientTransport, handlers: MCPClientHandlers, timeout: Duration) {
        self.transport = transport
        self.handlers = handlers
        self.timeout = timeout
        (notifications, notificationsContinuation) = AsyncStream.makeStream(
            of: MCPNotification.self, bufferingPolicy: .bufferingNewest(Self.keptNotifications))
    }

    /// Connects to a server and initializes the session, asking for `protocolVersion`.
    public static func connect(
        _ transport: Transport, name: String = "fasterapi-mcp-client", version: String = "1.0.0",
        protocolVersion: String = MCPProtocolVersion.latest, handlers: MCPClientHandlers = MCPClientHandlers(),
        timeout: Duration = .seconds(60)
    ) async throws -> MCPClient {
        let carrier: any MCPClientTransport =
            switch transport {
            case .stdio(let executable, let arguments, let environment):
                MCPStdioClientTransport(executable: executable, arguments: arguments, environment: environment)
            case .http(let url, let headers): try MCPStreamableHTTPClientTransport(url: url, headers: headers)
            case .sse(let url, let headers): try MCPLegacySSEClientTransport(url: url, headers: headers)
            case .webSocket(let url): MCPWebSocketClientTransport(url: url)
            }
        let client = MCPClient(transport: carrier, handlers: handlers, timeout: timeout)
        do {
            try await carrier.start(
                receive: { [client] message in client.receive(message) },
                fail: { [client] id, error in client.finish(id, .failure(error)) },
                ended: { [client] in client.failAll() })
            try await client.initialize(name: name, version: version, protocolVersion: protocolVersion)
        } catch {
            await client.close()
            throw error
        }
        return client
    }

    /// The server, as its `initialize` answer described it.
    public var server: MCPServerDescription { state.withLock { $0.server! } }

    private func initialize(name: String, version: String, protocolVersion: String) async throws {
        var capabilities = JSONObject()
        if handlers.sampling != nil { capabilities["sampling"] = .object(JSONObject()) }
        if handlers.elicitation != nil { capabilities["elicitation"] = .object(JSONObject()) }
        if handlers.roots != nil { capabilities["roots"] = ["listChanged": true] }
        let result = try await request(
            "initialize",
            [
                "protocolVersion": .string(protocolVersion), "capabilities": .object(capabilities),
                "clientInfo": ["name": .string(name), "version": .string(version)],
            ])
        guard case .object(let object) = result, case .string(let negotiated)? = object["protocolVersion"] else {
            throw MCPError.unexpectedAnswer("initialize answered without a protocolVersion")
        }
        guard MCPProtocolVersion.supported.contains(negotiated) else {
            throw MCPError.unexpectedAnswer("the server speaks protocol \(negotiated), which this client does not")
        }
        let info = object["serverInfo"]?.objectValue ?? JSONObject()
        let description = MCPServerDescription(
            protocolVersion: negotiated, name: info["name"]?.stringValue ?? "", version: info["version"]?.stringValue ?? "",
            capabilities: object["capabilities"]?.objectValue ?? JSONObject(), instructions: object["instructions"]?.stringValue)
        state.withLock { $0.server = description }
        await transport.initialized(version: negotiated)
        try await transport.send(.notification(method: "notifications/initialized", params: nil))
    }

    // MARK: Requests

    /// Sends a request and waits for its result, at most `timeout` (then the server is told the
    /// request is cancelled, as it is when the calling task is cancelled).
    public func request(
        _ method: String, _ params: JSONValue? = nil, timeout: Duration? = nil,
        progress: (@Sendable (MCPProgress) -> Void)? = nil
    ) async throws -> JSONValue {
        let id = state.withLock { state -> JSONRPCID in
            state.nextID += 1
            return .int(state.nextID)
        }
        var params = params
        if progress != nil {
            var object = params?.objectValue ?? JSONObject()
            var meta = object["_meta"]?.objectValue ?? JSONObject()
            meta["progressToken"] = id.json
            object["_meta"] = .object(meta)
            params = .object(object)
        }
        let message = JSONRPCMessage.request(id: id, method: method, params: params)
        // A timer on an event loop costs far less than a sleeping task per request.
        let limit = timeout ?? self.timeout
        let timer = MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: TimeAmount(limit)) {
            Task { await self.abandon(id, method: method, MCPError.timedOut(method: method), reason: "timed out") }
        }
        defer { timer.cancel() }
        let closed = state.withLock { state in
            if !state.closed { state.waiting[id] = Waiting(progress: progress) }
            return state.closed
        }
        guard !closed else { throw MCPError.sessionClosed }
        return try await withTaskCancellationHandler {
            do {
                try await transport.send(message)
            } catch {
                finish(id, .failure(error))
            }
            return try await withCheckedThrowingContinuation { continuation in
                let ready = state.withLock { state -> Result<JSONValue, any Error>? in
                    guard var waiting = state.waiting[id] else { return .failure(MCPError.sessionClosed) }
                    if let result = waiting.result {
                        state.waiting[id] = nil
                        return result
                    }
                    waiting.continuation = continuation
                    state.waiting[id] = waiting
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            Task { await self.abandon(id, method: method, CancellationError(), reason: "cancelled by the client") }
        }
    }

    /// Gives up on request `id` (a `method` call): it fails with `error` and the server is told
    /// (unless it is `initialize`, which may not be cancelled).
    private func abandon(_ id: JSONRPCID, method: String, _ error: any Error, reason: String) async {
        guard finish(id, .failure(error)), method != "initialize" else { return }
        try? await transport.send(
            .notification(method: "notifications/cancelled", params: ["requestId": id.json, "reason": .string(reason)]))
    }

    /// Ends the wait for request `id` with `result` (kept for the caller if it is not waiting
    /// yet; the first result wins); false if no such request is waiting.
    @discardableResult
    private func finish(_ id: JSONRPCID, _ result: Result<JSONValue, any Error>) -> Bool {
        let found = state.withLock { state -> CheckedContinuation<JSONValue, any Error>?? in
            guard var waiting = state.waiting[id], waiting.result == nil else { return nil }
            if let continuation = waiting.continuation {
                state.waiting[id] = nil
                return .some(continuation)
            }
            waiting.result = result
            state.waiting[id] = waiting
            return .some(nil)
        }
        guard let found else { return false }
        found?.resume(with: result)
        return true
    }

    /// Every entry of a paginated list, following `nextCursor` to the end.
    private func all(_ method: String, _ key: String) async throws -> [JSONValue] {
        var entries: [JSONValue] = []
        var cursor: String?
        repeat {
            let result = try await request(method, cursor.map { ["cursor": .string($0)] })
            guard case .object(let object) = result, case .array(let page)? = object[key] else {
                throw MCPError.unexpectedAnswer("\(method) answered without \(key)")
            }
            entries += page
            cursor = object["nextCursor"]?.stringValue
        } while cursor != nil
        return entries
    }

    /// Checks the server is there.
    public func ping() async throws { _ = try await request("ping") }

    /// The server's tools (every page).
    public func listTools() async throws -> [MCPToolDescription] {
        try await all("tools/list", "tools").map { try $0.decoded(as: MCPToolDescription.self) }
    }

    /// Calls a tool; `progress` receives the progress the server reports. A tool's own failure
    /// comes back as a result with `isError`, not as a thrown error.
    public func callTool(
        _ name: String, arguments: JSONValue = [:], timeout: Duration? = nil,
        progress: (@Sendable (MCPProgress) -> Void)? = nil
    ) async throws -> MCPToolResult {
        let result = try await request(
            "tools/call", ["name": .string(name), "arguments": arguments], timeout: timeout, progress: progress)
        return try MCPToolResult(result)
    }

    /// Calls a tool with typed arguments and decodes its structured result as `Output`; a
    /// tool's failure throws ``MCPToolFailure``.
    public func callTool<Arguments: Encodable, Output: Decodable>(
        _ name: String, arguments: Arguments, as output: Output.Type, timeout: Duration? = nil
    ) async throws -> Output {
        let result = try await callTool(name, arguments: .encoding(arguments), timeout: timeout)
        guard !result.isError else { throw MCPToolFailure(tool: name, message: result.text) }
        guard let structured = result.structuredContent else {
            throw MCPError.unexpectedAnswer("tool \(name) gave no structured content")
        }
        return try structured.decoded(as: Output.self)
    }

    /// The server's fixed resources (every page).
    public func listResources() async throws -> [MCPResourceDescription] {
        try await all("resources/list", "resources").map { try $0.decoded(as: MCPResourceDescription.self) }
    }

    /// The server's resource templates (every page).
    public func listResourceTemplates() async throws -> [MCPResourceTemplateDescription] {
        try await all("resources/templates/list", "resourceTemplates").map { try $0.decoded(as: MCPResourceTemplateDescription.self) }
    }

    /// Reads the resource at `uri`.
    public func readResource(_ uri: String) async throws -> [MCPResourceContents] {
        let result = try await request("resources/read", ["uri": .string(uri)])
        guard case .array(let contents)? = result.objectValue?["contents"] else {
            throw MCPError.unexpectedAnswer("resources/read answered without contents")
        }
        return contents.map { entry in
            let object = entry.objectValue ?? JSONObject()
            return MCPResourceContents(
                text: object["text"]?.stringValue, blob: object["blob"]?.stringValue, mimeType: object["mimeType"]?.stringValue)
        }
    }

    /// Asks to be told when the resource at `uri` changes (`notifications/resources/updated`).
    public func subscribe(_ uri: String) async throws { _ = try await request("resources/subscribe", ["uri": .string(uri)]) }

    /// Stops being told about `uri`.
    public func unsubscribe(_ uri: String) async throws { _ = try await request("resources/unsubscribe", ["uri": .string(uri)]) }

    /// The server's prompts (every page).
    public func listPrompts() async throws -> [MCPPromptDescription] {
        try await all("prompts/list", "prompts").map { try $0.decoded(as: MCPPromptDescription.self) }
    }

    /// A prompt's messages for `arguments`.
    public func getPrompt(_ name: String, arguments: [String: String] = [:]) async throws -> MCPPromptResult {
        let object = JSONObject(arguments.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) })
        return try await request("prompts/get", ["name": .string(name), "arguments": .object(object)])
            .decoded(as: MCPPromptResult.self)
    }

    /// Suggestions for an argument of a prompt (`ref/prompt`) or a template variable (`ref/resource`).
    public func complete(reference: JSONValue, argument: String, value: String) async throws -> [String] {
        let result = try await request(
            "completion/complete", ["ref": reference, "argument": ["name": .string(argument), "value": .string(value)]])
        guard case .array(let values)? = result.objectValue?["completion"]?.objectValue?["values"] else {
            throw MCPError.unexpectedAnswer("completion/complete answered without values")
        }
        return values.compactMap(\.stringValue)
    }

    /// Asks the server to send log messages at `level` and above (they arrive in ``notifications``).
    public func setLoggingLevel(_ level: MCPLogLevel) async throws {
        _ = try await request("logging/setLevel", ["level": .string(level.rawValue)])
    }

    /// Tells the server the roots changed (it may then ask for them again).
    public func rootsChanged() async throws {
        try await transport.send(.notification(method: "notifications/roots/list_changed", params: nil))
    }

    /// Ends the session: requests still waiting fail, the transport disconnects (a child process
    /// is stopped).
    public func close() async {
        failAll()
        await transport.close()
    }

    /// Fails every request still waiting and stops serving the server's requests (the session
    /// is over).
    private func failAll() {
        let (waiting, serving) = state.withLock { state in
            state.closed = true
            defer {
                state.waiting = [:]
                state.serving = [:]
            }
            return (Array(state.waiting.values), Array(state.serving.values))
        }
        for entry in waiting { entry.continuation?.resume(throwing: MCPError.sessionClosed) }
        for task in serving { task.cancel() }
        notificationsContinuation.finish()
    }

    // MARK: What the server sends

    /// Takes in what the server sent: answers and progress at once (on the transport's thread),
    /// the server's requests in tasks of their own.
    private func receive(_ message: JSONRPCMessage) {
        switch message {
        case .response(let id, let result):
            finish(id, .success(result))
        case .error(let id?, let error):
            finish(id, .failure(error))
        case .error(nil, _):
            break
        case .request(let id, let method, let params):
            // Registered under the lock its end takes, so a quick answer is not taken for cancelled.
            state.withLock { state in state.serving[id] = Task {
                let answer: JSONRPCMessage
                do {
                    answer = .response(id: id, result: try await self.serve(method, params))
                } catch let error as JSONRPCError {
                    answer = .error(id: id, error)
                } catch {
                    answer = .error(id: id, JSONRPCError(code: -32603, message: String(describing: error)))
                }
                let cancelled = self.state.withLock { $0.serving.removeValue(forKey: id) == nil }
                if !cancelled { try? await self.transport.send(answer) }
            } }
        case .notification("notifications/progress", let params?):
            guard let object = params.objectValue, let token = object["progressToken"].flatMap(JSONRPCID.init),
                let handler = state.withLock({ $0.waiting[token]?.progress })
            else { return }
            handler(
                MCPProgress(
                    progress: object["progress"]?.doubleValue ?? 0, total: object["total"]?.doubleValue,
                    message: object["message"]?.stringValue))
        case .notification("notifications/cancelled", let params?):
            guard let id = params.objectValue?["requestId"].flatMap(JSONRPCID.init) else { return }
            state.withLock { $0.serving.removeValue(forKey: id) }?.cancel()
        case .notification(let method, let params):
            notificationsContinuation.yield(MCPNotification(method: method, params: params))
        }
    }

    /// The result of one of the server's requests.
    private func serve(_ method: String, _ params: JSONValue?) async throws -> JSONValue {
        switch method {
        case "ping":
            return .object(JSONObject())
        case "sampling/createMessage":
            guard let sampling = handlers.sampling else { throw JSONRPCError.methodNotFound(method) }
            guard let request = try? (params ?? .null).decoded(as: MCPSamplingRequest.self) else {
                throw JSONRPCError.invalidParams("not a sampling request")
            }
            return try .encoding(try await sampling(request))
        case "elicitation/create":
            guard let elicitation = handlers.elicitation else { throw JSONRPCError.methodNotFound(method) }
            guard let request = try? (params ?? .null).decoded(as: MCPElicitationRequest.self) else {
                throw JSONRPCError.invalidParams("not an elicitation request")
            }
            return try .encoding(try await elicitation(request))
        case "roots/list":
            guard let roots = handlers.roots else { throw JSONRPCError.methodNotFound(method) }
            return ["roots": try .encoding(try await roots())]
        default:
            throw JSONRPCError.methodNotFound(method)
        }
    }
}

/// A tool, as `tools/list` describes it.
public struct MCPToolDescription: Sendable, Equatable, Decodable {
    public var name: String
    public var title: String?
    public var description: String?
    /// The JSON schema of its arguments.
    public var inputSchema: JSONValue
    /// The JSON schema of its structured result, if it declares one.
    public var outputSchema: JSONValue?
    /// Hints about its behaviour (`readOnlyHint`, `destructiveHint`…).
    public var annotations: JSONValue?
}

/// What a tool call gave: content for the model, structured content for programs, and whether
/// the tool failed.
public struct MCPToolResult: Sendable, Equatable {
    /// The content items, as sent.
    public var content: [JSONValue]
    /// The structured result, if any.
    public var structuredContent: JSONValue?
    /// Whether the tool reported a failure.
    public var isError: Bool

    /// The text of the text content items, joined by newlines.
    public var text: String {
        content.compactMap { $0.objectValue?["type"] == "text" ? $0.objectValue?["text"]?.stringValue : nil }
            .joined(separator: "\n")
    }

    init(_ result: JSONValue) throws {
        guard case .object(let object) = result else { throw MCPError.unexpectedAnswer("tools/call answered \(result)") }
        if case .array(let content)? = object["content"] { self.content = content } else { self.content = [] }
        structuredContent = object["structuredContent"]
        isError = object["isError"] == .bool(true)
    }
}

/// A tool's failure, thrown by the typed ``MCPClient/callTool(_:arguments:as:timeout:)``.
public struct MCPToolFailure: Error, Sendable, Equatable {
    public var tool: String
    /// What the tool said.
    public var message: String
}

/// A fixed resource, as `resources/list` describes it.
public struct MCPResourceDescription: Sendable, Equatable, Decodable {
    public var uri: String
    public var name: String
    public var description: String?
    public var mimeType: String?
}

/// A resource template, as `resources/templates/list` describes it.
public struct MCPResourceTemplateDescription: Sendable, Equatable, Decodable {
    public var uriTemplate: String
    public var name: String
    public var description: String?
    public var mimeType: String?
}

/// A prompt, as `prompts/list` describes it.
public struct MCPPromptDescription: Sendable, Equatable, Decodable {
    /// One of its arguments.
    public struct Argument: Sendable, Equatable, Decodable {
        public var name: String
        public var description: String?
        public var required: Bool?
    }

    public var name: String
    public var description: String?
    public var arguments: [Argument]?
}

/// A prompt's messages, from `prompts/get`.
public struct MCPPromptResult: Sendable, Equatable, Decodable {
    /// One message.
    public struct Message: Sendable, Equatable, Decodable {
        public var role: String
        public var content: MCPContent
    }

    public var description: String?
    public var messages: [Message]
}
