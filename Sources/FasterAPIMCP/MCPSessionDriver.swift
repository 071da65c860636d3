import FasterAPI
import FasterAPICore
import Synchronization

/// Runs one session on any transport. The session's value type decides what each message
/// needs; the driver runs requests concurrently (so `notifications/cancelled` can stop one: its
/// answer is then not sent), sends the server's own requests (sampling, elicitation, roots) and
/// matches the client's answers to them, and delivers notifications that belong to no request
/// (list changes, resource updates) through `unsolicited`.
final class MCPSessionDriver: Sendable {
    private struct State {
        var session: MCPServerSession
        var inFlight: [JSONRPCID: Task<JSONRPCMessage?, Never>] = [:]
        var waiting: [JSONRPCID: CheckedContinuation<JSONValue, any Error>] = [:]
        var nextRequestID = 0
        /// Tasks sending the answers of a message transport's requests, until they have.
        var senders: [Int: Task<Void, Never>] = [:]
        var nextSender = 0
        var closed = false
    }

    /// The answers to one payload: some known at once, the others when their handlers end.
    struct Replies: Sendable {
        enum Part: Sendable {
            case ready(JSONRPCMessage)
            case running(Task<JSONRPCMessage?, Never>)
        }

        let parts: [Part]
        /// Whether the payload was a batch (answered as one array).
        let isBatch: Bool

        /// Whether nothing will be answered (the payload held only notifications and responses).
        var isEmpty: Bool { parts.isEmpty }

        /// The answers known now, if none is still running.
        var immediate: [JSONRPCMessage]? {
            var messages: [JSONRPCMessage] = []
            for part in parts {
                guard case .ready(let message) = part else { return nil }
                messages.append(message)
            }
            return messages
        }

        /// Every answer, in order, once all handlers have ended (cancelled ones are left out).
        func collect() async -> [JSONRPCMessage] {
            var messages: [JSONRPCMessage] = []
            for part in parts {
                switch part {
                case .ready(let message): messages.append(message)
                case .running(let task): if let message = await task.value { messages.append(message) }
                }
            }
            return messages
        }

        /// The answers as one JSON value to send (an array for a batch); nil when there are none.
        static func json(_ messages: [JSONRPCMessage], batch: Bool) -> JSONValue? {
            if batch { return messages.isEmpty ? nil : .array(messages.map(\.json)) }
            return messages.first?.json
        }
    }

    let server: MCPServer
    private let state: Mutex<State>
    private let unsolicited: MCPOutbound

    /// A session of `server`; `unsolicited` carries the notifications that belong to no request.
    init(server: MCPServer, unsolicited: @escaping MCPOutbound) {
        self.server = server
        self.state = Mutex(State(session: server.makeSession()))
        self.unsolicited = unsolicited
        server.attach(self)
    }

    /// A session on a message transport (stdio, WebSocket, the legacy SSE transport), where
    /// everything goes out through `send` (an array for a batch's answers).
    convenience init(server: MCPServer, send: @escaping @Sendable (JSONValue) async -> Void) {
        self.init(server: server, unsolicited: { await send($0.json) })
    }

    /// The negotiated protocol version, once initialized.
    var version: String? { state.withLock { $0.session.version } }

    /// Takes in one payload: the session decides now; requests start running, and messages they
    /// send on the way (progress, logs, requests to the client) go to `related`. `request` is
    /// the HTTP request that carried the payload, if any (handlers see it in their context).
    /// `answered` hears each running request's answer as its handler ends (nil if cancelled).
    func accept(
        _ payload: JSONRPCPayload, request: Request? = nil, related: @escaping MCPOutbound,
        answered: (@Sendable (JSONRPCMessage?) -> Void)? = nil
    ) -> Replies {
        let (actions, logLevel, capabilities) = state.withLock {
            ($0.session.receive(payload), $0.session.logLevel, $0.session.clientCapabilities)
        }
        var parts: [Replies.Part] = []
        for action in actions {
            switch action {
            case .answer(let message):
                parts.append(.ready(message))
            case .handle(let id, let method, let params):
                let context = MCPContext(
                    requestID: id, params: params, logLevel: logLevel, clientCapabilities: capabilities, request: request,
                    related: related, session: self)
                let server = self.server
                // Registered under the lock the task's end takes, so a quick handler cannot end
                // before it is registered (and be taken for cancelled).
                let executor = EventLoopTaskExecutor.current
                let task = state.withLock { state in
                    let task = Task(executorPreference: executor) {
                        let reply = await server.respond(id: id, method: method, params: params, context: context)
                        let cancelled = self.state.withLock { $0.inFlight.removeValue(forKey: id) == nil }
                        let answer = cancelled || Task.isCancelled ? nil : reply
                        answered?(answer)
                        return answer
                    }
                    state.inFlight[id] = task
                    return task
                }
                parts.append(.running(task))
            case .notify("notifications/cancelled", let params):
                guard case .object(let object)? = params, let id = object["requestId"].flatMap(JSONRPCID.init) else { break }
                state.withLock { $0.inFlight.removeValue(forKey: id) }?.cancel()
            case .reply(let id, let result):
                state.withLock { $0.waiting.removeValue(forKey: id) }?.resume(with: result.mapError { $0 as any Error })
            case .notify, .none:
                break
            }
        }
        return Replies(parts: parts, isBatch: payload.isBatch)
    }

