import FasterAPICore
import Foundation
import NIOCore
import NIOPosix

/// How ``App/test(_:_:)`` reaches the app.
public enum TestMode: Sendable, CaseIterable {
    /// Calls the app's responder directly: no socket, same routing, middleware and handlers.
    case inProcess
    /// Starts the real server on a free 127.0.0.1 port and talks HTTP/1.1 to it over a socket.
    case live
    /// Starts the real server on a free 127.0.0.1 port and talks HTTP/2 to it (cleartext, with
    /// prior knowledge), one stream per request.
    case http2
}

/// A response as the test client saw it.
public struct TestResponse: Sendable {
    /// The status.
    public var status: HTTPStatus
    /// The header fields.
    public var headers: HTTPHeaders
    /// The whole body.
    public var body: ByteBuffer
    /// Trailer fields sent after the body (HTTP/2, chunked HTTP/1.1); empty if none.
    public var trailers = HTTPHeaders()

    /// The body as UTF-8 text.
    public var text: String { String(buffer: body) }

    /// The body decoded from JSON.
    public func json<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }
}

/// A request body as the test client sends it.
enum TestBody: Sendable {
    case none
    /// Sent with `Content-Length`, handed to the handler in one piece.
    case buffer(ByteBuffer)
    /// Sent with chunked encoding, handed to the handler as a stream of these pieces.
    case chunks([ByteBuffer])
}

/// Sends requests to an app under test; the same API in both ``TestMode``s.
public struct TestClient: Sendable {
    /// The server's address in the live modes (to open other connections to it, such as
    /// WebSockets); nil in-process.
    public var serverAddress: SocketAddress? = nil
    let send: @Sendable (HTTPRequestHead, TestBody) async throws -> TestResponse

    /// Sends a request. A `Host` header is added when missing.
    public func execute(
        _ method: HTTPMethod, _ target: String, headers: HTTPHeaders = HTTPHeaders(), body: ByteBuffer? = nil
    ) async throws -> TestResponse {
        try await execute(method, target, headers: headers, body: body.map { .buffer($0) } ?? .none)
    }

    /// Sends a request whose body streams in `chunks` (chunked encoding on a socket; a streamed
    /// body in-process), to test handlers that read bodies incrementally.
    public func execute(
        _ method: HTTPMethod, _ target: String, headers: HTTPHeaders = HTTPHeaders(), chunks: [ByteBuffer]
    ) async throws -> TestResponse {
        try await execute(method, target, headers: headers, body: .chunks(chunks))
    }

    private func execute(_ method: HTTPMethod, _ target: String, headers: HTTPHeaders, body: TestBody) async throws
        -> TestResponse
    {
        var headers = headers
        if !headers.contains("host") { headers.add(name: "Host", value: "testserver") }
        return try await send(HTTPRequestHead(method: method, target: target, headers: headers), body)
    }

    /// Sends a `GET`.
    public func get(_ target: String, headers: HTTPHeaders = HTTPHeaders()) async throws -> TestResponse {
        try await execute(.get, target, headers: headers)
    }

    /// Sends a request with a JSON body.
    public func execute(
        _ method: HTTPMethod, _ target: String, json: some Encodable, headers: HTTPHeaders = HTTPHeaders()
    ) async throws -> TestResponse {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        let data = try JSONEncoder().encode(json)
        return try await execute(method, target, headers: headers, body: ByteBuffer(bytes: data))
    }

    /// Sends a request with a text body.
    public func execute(
        _ method: HTTPMethod, _ target: String, text: String, headers: HTTPHeaders = HTTPHeaders()
    ) async throws -> TestResponse {
        try await execute(method, target, headers: headers, body: ByteBuffer(string: text))
    }
}

extension App {
    /// Runs `body` with a client for this app, started in `mode`; the app's services run and its
    /// start-up and shutdown hooks run around it.
    ///
    /// ```swift
    /// try await app.test(.live) { client in
    ///     let response = try await client.get("/")
    ///     #expect(response.text == "Hello, World!")
    /// }
    /// ```
    public func test<T: Sendable>(_ mode: TestMode = .inProcess, _ body: (TestClient) async throws -> T) async throws
        -> T
    {
        try await withThrowingTaskGroup(of: Void.self) { services in
            for service in self.services { services.addTask { try await service.run() } }
            defer { services.cancelAll() }
            try await runStartupHooks()
            do {
                let result = try await run(mode, body)
                await runShutdownHooks()
                return result
            } catch {
                await runShutdownHooks()
                throw error
            }
        }
    }

