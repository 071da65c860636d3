import FasterAPI
import FasterAPIWebSocket
import Foundation
import NIOCore
import Synchronization

extension App {
    /// Serves `mcp` inside the app (its middleware and security apply) on three transports:
    ///
    /// - Streamable HTTP at `path`: `POST` carries the client's messages. Answers come as JSON,
    ///   or as an event stream as soon as a handler sends something on the way (progress, logs,
    ///   a request to the client) and the client takes streams; 202 when there is nothing to
    ///   answer. `GET` opens the session's standalone stream (notifications that belong to no
    ///   request, 409 if one is open already) and, with `Last-Event-ID`, resumes any stream
    ///   that was cut. `DELETE` ends a session. `initialize` opens a session whose id comes back
    ///   in `Mcp-Session-Id`; later requests without it are 400, with an unknown one 404.
    ///   Sessions idle for `idleTimeout` with no stream open are ended; past `maxSessions`,
    ///   `initialize` is answered 503.
    /// - The 2024-11-05 HTTP+SSE transport at `path/sse` (an `endpoint` event names the URL to
    ///   `POST` messages to; everything the server sends comes as `message` events).
    /// - WebSocket at `path/ws` (subprotocol `mcp`, one JSON-RPC message per text message).
    ///
    /// Requests whose `Origin` is not this host, a localhost page or one of `allowedOrigins` are
    /// 403 (DNS-rebinding defence); messages over `maxMessageBytes` are refused.
    public func mount(
        _ mcp: MCPServer, at path: String, allowedOrigins: [String] = [], maxMessageBytes: Int = 4 << 20,
        idleTimeout: Duration = .seconds(1800), maxSessions: Int = 10_000
    ) {
        mountLegacySSE(mcp, at: path, allowedOrigins: allowedOrigins, maxMessageBytes: maxMessageBytes)
        mountWebSocket(mcp, at: path, allowedOrigins: allowedOrigins, maxMessageBytes: maxMessageBytes)
        let sessions = MCPHTTPSessions(idleTimeout: idleTimeout, maxSessions: maxSessions)
        post(path) { request in
            if let refusal = MCPHTTPSessions.refuseOrigin(request, allowed: allowedOrigins) { return refusal }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maxMessageBytes)
            } catch {
                return MCPHTTPSessions.error(.contentTooLarge, .invalidRequest("the message exceeds \(maxMessageBytes) bytes"))
            }
            let payload = JSONRPCPayload.decode(body)
            let session: MCPHTTPSession
            if payload.isInitialize {
                guard let opened = sessions.open(mcp) else {
                    var busy = MCPHTTPSessions.error(.serviceUnavailable, .internalError("too many sessions"))
                    busy.headers.add(name: "Retry-After", value: "10")
                    return busy
                }
                session = opened
            } else {
                if let version = request.headers["mcp-protocol-version"], !MCPProtocolVersion.supported.contains(version) {
                    return MCPHTTPSessions.error(.badRequest, .invalidRequest("unsupported MCP-Protocol-Version \(version)"))
                }
                switch sessions.find(request) {
                case .success(let found): session = found
                case .failure(let refusal): return refusal.response
                }
            }
            let streams = request.headers["accept"]?.contains("text/event-stream") == true
            let response = try await session.answer(payload, streams: streams, to: request)
            if payload.isInitialize, session.driver.version == nil { sessions.close(session) }
            return response
        }
        get(path) { request in
            if let refusal = MCPHTTPSessions.refuseOrigin(request, allowed: allowedOrigins) { return refusal }
            guard request.headers["accept"]?.contains("text/event-stream") == true else {
                return MCPHTTPSessions.error(.notAcceptable, .invalidRequest("GET needs Accept: text/event-stream"))
            }
            switch sessions.find(request) {
            case .success(let session): return try await session.resume(request)
            case .failure(let refusal): return refusal.response
            }
        }
        delete(path) { request in
            if let refusal = MCPHTTPSessions.refuseOrigin(request, allowed: allowedOrigins) { return refusal }
            switch sessions.find(request) {
            case .success(let session):
                sessions.close(session)
                return Response(status: .noContent)
            case .failure(let refusal): return refusal.response
            }
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
            let send: @Sendable (JSONValue) async -> Void = { message in
                guard let bytes = try? JSONWriter.encode(message) else { return }
                try? await ws.send(String(buffer: bytes))
            }
            let driver = MCPSessionDriver(server: mcp, send: send)
            defer { driver.close() }
            for try await message in ws.messages {
                switch message {
                case .text(let text): await driver.receive(JSONRPCPayload.decode(ByteBuffer(string: text)), request: request, send: send)
                case .binary(let bytes): await driver.receive(JSONRPCPayload.decode(bytes), request: request, send: send)
                }
            }
        }
    }

    fileprivate func mountLegacySSE(_ mcp: MCPServer, at path: String, allowedOrigins: [String], maxMessageBytes: Int) {
        let sessions = MCPLegacySessions()
        get("\(path)/sse") { request in
            if let refusal = MCPHTTPSessions.refuseOrigin(request, allowed: allowedOrigins) { return refusal }
            return try await EventStream(request: request) { stream in
                // Opened only once the stream runs (a HEAD or a client already gone leaves nothing behind).
                let (id, outbox) = sessions.open(mcp)
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
            guard let entry = sessions.entry(id) else {
                return MCPHTTPSessions.error(.notFound, .invalidRequest("unknown session \(id)"))
            }
            await entry.driver.receive(JSONRPCPayload.decode(body), request: request, send: entry.send)
            return Response(status: .accepted)
        }
    }
}