    /// Handles one payload from a message transport: answers known at once are sent now (so
    /// they keep their order), the others when their handlers end.
    func receive(_ payload: JSONRPCPayload, request: Request? = nil, send: @escaping @Sendable (JSONValue) async -> Void) async {
        let replies = accept(payload, request: request, related: { await send($0.json) })
        if let immediate = replies.immediate {
            if let json = Replies.json(immediate, batch: replies.isBatch) { await send(json) }
            return
        }
        // Registered under the lock its end takes, so it cannot end before it is registered.
        state.withLock { state in
            state.nextSender += 1
            let number = state.nextSender
            state.senders[number] = Task {
                if let json = Replies.json(await replies.collect(), batch: replies.isBatch) { await send(json) }
                self.state.withLock { $0.senders[number] = nil }
            }
        }
    }

    /// Sends a request to the client through `outbound` and waits for its answer, at most
    /// `timeout` (then the client is told the request is cancelled).
    func request(_ method: String, params: JSONValue?, via outbound: @escaping MCPOutbound, timeout: Duration)
        async throws -> JSONValue
    {
        let id = state.withLock { state -> JSONRPCID in
            state.nextRequestID += 1
            return .int(state.nextRequestID)
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            if self.finish(id, .failure(MCPError.timedOut(method: method))) {
                await outbound(.notification(method: "notifications/cancelled", params: ["requestId": id.json, "reason": "timed out"]))
            }
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let closed = state.withLock { state in
                    if !state.closed { state.waiting[id] = continuation }
                    return state.closed
                }
                guard !closed else { return continuation.resume(throwing: MCPError.sessionClosed) }
                Task { await outbound(.request(id: id, method: method, params: params)) }
            }
        } onCancel: {
            _ = finish(id, .failure(CancellationError()))
        }
    }

    /// Ends the wait for request `id` with `result`; false if nothing was waiting.
    private func finish(_ id: JSONRPCID, _ result: Result<JSONValue, any Error>) -> Bool {
        guard let continuation = state.withLock({ $0.waiting.removeValue(forKey: id) }) else { return false }
        continuation.resume(with: result)
        return true
    }

    /// Sends a notification that belongs to no request, once the session is in operation;
    /// `onlyIfSubscribed` limits it to sessions subscribed to that resource URI.
    func notify(_ message: JSONRPCMessage, onlyIfSubscribed uri: String? = nil) async {
        let wanted = state.withLock { state in
            state.session.isReady && !state.closed && uri.map { state.session.subscriptions.contains($0) } ?? true
        }
        if wanted { await unsolicited(message) }
    }

    /// Cancels the requests still running, fails the server's requests still waiting for the
    /// client, and detaches from the server.
    func close() {
        let (tasks, waiting) = state.withLock { state in
            state.closed = true
            defer {
                state.inFlight = [:]
                state.waiting = [:]
            }
            return (Array(state.inFlight.values), Array(state.waiting.values))
        }
        for task in tasks { task.cancel() }
        for continuation in waiting { continuation.resume(throwing: MCPError.sessionClosed) }
        server.detach(self)
    }

    /// Waits (at most `grace`) for the requests still running and their answers to be sent,
    /// then closes the session (cancelling what still runs).
    func finish(grace: Duration = .seconds(5)) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for task in self.state.withLock({ Array($0.inFlight.values) }) { _ = await task.value }
                for task in self.state.withLock({ Array($0.senders.values) }) { await task.value }
            }
            group.addTask { try? await Task.sleep(for: grace) }
            await group.next()
            // Cancels what still runs (awaiting a task's value does not end when the waiter is cancelled).
            close()
            group.cancelAll()
        }
    }
}

extension JSONRPCID {
    /// The id in a JSON value (`requestId` of a cancellation), if it is a string or an integer.
    init?(_ value: JSONValue) {
        switch value {
        case .int(let number): self = .int(number)
        case .string(let text): self = .string(text)
        default: return nil
        }
    }
}