    private func run<T: Sendable>(_ mode: TestMode, _ body: (TestClient) async throws -> T) async throws -> T {
        switch mode {
        case .inProcess:
            let responder = makeResponder()
            return try await body(
                TestClient { head, requestBody in try await InProcessTransport.send(head, requestBody, to: responder) })
        case .live, .http2:
            let server = makeServer(host: "127.0.0.1", port: 0)
            let address = try await server.start()
            let connection: any LiveTestTransport =
                mode == .live
                ? try await LiveTestConnection.connect(to: address)
                : try await HTTP2TestConnection.connect(to: address)
            do {
                let result = try await body(
                    TestClient(serverAddress: address) { head, requestBody in try await connection.send(head, requestBody) })
                await connection.close()
                await server.shutdown()
                return result
            } catch {
                await connection.close()
                await server.shutdown()
                throw error
            }
        }
    }
}

/// A connection the live test modes send requests over.
protocol LiveTestTransport: Sendable {
    func send(_ head: HTTPRequestHead, _ body: TestBody) async throws -> TestResponse
    func close() async
}

enum InProcessTransport {
    static func send(_ head: HTTPRequestHead, _ body: TestBody, to responder: some HTTPResponder) async throws
        -> TestResponse
    {
        var head = head
        let requestBody: RequestBody
        switch body {
        case .none:
            requestBody = .empty
        case .buffer(let buffer):
            if !head.headers.contains("content-length") {
                head.headers.add(name: "Content-Length", value: String(buffer.readableBytes))
            }
            requestBody = RequestBody(buffer: buffer)
        case .chunks(let chunks):
            head.headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
            let (stream, source) = RequestBodyStream.makeStream(produceMore: {}, didTerminate: {})
            for chunk in chunks { source.yield(chunk) }
            source.finish()
            requestBody = RequestBody(stream: stream)
        }
        let request = HTTPRequest(
            head: head, body: requestBody,
            connection: ConnectionInfo(remoteAddress: try? SocketAddress(ipAddress: "127.0.0.1", port: 50000)))
        let response = try await responder.respond(to: request)
        var headers = response.headers
        if response.status.allowsBody, let length = response.body.knownLength, !headers.contains("content-length") {
            headers.add(name: "Content-Length", value: String(length))
        }
        let (bytes, trailers) =
            head.method == .head || !response.status.allowsBody
            ? (ByteBuffer(), HTTPHeaders()) : try await response.body.collectWithTrailers()
        if let afterSent = response.afterSent { await afterSent() }
        return TestResponse(status: response.status, headers: headers, body: bytes, trailers: trailers)
    }
}

/// One keep-alive HTTP/1.1 connection to a live server; requests go one at a time.
actor LiveTestConnection: LiveTestTransport {
    private let channel: any Channel
    private var inbound: AsyncThrowingStream<ByteBuffer, any Error>.Iterator
    private var reader = HTTP1ResponseReader()

    private init(channel: any Channel, inbound: AsyncThrowingStream<ByteBuffer, any Error>) {
        self.channel = channel
        self.inbound = inbound.makeAsyncIterator()
    }

    static func connect(to address: SocketAddress) async throws -> LiveTestConnection {
        let (stream, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(continuation: continuation))
                }
            }
            .connect(to: address).get()
        return LiveTestConnection(channel: channel, inbound: stream)
    }

    /// Forwards received bytes to the connection's stream.
    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation
        init(continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation) { self.continuation = continuation }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { continuation.yield(unwrapInboundIn(data)) }
        func channelInactive(context: ChannelHandlerContext) { continuation.finish() }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { continuation.finish(throwing: error) }
    }

    func send(_ head: HTTPRequestHead, _ body: TestBody) async throws -> TestResponse {
        var bytes = ByteBuffer(string: "\(head.method) \(head.target) HTTP/1.1\r\n")
        head.headers.write(to: &bytes)
        switch body {
        case .none:
            bytes.writeString("\r\n")
        case .buffer(var buffer):
            if !head.headers.contains("content-length") {
                bytes.writeString("Content-Length: \(buffer.readableBytes)\r\n")
            }
            bytes.writeString("\r\n")
            bytes.writeBuffer(&buffer)
        case .chunks(let chunks):
            bytes.writeString("Transfer-Encoding: chunked\r\n\r\n")
            for var chunk in chunks where chunk.readableBytes > 0 {
                bytes.writeString(String(chunk.readableBytes, radix: 16) + "\r\n")
                bytes.writeBuffer(&chunk)
                bytes.writeString("\r\n")
            }
            bytes.writeString("0\r\n\r\n")
        }
        try await channel.writeAndFlush(bytes)
        reader.expectsBody = head.method != .head
        while true {
            if let response = try reader.next() { return response }
            var iterator = inbound
            let chunk = try await iterator.next(isolation: self)
            inbound = iterator
            guard let chunk else {
                if let response = try reader.finish() { return response }
                throw HTTPError(.badGateway, detail: "connection closed before a complete response")
            }
            reader.append(chunk)
        }
    }

    func close() async {
        try? await channel.close()
    }
}

