import FasterAPI
import FasterAPIWebSocket
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

extension JSONRPCPayload {
    /// The well-formed messages of the payload (what a client acts on; it answers nothing malformed).
    var messages: [JSONRPCMessage] {
        switch self {
        case .single(let message): (try? message.get()).map { [$0] } ?? []
        case .batch(let elements): elements.compactMap { try? $0.get() }
        }
    }
}

/// A child process speaking newline-delimited JSON on its standard input and output.
final class MCPStdioClientTransport: MCPClientTransport {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let writer: MCPLineWriter
    /// Lines from the server longer than this are dropped.
    private let maxMessageBytes = 64 << 20

    init(executable: String, arguments: [String], environment: [String: String]?) {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardInput = input
        process.standardOutput = output
        writer = MCPLineWriter(input.fileHandleForWriting)
    }

    func start(
        receive: @escaping @Sendable (JSONRPCMessage) -> Void, fail: @escaping @Sendable (JSONRPCID, any Error) -> Void,
        ended: @escaping @Sendable () -> Void
    ) async throws {
        // A server that exits would otherwise kill this process with SIGPIPE at the next write
        // (the write fails with EPIPE instead).
        signal(SIGPIPE, SIG_IGN)
        try process.run()
        let lines = MCPLineReader.lines(from: output.fileHandleForReading.fileDescriptor, limit: maxMessageBytes)
        Task {
            for await case .message(let line) in lines {
                for message in JSONRPCPayload.decode(line).messages { receive(message) }
            }
            ended()
        }
    }

    func send(_ message: JSONRPCMessage) async throws {
        guard process.isRunning else { throw MCPError.sessionClosed }
        writer.write(message.json)
    }

    func initialized(version: String) async {}

