import FasterAPICore
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix

/// One cleartext HTTP/2 connection (prior knowledge) to a live server; each request is a new
/// stream.
struct HTTP2TestConnection: LiveTestTransport {
    let channel: any Channel
    let multiplexer: NIOHTTP2Handler.StreamMultiplexer

    static func connect(to address: SocketAddress) async throws -> HTTP2TestConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(to: address).get()
        let multiplexer = try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                mode: .client, connectionConfiguration: .init(), streamConfiguration: .init()
            ) { stream in stream.eventLoop.makeSucceededVoidFuture() }
        }.get()
        return HTTP2TestConnection(channel: channel, multiplexer: multiplexer)
    }

    func send(_ head: HTTPRequestHead, _ body: TestBody) async throws -> TestResponse {
        let promise = channel.eventLoop.makePromise(of: TestResponse.self)
        do {
            try await open(head, body, promise: promise)
        } catch {
            promise.fail(error)
        }
        return try await promise.futureResult.get()
    }

    /// Opens a stream for the request and sends it; the collector completes `promise`.
    private func open(_ head: HTTPRequestHead, _ body: TestBody, promise: EventLoopPromise<TestResponse>) async throws {
        let expectsBody = head.method != .head
        let stream = try await multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise, expectsBody: expectsBody))
            }
        }.get()
        var fields = HPACKHeaders()
        fields.add(name: ":method", value: head.method.rawValue)
        fields.add(name: ":scheme", value: "http")
        fields.add(name: ":path", value: head.target)
        fields.add(name: ":authority", value: head.headers["host"] ?? "testserver")
        for (name, value) in head.headers where name.lowercased() != "host" {
            fields.add(name: name.lowercased(), value: value)
        }
        var frames: [HTTP2Frame.FramePayload] = []
        switch body {
        case .none:
            frames.append(.headers(.init(headers: fields, endStream: true)))
        case .buffer(let buffer):
            if !head.headers.contains("content-length") {
                fields.add(name: "content-length", value: String(buffer.readableBytes))
            }
            frames.append(.headers(.init(headers: fields)))
            frames.append(.data(.init(data: .byteBuffer(buffer), endStream: true)))
        case .chunks(let chunks):
            frames.append(.headers(.init(headers: fields)))
            for chunk in chunks where chunk.readableBytes > 0 { frames.append(.data(.init(data: .byteBuffer(chunk)))) }
            frames.append(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)))
        }
        for frame in frames.dropLast() { stream.write(frame, promise: nil) }
        try await stream.writeAndFlush(frames.last!).get()
    }

    func close() async {
        try? await channel.close()
    }

    /// Gathers one stream's response: HEADERS (skipping 1xx), DATA, trailing HEADERS.
    private final class ResponseCollector: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame.FramePayload

        let promise: EventLoopPromise<TestResponse>
        let expectsBody: Bool
        var response: TestResponse?

        init(promise: EventLoopPromise<TestResponse>, expectsBody: Bool) {
            self.promise = promise
            self.expectsBody = expectsBody
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .headers(let frame):
                if var response {
                    for (name, value, _) in frame.headers { response.trailers.add(name: name, value: value) }
                    self.response = response
                } else {
                    guard let code = frame.headers.first(name: ":status").flatMap(Int.init), code >= 200 else { return }
                    var headers = HTTPHeaders()
                    for (name, value, _) in frame.headers where !name.hasPrefix(":") { headers.add(name: name, value: value) }
                    response = TestResponse(
                        status: HTTPStatus(code: code),
                        headers: headers, body: ByteBuffer())
                }
                if frame.endStream { finish() }
            case .data(let frame):
                if case .byteBuffer(var bytes) = frame.data { response?.body.writeBuffer(&bytes) }
                if frame.endStream { finish() }
            case .rstStream(let code):
                promise.fail(HTTPError(.badGateway, detail: "stream reset by the server: \(code)"))
            default:
                break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(HTTPError(.badGateway, detail: "stream closed before a complete response"))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
        }

        private func finish() {
            guard let response else { return }
            promise.succeed(response)
        }
    }
}