/// Reads HTTP/1.1 responses from a byte stream (Content-Length, chunked or close-delimited).
struct HTTP1ResponseReader {
    private var buffer = ByteBuffer()
    var expectsBody = true

    mutating func append(_ chunk: ByteBuffer) {
        var chunk = chunk
        buffer.writeBuffer(&chunk)
    }

    /// A complete response if the buffer holds one (skipping 1xx interim responses).
    mutating func next() throws -> TestResponse? {
        while true {
            let view = buffer.readableBytesView
            guard let headEnd = view.firstRange(of: [13, 10, 13, 10]) else { return nil }
            let headText = String(decoding: view[view.startIndex..<headEnd.lowerBound], as: UTF8.self)
            var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false)
            let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
            guard statusLine.count >= 2, let code = Int(statusLine[1]) else {
                throw HTTPError(.badGateway, detail: "malformed status line")
            }
            var headers = HTTPHeaders()
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.add(
                    name: String(line[..<colon]),
                    value: String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
            }
            let bodyStart = headEnd.upperBound - view.startIndex
            let status = HTTPStatus(code: code, reasonPhrase: statusLine.count > 2 ? String(statusLine[2]) : "")
            if code < 200 {
                buffer.moveReaderIndex(forwardBy: bodyStart)
                continue
            }
            if !expectsBody || !status.allowsBody {
                buffer.moveReaderIndex(forwardBy: bodyStart)
                return TestResponse(status: status, headers: headers, body: ByteBuffer())
            }
            if let length = headers["content-length"].flatMap(Int.init) {
                guard view.count - bodyStart >= length else { return nil }
                buffer.moveReaderIndex(forwardBy: bodyStart)
                return TestResponse(status: status, headers: headers, body: buffer.readSlice(length: length)!)
            }
            if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
                guard let (body, trailers, consumed) = try Self.dechunk(view.dropFirst(bodyStart)) else { return nil }
                buffer.moveReaderIndex(forwardBy: bodyStart + consumed)
                return TestResponse(status: status, headers: headers, body: body, trailers: trailers)
            }
            return nil  // delimited by close: see finish()
        }
    }

    /// At end of stream: a close-delimited response, if one is buffered.
    mutating func finish() throws -> TestResponse? {
        expectsBody = true
        guard let response = try next() else {
            let view = buffer.readableBytesView
            guard let headEnd = view.firstRange(of: [13, 10, 13, 10]) else { return nil }
            var copy = self
            copy.buffer = ByteBuffer(bytes: view[view.startIndex..<headEnd.upperBound])
            guard var response = try copy.next() else { return nil }
            response.body = ByteBuffer(bytes: view[headEnd.upperBound...])
            buffer.clear()
            return response
        }
        return response
    }

    static func dechunk(_ bytes: ByteBufferView.SubSequence) throws -> (ByteBuffer, HTTPHeaders, Int)? {
        var body = ByteBuffer()
        var index = bytes.startIndex
        while true {
            guard let lineEnd = bytes[index...].firstRange(of: [13, 10]) else { return nil }
            let sizeText = String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else {
                throw HTTPError(.badGateway, detail: "malformed chunk size")
            }
            index = lineEnd.upperBound
            if size == 0 {
                // Trailer fields, one per line, until an empty line.
                var trailers = HTTPHeaders()
                while true {
                    guard let lineEnd = bytes[index...].firstRange(of: [13, 10]) else { return nil }
                    let line = String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self)
                    index = lineEnd.upperBound
                    guard let colon = line.firstIndex(of: ":") else { break }
                    trailers.add(
                        name: String(line[..<colon]),
                        value: String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
                }
                return (body, trailers, index - bytes.startIndex)
            }
            guard bytes.endIndex - index >= size + 2 else { return nil }
            body.writeBytes(bytes[index..<(index + size)])
            index += size + 2
        }
    }
}
