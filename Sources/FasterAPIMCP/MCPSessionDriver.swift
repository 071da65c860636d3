import FasterAPI
import Synchronization

/// Runs one session over a message transport (stdio, WebSocket, the legacy SSE transport):
/// requests run concurrently, so `notifications/cancelled` can stop one mid-way (its answer is
/// then not sent); everything else is answered in order of arrival.
final class MCPSessionDriver: Sendable {
    private struct State {
        var session: MCPServerSession
        var inFlight: [JSONRPCID: Task<Void, Never>] = [:]
    }

    private let server: MCPServer
    private let state: Mutex<State>
    /// Sends a message, or an array of them for a batch.
    private let send: @Sendable (JSONValue) async -> Void

    init(server: MCPServer, send: @escaping @Sendable (JSONValue) async -> Void) {
        self.server = server
        self.state = Mutex(State(session: server.makeSession()))
        self.send = send
    }

    /// Handles one payload from the client.
    func receive(_ payload: JSONRPCPayload) async {
        let (actions, logLevel) = state.withLock { ($0.session.receive(payload), $0.session.logLevel) }
        let send = self.send
        let outbound: MCPOutbound = { await send($0.json) }
        if case .batch = payload {
            let replies = await server.perform(actions, logLevel: logLevel, outbound: outbound)
            if !replies.isEmpty { await send(.array(replies.map(\.json))) }
            return
        }
        for action in actions {
            switch action {
            case .handle(let id, _, _):
                let server = self.server
                // Registered under the lock the task's end takes, so a quick handler cannot end
                // before it is registered (and be taken for cancelled).
                state.withLock { state in
                    state.inFlight[id] = Task {
                        let replies = await server.perform([action], logLevel: logLevel, outbound: outbound)
                        let cancelled = self.state.withLock { $0.inFlight.removeValue(forKey: id) == nil }
                        guard !cancelled, !Task.isCancelled else { return }
                        for reply in replies { await send(reply.json) }
                    }
                }
            case .notify("notifications/cancelled", let params):
                guard case .object(let object)? = params, let id = object["requestId"].flatMap(JSONRPCID.init) else { break }
                state.withLock { $0.inFlight.removeValue(forKey: id) }?.cancel()
            default:
                for reply in await server.perform([action], logLevel: logLevel, outbound: outbound) { await send(reply.json) }
            }
        }
    }

    /// Waits for the requests still running.
    func finish() async {
        for task in state.withLock({ Array($0.inFlight.values) }) { await task.value }
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
