import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A small HTTP/1.1 client for the MCP client's transports: keep-alive connections to one
/// origin, each carrying one request at a time. A response is handed over part by part on the
/// connection's event loop as it arrives (an event stream is read as it comes), so an answer
/// reaches its waiting caller without passing through another task.
final class MCPHTTPClient: Sendable {
    /// A part of a response as it arrives.
    enum Part: Sendable {
        case head(HTTPResponseHead)
        case body(ByteBuffer)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// One request: what to send, who reads the answer (on the event loop; throwing closes the
    /// connection) and who hears how it ended.
    struct Job: Sendable {
        let head: HTTPRequestHead
        let body: ByteBuffer?
        let consume: @Sendable (Part) throws -> Void
        let completion: @Sendable (Result<Void, any Error>) -> Void
    }

    let host: String
    let port: Int
    private let hostField: String
    private let sslContext: NIOSSLContext?
    private let idle = Mutex<[any Channel]>([])
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])
    private let timeout: TimeAmount

    /// A client for `url`'s origin (`http://` or `https://`).
    init(origin url: URL, tls: TLSConfiguration = .makeClientConfiguration(), timeout: TimeAmount = .seconds(10)) throws {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else { throw Failure(description: "not an http(s) URL: \(url)") }
        self.host = host
        let secure = scheme == "https"
        self.port = url.port ?? (secure ? 443 : 80)
        let bracketed = host.contains(":") ? "[\(host)]" : host
        self.hostField = url.port.map { "\(bracketed):\($0)" } ?? bracketed
        self.sslContext = secure ? try NIOSSLContext(configuration: tls) : nil
        self.timeout = timeout
    }

    /// Starts a request; `consume` gets the response's parts on the event loop, `completion`
    /// how it ended. A kept-alive connection the server closed meanwhile fails before any
    /// answer: the request then goes again on a new connection.
    func start(
        _ method: HTTPMethod, _ target: String, headers: [(String, String)] = [], body: ByteBuffer? = nil,
        consume: @escaping @Sendable (Part) throws -> Void, completion: @escaping @Sendable (Result<Void, any Error>) -> Void
    ) {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: target)
        head.headers.add(name: "Host", value: hostField)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if let body { head.headers.add(name: "Content-Length", value: String(body.readableBytes)) }
        let job = Job(head: head, body: body, consume: consume, completion: completion)
        while let channel = idle.withLock({ $0.popLast() }) {
            guard channel.isActive else { continue }
            let answered = NIOLockedValueBox(false)
            let watched = Job(
                head: head, body: body, consume: { part in
                    answered.withLockedValue { $0 = true }
                    try consume(part)
                },
                completion: { result in
                    if case .failure = result, !answered.withLockedValue({ $0 }) {
                        self.connectThenSend(job)
                    } else {
                        completion(result)
                    }
                })
            send(watched, on: channel)
            return
        }
        connectThenSend(job)
    }

    /// The async form of ``start``: returns once the response has ended.
    func execute(
        _ method: HTTPMethod, _ target: String, headers: [(String, String)] = [], body: ByteBuffer? = nil,
        consume: @escaping @Sendable (Part) throws -> Void
    ) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            start(method, target, headers: headers, body: body, consume: consume) { done.resume(with: $0) }
        }
    }

    /// Closes every connection (a request still running fails).
    func shutdown() {
        for channel in open.withLock({ open in defer { open = [:] }; return Array(open.values) }) { channel.close(promise: nil) }
        idle.withLock { $0 = [] }
    }

    private func send(_ job: Job, on channel: any Channel) {
        channel.eventLoop.execute {
            do {
                try channel.pipeline.syncOperations.handler(type: ResponseHandler.self).send(job)
            } catch {
                job.completion(.failure(error))
            }
        }
    }

    private func connectThenSend(_ job: Job) {
        let sslContext = self.sslContext
        let serverName = host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : host
        let handler = ResponseHandler { [self] channel in idle.withLock { $0.append(channel) } }
        // On the caller's event loop when it runs on one: its answers then need no thread hop.
        ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton.any())
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: host, port: port)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    open.withLock { $0[ObjectIdentifier(channel)] = channel }
                    channel.closeFuture.whenComplete { [self] _ in
                        open.withLock { $0[ObjectIdentifier(channel)] = nil }
                        idle.withLock { $0.removeAll { $0 === channel } }
                    }
                    send(job, on: channel)
                case .failure(let error):
                    job.completion(.failure(error))
                }
            }
    }

    /// Writes one request at a time and hands its response's parts to the request's reader.
    /// Lives on its channel's event loop.
    private final class ResponseHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        private var context: ChannelHandlerContext?
        private var current: Job?
        private var keepAlive = false
        /// Puts the channel back in the pool once a response has ended.
        private let release: @Sendable (any Channel) -> Void

        init(release: @escaping @Sendable (any Channel) -> Void) { self.release = release }

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }

        func send(_ job: Job) {
            guard let context, current == nil, context.channel.isActive else {
                return job.completion(.failure(Failure(description: "the connection closed")))
            }
            current = job
            context.write(wrapOutboundOut(.head(job.head)), promise: nil)
            if let body = job.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard let job = current else { return }
            do {
                switch unwrapInboundIn(data) {
                case .head(let head):
                    keepAlive = head.isKeepAlive
                    try job.consume(.head(head))
                case .body(let bytes):
                    try job.consume(.body(bytes))
                case .end:
                    current = nil
                    if keepAlive { release(context.channel) } else { context.close(promise: nil) }
                    job.completion(.success(()))
                }
            } catch {
                current = nil
                context.close(promise: nil)
                job.completion(.failure(error))
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            fail(Failure(description: "the connection closed"))
            context.fireChannelInactive()
        }

        private func fail(_ error: any Error) {
            guard let job = current else { return }
            current = nil
            job.completion(.failure(error))
        }
    }
}