/// Sessions of the 2024-11-05 HTTP+SSE transport: each one's driver, which sends through its
/// event stream.
final class MCPLegacySessions: Sendable {
    struct Entry {
        let driver: MCPSessionDriver
        let send: @Sendable (JSONValue) async -> Void
        let outbox: AsyncStream<JSONValue>.Continuation
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// A new session of `server` and the stream of what is sent to it.
    func open(_ server: MCPServer) -> (String, AsyncStream<JSONValue>) {
        let id = UUID().uuidString.lowercased()
        let (outbox, continuation) = AsyncStream.makeStream(of: JSONValue.self)
        let send: @Sendable (JSONValue) async -> Void = { continuation.yield($0) }
        let driver = MCPSessionDriver(server: server, send: send)
        entries.withLock { $0[id] = Entry(driver: driver, send: send, outbox: continuation) }
        return (id, outbox)
    }

    func entry(_ id: String) -> Entry? { entries.withLock { $0[id] } }

    func close(_ id: String) {
        guard let entry = entries.withLock({ $0.removeValue(forKey: id) }) else { return }
        entry.driver.close()
        entry.outbox.finish()
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
    /// Why a request names no session it may use.
    struct Refusal: Error {
        let response: Response
    }

    private let sessions = Mutex<[String: MCPHTTPSession]>([:])
    private let idleTimeout: Duration
    private let maxSessions: Int

    init(idleTimeout: Duration, maxSessions: Int) {
        self.idleTimeout = idleTimeout
        self.maxSessions = maxSessions
    }

    /// A new session of `server` (sessions idle too long are ended first); nil when
    /// `maxSessions` are open.
    func open(_ server: MCPServer) -> MCPHTTPSession? {
        let now = ContinuousClock.now
        let (session, idle) = sessions.withLock { sessions -> (MCPHTTPSession?, [MCPHTTPSession]) in
            let idle = sessions.values.filter { $0.isIdle(since: now - idleTimeout) }
            for session in idle { sessions[session.id] = nil }
            guard sessions.count < maxSessions else { return (nil, idle) }
            let session = MCPHTTPSession(server: server)
            sessions[session.id] = session
            return (session, idle)
        }
        for session in idle { session.close() }
        return session
    }

    /// The session the request's `Mcp-Session-Id` names: 400 without one, 404 for an unknown one.
    func find(_ request: Request) -> Result<MCPHTTPSession, Refusal> {
        guard let id = request.headers["mcp-session-id"] else {
            return .failure(Refusal(response: Self.error(.badRequest, .invalidRequest("Mcp-Session-Id is required after initialize"))))
        }
        guard let session = sessions.withLock({ $0[id] }) else {
            return .failure(Refusal(response: Self.error(.notFound, .invalidRequest("unknown session \(id)"))))
        }
        return .success(session)
    }

    func close(_ session: MCPHTTPSession) {
        sessions.withLock { $0[session.id] = nil }
        session.close()
    }

    /// A JSON-RPC error as an HTTP answer.
    static func error(_ status: HTTPStatus, _ error: JSONRPCError) -> Response {
        let body = (try? JSONWriter.encode(JSONRPCMessage.error(id: nil, error).json)) ?? ByteBuffer()
        return Response(status: status, headers: ["Content-Type": "application/json"], body: ResponseBody(buffer: body))
    }

    /// 403 unless the request has no `Origin`, or one naming this host, a localhost page or an
    /// allowed origin.
    /// 403 for a request a page elsewhere could have sent (DNS-rebinding defence): on a server
    /// listening on a loopback address, `Host` must name the loopback (a rebound name would not);
    /// an `Origin`, when sent, must be a loopback page, this host, or one of `allowed`.
    static func refuseOrigin(_ request: Request, allowed: [String]) -> Response? {
        let host = request.headers["host"] ?? ""
        if request.http.connection.localAddress.map(isLoopback) == true, !isLoopback(hostName(host)) {
            return error(.forbidden, .invalidRequest("host \(host) is not this server"))
        }
        guard let origin = request.headers["origin"], !allowed.contains(origin) else { return nil }
        guard let components = URLComponents(string: origin), let bracketed = components.host else {
            return error(.forbidden, .invalidRequest("origin \(origin) is not allowed"))
        }
        let originHost = bracketed.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let originAuthority = components.port.map { "\(originHost.contains(":") ? "[\(originHost)]" : originHost):\($0)" } ?? originHost
        if isLoopback(originHost) || originAuthority == host { return nil }
        return error(.forbidden, .invalidRequest("origin \(origin) is not allowed"))
    }

    /// The host name of a `Host` value (`[::1]:8000` → `::1`).
    private static func hostName(_ authority: String) -> String {
        if authority.hasPrefix("["), let end = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<end])
        }
        return String(authority.split(separator: ":").first ?? "")
    }

    private static func isLoopback(_ name: String) -> Bool {
        name == "localhost" || name == "::1" || name.hasPrefix("127.")
    }

    private static func isLoopback(_ address: SocketAddress) -> Bool {
        guard let ip = address.ipAddress else { return address.protocolFamily == AF_UNIX }
        return isLoopback(ip) || ip == "::ffff:127.0.0.1"
    }
}
