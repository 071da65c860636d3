import FasterAPI
import FasterAPIWebSocket
import Foundation
import NIOCore
import Synchronization

extension App {
    /// Serves `mcp` inside the app (its middleware and security apply) on three transports:
    ///
    /// - Streamable HTTP at `path`: `POST` carries the client's messages (answered as JSON, or
    ///   202 when there is nothing to answer), `DELETE` ends a session, `GET` (a stream of
    ///   server messages) is 405 until the server has any. `initialize` opens a session whose id
    ///   comes back in `Mcp-Session-Id`; later requests without it are 400, with an unknown one
    ///   404.
    /// - The 2024-11-05 HTTP+SSE transport at `path/sse` (an `endpoint` event names the URL to
    ///   `POST` messages to; answers come as `message` events).
    /// - WebSocket at `path/ws` (subprotocol `mcp`, one JSON-RPC message per text message).
    ///
    /// Requests whose `Origin` is not this host, a localhost page or one of `allowedOrigins` are
    /// 403 (DNS-rebinding defence).
    public func mount(_ mcp: MCPServer, at path: String, allowedOrigins: [String] = [], maxMessageBytes: Int = 4 << 20) {
        mountLegacySSE(mcp, at: path, allowedOrigins: allowedOrigins, maxMessageBytes: maxMessageBytes)
        mountWebSocket(mcp, at: path, allowedOrigins: allowedOrigins, maxMessageBytes: maxMessageBytes)
        let sessions = MCPHTTPSessions()
        post(path) { request in
            if let refusal = MCPHTTPSessions.refuseOrigin(request, allowed: allowedOrigins) { return refusal }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maxMessageBytes)
            } catch {
                return MCPHTTPSessions.error(.contentTooLarge, .invalidRequest("the message exceeds \(maxMessageBytes) bytes"))
            }
            let payload = JSONRPCPayload.decode(body)
            var headers = HTTPHeaders()
            let actions: [MCPServerSession.Action]
            var logLevel: MCPLogLevel?
            if payload.isInitialize {
                var session = mcp.makeSession()
                actions = session.receive(payload)
                if session.version != nil { headers.add(name: "Mcp-Session-Id", value: sessions.add(session)) }
            } else {
                guard let id = request.headers["mcp-session-id"] else {
                    return MCPHTTPSessions.error(.badRequest, .invalidRequest("Mcp-Session-Id is required after initialize"))
                }
                if let version = request.headers["mcp-protocol-version"], !MCPProtocolVersion.supported.contains(version) {
                    return MCPHTTPSessions.error(.badRequest, .invalidRequest("unsupported MCP-Protocol-Version \(version)"))
                }
                guard let (received, level) = sessions.receive(payload, in: id) else {
                    return MCPHTTPSessions.error(.notFound, .invalidRequest("unknown session \(id)"))
                }
                actions = received
                logLevel = level
            }
            // Progress and log notifications need a stream: answer as one when the client takes
            // it and may get some; otherwise as plain JSON.
            let accepts = request.headers["accept"]?.contains("text/event-stream") == true
            if accepts, logLevel != nil || actions.contains(where: \.asksForProgress) {
                headers.add(name: "Content-Type", value: "text/event-stream")
                headers.add(name: "Cache-Control", value: "no-cache")
                let streamLevel = logLevel
                return Response(
                    headers: headers,
                    body: ResponseBody { body in
                        let send: MCPOutbound = { message in
                            guard let bytes = try? message.encoded() else { return }
                            try? await body.write(ByteBuffer(string: "event: message\ndata: \(String(buffer: bytes))\n\n"))
                        }
                        for reply in await mcp.perform(actions, logLevel: streamLevel, outbound: send) { await send(reply) }
                    })
            }
            let sessionID = headers["mcp-session-id"] ?? request.headers["mcp-session-id"] ?? ""
            sessions.cancel(actions, in: sessionID)
            let level = logLevel
            let replies = await sessions.run(actions, in: sessionID) { await mcp.perform(actions, logLevel: level) }
            guard !replies.isEmpty else { return Response(status: .accepted, headers: headers) }
            let json: JSONValue = payload.isBatch ? .array(replies.map(\.json)) : replies[0].json
            headers.add(name: "Content-Type", value: "application/json")
            return Response(status: .ok, headers: headers, body: ResponseBody(buffer: try JSONWriter.encode(json)))
        }
        get(path) { request in
            if let refusal = MCPHTTPSessions.refuseOrigin(request, allowed: allowedOrigins) { return refusal }
            return Response(status: .methodNotAllowed, headers: ["Allow": "POST, DELETE"])
        }
        delete(path) { request in
            if let refusal = MCPHTTPSessions.refuseOrigin(request, allowed: allowedOrigins) { return refusal }
            guard let id = request.headers["mcp-session-id"] else {
                return MCPHTTPSessions.error(.badRequest, .invalidRequest("Mcp-Session-Id is required"))
            }
            return sessions.remove(id) ? Response(status: .noContent) : MCPHTTPSessions.error(.notFound, .invalidRequest("unknown session \(id)"))
        }
    }
}