    /// Closes the child's input (a well-behaved server exits), then stops it if it has not
    /// within two seconds (SIGTERM, and SIGKILL a second later: a child may have SIGTERM blocked).
    func close() async {
        try? input.fileHandleForWriting.close()
        guard process.isRunning else { return }
        for _ in 0..<200 where process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<100 where process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// JSON-RPC over a WebSocket (subprotocol `mcp`).
final class MCPWebSocketClientTransport: MCPClientTransport {
    private let url: String
    private let socket = Mutex<WebSocket?>(nil)

    init(url: String) { self.url = url }

    func start(
        receive: @escaping @Sendable (JSONRPCMessage) -> Void, fail: @escaping @Sendable (JSONRPCID, any Error) -> Void,
        ended: @escaping @Sendable () -> Void
    ) async throws {
        let ws = try await WebSocketClient.connect(to: url, subprotocols: ["mcp"])
        guard ws.subprotocol == "mcp" else {
            try? await ws.close(code: .protocolError, reason: "subprotocol mcp expected")
            throw MCPError.unexpectedAnswer("the server did not agree to the mcp subprotocol")
        }
        socket.withLock { $0 = ws }
        Task {
            defer { ended() }
            for try await message in ws.messages {
                for decoded in JSONRPCPayload.decode(message.bytes).messages { receive(decoded) }
            }
        }
    }

    func send(_ message: JSONRPCMessage) async throws {
        guard let ws = socket.withLock({ $0 }) else { throw MCPError.sessionClosed }
        try await ws.send(String(buffer: try message.encoded()))
    }

    func initialized(version: String) async {}

    func close() async {
        try? await socket.withLock({ $0 })?.close()
    }
}

/// The 2024-11-05 HTTP+SSE transport: an event stream names (`endpoint`) the URL to `POST`
/// messages to and carries everything the server sends.
final class MCPLegacySSEClientTransport: MCPClientTransport {
    private let url: URL
    private let headers: [(String, String)]
    private let http: MCPHTTPClient
    private let endpoint = Mutex<String?>(nil)
    private let reader = Mutex<Task<Void, Never>?>(nil)

    init(url: String, headers: [(String, String)]) throws {
        guard let parsed = URL(string: url) else { throw MCPHTTPClient.Failure(description: "not a URL: \(url)") }
        self.url = parsed
        self.headers = headers
        self.http = try MCPHTTPClient(origin: parsed)
    }

    func start(
        receive: @escaping @Sendable (JSONRPCMessage) -> Void, fail: @escaping @Sendable (JSONRPCID, any Error) -> Void,
        ended: @escaping @Sendable () -> Void
    ) async throws {
        try await withCheckedThrowingContinuation { (started: CheckedContinuation<Void, any Error>) in
            let task = Task { [self] in
                var waiting: CheckedContinuation<Void, any Error>? = started
                do {
                    for try await event in EventSourceClient.events(from: url.absoluteString, headers: headers, reconnect: false) {
                        if event.event == "endpoint", let target = URL(string: event.data, relativeTo: url),
                            let components = URLComponents(url: target, resolvingAgainstBaseURL: true)
                        {
                            let query = components.percentEncodedQuery.map { "?" + $0 } ?? ""
                            endpoint.withLock { $0 = components.percentEncodedPath + query }
                            waiting?.resume()
                            waiting = nil
                        } else if event.event == "message" {
                            for message in JSONRPCPayload.decode(ByteBuffer(string: event.data)).messages { receive(message) }
                        }
                    }
                    waiting?.resume(throwing: MCPError.unexpectedAnswer("the event stream ended before naming its endpoint"))
                } catch {
                    waiting?.resume(throwing: error)
                }
                ended()
            }
            reader.withLock { $0 = task }
        }
    }

    func send(_ message: JSONRPCMessage) async throws {
        guard let target = endpoint.withLock({ $0 }) else { throw MCPError.sessionClosed }
        let status = Mutex(0)
        try await http.execute(
            .POST, target, headers: headers + [("Content-Type", "application/json")], body: try message.encoded()
        ) { part in
            if case .head(let head) = part { status.withLock { $0 = Int(head.status.code) } }
        }
        let code = status.withLock { $0 }
        guard (200..<300).contains(code) else { throw MCPHTTPClient.Failure(description: "POST \(target) answered \(code)") }
    }

    func initialized(version: String) async {}

    func close() async {
        reader.withLock { $0 }?.cancel()
        http.shutdown()
    }
}

/// Streamable HTTP: every message is a `POST` whose answer is JSON or an event stream; a
/// `GET` stream carries what belongs to no request; a stream cut short is resumed with
/// `Last-Event-ID`; `DELETE` ends the session.
final class MCPStreamableHTTPClientTransport: MCPClientTransport {
    private struct State {
        var sessionID: String?
        var version: String?
        var receive: (@Sendable (JSONRPCMessage) -> Void)?
        var fail: (@Sendable (JSONRPCID, any Error) -> Void)?
        var standalone: Task<Void, Never>?
        var closed = false
    }

    /// How one response is read, on the connection's event loop: JSON collected, or events
    /// handed over as they come.
    private final class ResponseReader: @unchecked Sendable {
        // Sendable: used by one connection's event loop at a time (and read once it is done).
        var status = 0
        var streaming = false
        var body = ByteBuffer()
        var parser = ServerSentEventParser()
        var lastEventID: String?
        var answered = false
        let receive: @Sendable (JSONRPCMessage) -> Void

        init(receive: @escaping @Sendable (JSONRPCMessage) -> Void) { self.receive = receive }

        func consume(_ part: MCPHTTPClient.Part, transport: MCPStreamableHTTPClientTransport) {
            switch part {
            case .head(let head):
                if let id = head.headers["mcp-session-id"].first { transport.state.withLock { $0.sessionID = id } }
                status = Int(head.status.code)
                streaming = head.headers["content-type"].first?.hasPrefix("text/event-stream") == true
            case .body(var bytes):
                guard streaming else {
                    body.writeBuffer(&bytes)
                    return
                }
                for event in parser.feed(bytes.readableBytesView) {
                    if !event.lastEventID.isEmpty { lastEventID = event.lastEventID }
                    if event.event == "message" { deliver(ByteBuffer(string: event.data)) }
                }
            }
        }

        func deliver(_ bytes: ByteBuffer) {
            for message in JSONRPCPayload.decode(bytes).messages {
                if message.isAnswer { answered = true }
                receive(message)
            }
        }

        /// How the exchange went once the response has ended: nil if well, else the error.
        func outcome(target: String, hasSession: Bool) -> (any Error)? {
            switch status {
            case 200..<300:
                if !streaming, body.readableBytes > 0 { deliver(body) }
                return nil
            case 404 where hasSession:
                return MCPError.sessionClosed
            default:
                if let error = JSONRPCPayload.decode(body).failure { return error }
                return MCPHTTPClient.Failure(description: "POST \(target) answered \(status): \(String(buffer: body))")
            }
        }
    }

    private let target: String
    private let headers: [(String, String)]
    private let http: MCPHTTPClient
    private let state = Mutex(State())

    init(url: String, headers: [(String, String)]) throws {
        guard let parsed = URL(string: url) else { throw MCPHTTPClient.Failure(description: "not a URL: \(url)") }
        let components = URLComponents(url: parsed, resolvingAgainstBaseURL: false)
        let path = components?.percentEncodedPath ?? ""
        self.target = (path.isEmpty ? "/" : path) + (components?.percentEncodedQuery.map { "?" + $0 } ?? "")
        self.headers = headers
        self.http = try MCPHTTPClient(origin: parsed)
    }

    func start(
        receive: @escaping @Sendable (JSONRPCMessage) -> Void, fail: @escaping @Sendable (JSONRPCID, any Error) -> Void,
        ended: @escaping @Sendable () -> Void
    ) async throws {
        state.withLock { state in
            state.receive = receive
            state.fail = fail
        }
    }

    private func sessionHeaders() -> [(String, String)] {
        let (sessionID, version) = state.withLock { ($0.sessionID, $0.version) }
        var fields = headers
        if let sessionID { fields.append(("Mcp-Session-Id", sessionID)) }
        if let version { fields.append(("MCP-Protocol-Version", version)) }
        return fields
    }

    /// Posts the message. A request's POST runs on while this returns: its answer arrives
    /// through `receive`, a failure through `fail`, and a stream cut before the answer is
    /// resumed from its last event. Notifications and answers are posted before this returns.
    func send(_ message: JSONRPCMessage) async throws {
        guard let (receive, fail) = state.withLock({ state in state.receive.map { ($0, state.fail!) } }) else {
            throw MCPError.sessionClosed
        }
        let reader = ResponseReader(receive: receive)
        let fields = sessionHeaders() + [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")]
        let body = try message.encoded()
        let target = self.target
        guard case .request(let id, _, _) = message else {
            try await http.execute(.POST, target, headers: fields, body: body) { part in reader.consume(part, transport: self) }
            let hasSession = state.withLock { $0.sessionID != nil }
            if let error = reader.outcome(target: target, hasSession: hasSession) { throw error }
            return
        }
        http.start(.POST, target, headers: fields, body: body) { part in
            reader.consume(part, transport: self)
        } completion: { result in
            switch result {
            case .success:
                let hasSession = self.state.withLock { $0.sessionID != nil }
                if let error = reader.outcome(target: target, hasSession: hasSession) { fail(id, error) }
            case .failure(let error):
                guard !reader.answered, let lastEventID = reader.lastEventID else { return fail(id, error) }
                Task {
                    do {
                        try await self.listen(lastEventID: lastEventID, receive: receive)
                    } catch {
                        fail(id, error)
                    }
                }
            }
        }
    }

    /// Reads a `GET` event stream (resuming after `lastEventID` if given) until it ends.
    /// Returns false when the server has no such stream (405, 404).
    @discardableResult
    private func listen(lastEventID: String?, receive: @escaping @Sendable (JSONRPCMessage) -> Void) async throws -> Bool {
        let reader = ResponseReader(receive: receive)
        var fields = sessionHeaders() + [("Accept", "text/event-stream")]
        if let lastEventID { fields.append(("Last-Event-ID", lastEventID)) }
        try await http.execute(.GET, target, headers: fields) { part in reader.consume(part, transport: self) }
        return reader.status == 200
    }

    /// Opens the standalone stream and keeps it open (reconnecting) until the session ends or
    /// the server says it has none.
    func initialized(version: String) async {
        state.withLock { $0.version = version }
        let task = Task {
            var failures = 0
            while !Task.isCancelled, failures < 5, let receive = state.withLock({ $0.closed ? nil : $0.receive }) {
                do {
                    guard try await listen(lastEventID: nil, receive: receive) else { return }
                    failures = 0
                } catch {
                    failures += 1
                    try? await Task.sleep(for: .milliseconds(200 * failures))
                }
            }
        }
        state.withLock { $0.standalone = task }
    }

    func close() async {
        let (task, sessionID) = state.withLock { state in
            state.closed = true
            state.receive = nil
            state.fail = nil
            return (state.standalone, state.sessionID)
        }
        task?.cancel()
        if sessionID != nil {
            try? await http.execute(.DELETE, target, headers: sessionHeaders()) { _ in }
        }
        http.shutdown()
    }
}

extension JSONRPCPayload {
    /// The error of a payload that is a single error answer.
    var failure: JSONRPCError? {
        if case .single(.success(.error(_, let error))) = self { return error }
        return nil
    }
}
