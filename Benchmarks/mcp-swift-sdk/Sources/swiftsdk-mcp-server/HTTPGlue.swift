// Minimal SwiftNIO HTTP/1.1 front for the SDK's StatefulHTTPServerTransport.
//
// The SDK ships the Streamable HTTP transport logic (validation, sessions, SSE framing) but no HTTP
// server, and one StatefulHTTPServerTransport serves exactly one session. This glue:
//   - listens on 127.0.0.1:P, keep-alive, one task per connection (NIOAsyncChannel);
//   - routes requests to /mcp by their Mcp-Session-Id header to that session's transport;
//   - on an `initialize` POST without a session, makes a new `Server` + transport pair;
//   - writes the transport's answer: JSON, empty, or an SSE stream copied chunk by chunk;
//   - drops a session on a successful DELETE or after `idleTimeout` without requests.
import Foundation
import MCP
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

struct HTTPGlue: Sendable {
    let port: Int
    let idleTimeout: Duration = .seconds(300)

    /// One MCP session: its server and the transport the glue feeds.
    struct Session: Sendable {
        let server: Server
        let transport: StatefulHTTPServerTransport
        var lastUsed: ContinuousClock.Instant
    }

    /// Hands the transport a session ID chosen by the glue, so it can be registered up front.
    struct FixedSessionID: SessionIDGenerator {
        let id: String
        func generateSessionID() -> String { id }
    }

    private let sessions = SessionTable()

    final class SessionTable: Sendable {
        let map = Mutex<[String: Session]>([:])
    }

    /// Binds, prints "listening on P" to stderr, and serves until the process is killed.
    func run() async throws {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .bind(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        let boundPort = listener.channel.localAddress?.port ?? port
        FileHandle.standardError.write(Data("listening on \(boundPort)\n".utf8))

        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await sweepIdleSessions() }
            try await listener.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await serve(connection) }
                }
            }
        }
    }

    // MARK: - Connections

    /// Reads requests off one keep-alive connection and answers each in turn.
    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let h):
                    head = h
                    body.clear()
                case .body(var chunk):
                    body.writeBuffer(&chunk)
                case .end:
                    guard let h = head else { continue }
                    let response = await respond(to: h, body: body)
                    try await write(response, version: h.version, keepAlive: h.isKeepAlive, to: outbound)
                    if !h.isKeepAlive { return }
                }
            }
        }
    }

    /// Converts the NIO request to the SDK's `HTTPRequest` and routes it.
    private func respond(to head: HTTPRequestHead, body: ByteBuffer) async -> HTTPResponse {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard path == "/mcp" else { return .error(statusCode: 404, .invalidRequest("Not Found")) }
        var headers: [String: String] = [:]
        for (name, value) in head.headers {
            headers[name] = headers[name].map { "\($0), \(value)" } ?? value
        }
        let request = HTTPRequest(
            method: head.method.rawValue, headers: headers,
            body: body.readableBytes > 0 ? Data(body.readableBytesView) : nil, path: path)
        return await route(request)
    }

    /// Writes a response: fixed-length for JSON or empty bodies, chunked for SSE streams.
    private func write(
        _ response: HTTPResponse, version: HTTPVersion, keepAlive: Bool,
        to out: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var head = HTTPResponseHead(version: version, status: .init(statusCode: response.statusCode))
        for (name, value) in response.headers { head.headers.replaceOrAdd(name: name, value: value) }
        if !keepAlive { head.headers.replaceOrAdd(name: "Connection", value: "close") }
        if case .stream(let stream, _) = response {
            try await out.write(.head(head))
            do {
                for try await chunk in stream { try await out.write(.body(.byteBuffer(ByteBuffer(bytes: chunk)))) }
            } catch {}
            try await out.write(.end(nil))
        } else {
            let body = response.bodyData ?? Data()
            head.headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
            try await out.write(contentsOf: [.head(head), .body(.byteBuffer(ByteBuffer(bytes: body))), .end(nil)])
        }
    }

    // MARK: - Sessions

    /// Sends a request to its session's transport, or opens a session for an `initialize` POST.
    private func route(_ request: HTTPRequest) async -> HTTPResponse {
        if let id = request.header(HTTPHeaderName.sessionID) {
            let session = sessions.map.withLock { map -> Session? in
                map[id]?.lastUsed = .now
                return map[id]
            }
            guard let session else {
                return .error(statusCode: 404, .invalidRequest("Not Found: Session not found or expired"))
            }
            let response = await session.transport.handleRequest(request)
            if request.method == "DELETE", response.statusCode == 200 { await close(id) }
            return response
        }
        guard request.method == "POST", isInitialize(request.body) else {
            return .error(statusCode: 400, .invalidRequest("Bad Request: Missing \(HTTPHeaderName.sessionID) header"))
        }
        let id = UUID().uuidString
        let transport = StatefulHTTPServerTransport(
            sessionIDGenerator: FixedSessionID(id: id), validationPipeline: validators)
        let server = await makeServer()
        do { try await server.start(transport: transport) } catch {
            return .error(statusCode: 500, .internalError("Failed to start session: \(error)"))
        }
        sessions.map.withLock { $0[id] = Session(server: server, transport: transport, lastUsed: .now) }
        let response = await transport.handleRequest(request)
        if case .error = response { await close(id) }
        return response
    }

    /// The SDK's default checks, except that Host/Origin may name 127.0.0.1 or localhost with or
    /// without our port (the SDK's `.localhost()` insists on a `host:port` form).
    private var validators: StandardValidationPipeline {
        let hosts = ["127.0.0.1", "localhost", "[::1]"]
        return StandardValidationPipeline(validators: [
            OriginValidator(
                allowedHosts: hosts.flatMap { [$0, "\($0):\(port)"] },
                allowedOrigins: hosts.flatMap { ["http://\($0)", "http://\($0):\(port)"] }),
            AcceptHeaderValidator(mode: .sseRequired),
            ContentTypeValidator(),
            ProtocolVersionValidator(),
            SessionValidator(),
        ])
    }

    private func close(_ id: String) async {
        guard let session = sessions.map.withLock({ $0.removeValue(forKey: id) }) else { return }
        await session.server.stop()  // also disconnects (terminates) the transport
    }

    /// Every minute, closes sessions idle longer than `idleTimeout` (the SDK client never DELETEs).
    private func sweepIdleSessions() async throws {
        while true {
            try await Task.sleep(for: .seconds(60))
            let now = ContinuousClock.now
            let idle = sessions.map.withLock { map in map.filter { now - $0.value.lastUsed > idleTimeout }.map(\.key) }
            for id in idle { await close(id) }
        }
    }
}

/// Whether a POST body is a JSON-RPC `initialize` request (the SDK's own classifier is not public).
func isInitialize(_ body: Data?) -> Bool {
    guard let body, let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return false }
    return json["method"] as? String == "initialize" && json["id"] != nil
}