extension App {
    fileprivate func mountWebSocket(_ mcp: MCPServer, at path: String, allowedOrigins: [String], maxMessageBytes: Int) {
        var configuration = WebSocketConfiguration()
        configuration.maxMessageSize = maxMessageBytes
        websocket("\(path)/ws", subprotocols: ["mcp"], configuration: configuration) { ws, request in
            if MCPHTTPSessions.refuseOrigin(request, allowed: allowedOrigins) != nil {
                try await ws.close(code: .policyViolation, reason: "origin not allowed")
                return
            }
            let driver = MCPSessionDriver(server: mcp) { message in
                guard let bytes = try? JSONWriter.encode(message) else { return }
                try? await ws.send(String(buffer: bytes))
            }
            for try await message in ws.messages {
                switch message {
                case .text(let text): await driver.receive(JSONRPCPayload.decode(ByteBuffer(string: text)))
                case .binary(let bytes): await driver.receive(JSONRPCPayload.decode(bytes))
                }
            }
            await driver.finish()
        }
    }

    fileprivate func mountLegacySSE(_ mcp: MCPServer, at path: String, allowedOrigins: [String], maxMessageBytes: Int) {
        let sessions = MCPLegacySessions()
        get("\(path)/sse") { request in
            if let refusal = MCPHTTPSessions.refuseOrigin(request, allowed: allowedOrigins) { return refusal }
            let (id, outbox) = sessions.open(mcp)
            return try await EventStream(request: request) { stream in
                defer { sessions.close(id) }
                try await stream.send(data: "\(path)/messages?session_id=\(id)", event: "endpoint")
                for await message in outbox {
                    try await stream.send(data: String(buffer: try JSONWriter.encode(message)), event: "message")
                }
            }.response(for: request)
        }
        post("\(path)/messages") { request in
            if let refusal = MCPHTTPSessions.refuseOrigin(request, allowed: allowedOrigins) { return refusal }
            guard let id = request.query["session_id"] else {
                return MCPHTTPSessions.error(.badRequest, .invalidRequest("session_id is required"))
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maxMessageBytes)
            } catch {
                return MCPHTTPSessions.error(.contentTooLarge, .invalidRequest("the message exceeds \(maxMessageBytes) bytes"))
            }
            guard let driver = sessions.driver(id) else {
                return MCPHTTPSessions.error(.notFound, .invalidRequest("unknown session \(id)"))
            }
            await driver.receive(JSONRPCPayload.decode(body))
            return Response(status: .accepted)
        }
    }
}

/// Sessions of the 2024-11-05 HTTP+SSE transport: each one's driver, which sends through its
/// event stream.
final class MCPLegacySessions: Sendable {
    private struct Entry {
        let driver: MCPSessionDriver
        let outbox: AsyncStream<JSONValue>.Continuation
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// A new session of `server` and the stream of what is sent to it.
    func open(_ server: MCPServer) -> (String, AsyncStream<JSONValue>) {
        let id = UUID().uuidString.lowercased()
        let (outbox, continuation) = AsyncStream.makeStream(of: JSONValue.self)
        let driver = MCPSessionDriver(server: server) { continuation.yield($0) }
        entries.withLock { $0[id] = Entry(driver: driver, outbox: continuation) }
        return (id, outbox)
    }

    func driver(_ id: String) -> MCPSessionDriver? { entries.withLock { $0[id]?.driver } }

    func close(_ id: String) {
        entries.withLock { $0.removeValue(forKey: id) }?.outbox.finish()
    }
}

extension MCPServerSession.Action {
    /// A request that carries a progress token.
    var asksForProgress: Bool {
        guard case .handle(_, _, .object(let params)?) = self, case .object(let meta)? = params["_meta"] else { return false }
        return meta["progressToken"] != nil
    }
}

extension JSONRPCPayload {
    var isInitialize: Bool {
        if case .single(.success(.request(_, "initialize", _))) = self { return true }
        return false
    }

    var isBatch: Bool {
        if case .batch = self { return true }
        return false
    }
}

/// The Streamable HTTP sessions of one mounted server, by id.
final class MCPHTTPSessions: Sendable {
    private let sessions = Mutex<[String: MCPServerSession]>([:])
    /// Requests being handled, by session and request id, so `notifications/cancelled` can stop one.
    private let inFlight = Mutex<[String: [JSONRPCID: Task<[JSONRPCMessage], Never>]]>([:])

    /// Runs `work` for `actions`; a single request is tracked while it runs, and if it is cancelled
    /// its answer is dropped (the POST then gets 202, as for a message that needs no answer).
    func run(
        _ actions: [MCPServerSession.Action], in session: String,
        _ work: @escaping @Sendable () async -> [JSONRPCMessage]
    ) async -> [JSONRPCMessage] {
        guard actions.count == 1, case .handle(let id, _, _) = actions[0] else { return await work() }
        let task = inFlight.withLock { inFlight in
            let task = Task { await work() }
            inFlight[session, default: [:]][id] = task
            return task
        }
        let replies = await task.value
        let cancelled = inFlight.withLock { $0[session]?.removeValue(forKey: id) == nil }
        return cancelled ? [] : replies
    }

    /// Cancels the requests that `notifications/cancelled` among `actions` name.
    func cancel(_ actions: [MCPServerSession.Action], in session: String) {
        for case .notify("notifications/cancelled", .object(let params)?) in actions {
            guard let id = params["requestId"].flatMap(JSONRPCID.init) else { continue }
            inFlight.withLock { $0[session]?.removeValue(forKey: id) }?.cancel()
        }
    }

    /// Stores `session` under a new, unguessable id.
    func add(_ session: MCPServerSession) -> String {
        let id = UUID().uuidString.lowercased()
        sessions.withLock { $0[id] = session }
        return id
    }

    /// What session `id` decides for `payload`, and its log level; nil if there is no such session.
    func receive(_ payload: JSONRPCPayload, in id: String) -> ([MCPServerSession.Action], MCPLogLevel?)? {
        sessions.withLock { sessions in
            guard let actions = sessions[id]?.receive(payload) else { return nil }
            return (actions, sessions[id]?.logLevel)
        }
    }

    func remove(_ id: String) -> Bool {
        for task in inFlight.withLock({ $0.removeValue(forKey: id) ?? [:] }).values { task.cancel() }
        return sessions.withLock { $0.removeValue(forKey: id) != nil }
    }

    /// A JSON-RPC error as an HTTP answer.
    static func error(_ status: HTTPStatus, _ error: JSONRPCError) -> Response {
        let body = (try? JSONWriter.encode(JSONRPCMessage.error(id: nil, error).json)) ?? ByteBuffer()
        return Response(status: status, headers: ["Content-Type": "application/json"], body: ResponseBody(buffer: body))
    }

    /// 403 unless the request has no `Origin`, or one naming this host, a localhost page or an
    /// allowed origin.
    static func refuseOrigin(_ request: Request, allowed: [String]) -> Response? {
        guard let origin = request.headers["origin"] else { return nil }
        if allowed.contains(origin) { return nil }
        let host = origin.split(separator: "://", maxSplits: 1).last.map(String.init) ?? origin
        let hostName = host.split(separator: ":").first.map(String.init) ?? host
        if host == request.headers["host"] || ["localhost", "127.0.0.1", "[::1]"].contains(hostName) { return nil }
        return error(.forbidden, .invalidRequest("origin \(origin) is not allowed"))
    }
}
