/// FasterAPICore: the SwiftNIO server under FasterAPI.
///
/// Owns listeners, the HTTP/1.1 codec and connection loop, limits and timeouts, graceful
/// shutdown, and the protocol-neutral `HTTPRequest`/`Response`/body types with the
/// `HTTPResponder` protocol every codec calls. It must not know about routing, JSON or OpenAPI.
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// An HTTP server: binds, serves a responder, and shuts down gracefully.
///
/// Run it as a swift-service-lifecycle `Service` (``run()`` returns after graceful shutdown), or
/// drive it with ``start()`` and ``shutdown()``.
public final class HTTPServer<Responder: HTTPResponder>: Service, Sendable {
    /// The configuration the server was made with.
    public let configuration: ServerConfiguration
    private let responder: Responder
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    private let tls = NIOLockedValueBox<TLSContextProvider?>(nil)
    private let onStart: @Sendable (SocketAddress) async -> Void

    private struct State {
        var channel: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var started: EventLoopPromise<SocketAddress>?
        var isShuttingDown = false
    }

    /// Creates a server. `onStart` runs once the socket is bound, with the real address (useful
    /// with port 0).
    public init(
        responder: Responder,
        configuration: ServerConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "FasterAPI"),
        onStart: @escaping @Sendable (SocketAddress) async -> Void = { _ in }
    ) {
        self.responder = responder
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
        self.onStart = onStart
    }

    /// The bound address, once started.
    public var localAddress: SocketAddress? {
        state.withLockedValue { $0.channel?.localAddress }
    }

    /// Number of open connections.
    public var connectionCount: Int { state.withLockedValue { $0.connections.count } }

    /// Binds and starts accepting. Returns the bound address.
    @discardableResult
    public func start() async throws -> SocketAddress {
        var resources: [ObjectIdentifier: LoopResources] = [:]
        for loop in group.makeIterator() {
            resources[ObjectIdentifier(loop)] = LoopResources(
                executor: EventLoopTaskExecutor(loop), dateCache: DateCache(), logger: logger)
        }
        let loopResources = resources
        let logger = self.logger
        let configuration = self.configuration
        var tlsProvider: TLSContextProvider?
        if let tls = configuration.tls {
            tlsProvider = try TLSContextProvider(
                tls, applicationProtocols: ConnectionSetup<Responder>.applicationProtocols(configuration))
        }
        self.tls.withLockedValue { $0 = tlsProvider }
        let setup = ConnectionSetup(responder: responder, configuration: configuration, tls: tlsProvider)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { [weak self] channel in
                guard let self else { return channel.close() }
                guard self.register(channel) else {
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            OverloadHandler(linger: configuration.lingerTimeout))
                    }
                }
                let resources =
                    loopResources[ObjectIdentifier(channel.eventLoop)]
                    ?? LoopResources(
                        executor: EventLoopTaskExecutor(channel.eventLoop), dateCache: DateCache(), logger: logger)
                return channel.eventLoop.makeCompletedFuture {
                    try setup.configure(channel, resources: resources)
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        state.withLockedValue { $0.channel = channel }
        let address = channel.localAddress!
        logger.info(
            "FasterAPI listening",
            metadata: ["address": "\(address)", "tls": "\(tlsProvider != nil)", "http2": "\(configuration.http2 != nil)"])
        await onStart(address)
        return address
    }

    /// Reads the TLS certificates and keys again (from their files) and presents them on new
    /// connections; open connections keep theirs. Throws, changing nothing, if the new material
    /// does not load or the server has no TLS.
    public func reloadTLS() throws {
        guard let provider = tls.withLockedValue({ $0 }) else {
            throw TLSConfigurationError(description: "the server is not serving TLS")
        }
        try provider.reload()
        logger.info("TLS certificates reloaded")
    }

    /// Starts, serves until graceful shutdown is requested (SIGTERM/SIGINT through a
    /// `ServiceGroup`, or task cancellation), then shuts down gracefully.
    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        logger.info("FasterAPI shutting down gracefully")
        await shutdown()
        logger.info("FasterAPI stopped")
    }

    /// Stops accepting and tells every connection to finish the request it is answering and then
    /// close (idle ones close at once). Returns once every connection has been told.
    public func beginShutdown() async {
        let (listener, connections) = state.withLockedValue { state in
            state.isShuttingDown = true
            return (state.channel, Array(state.connections.values))
        }
        try? await listener?.close()
        for connection in connections {
            try? await connection.eventLoop.submit {
                connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            }.get()
        }
    }

    /// Stops accepting, lets in-flight requests finish (up to the grace period), then closes
    /// every connection.
    public func shutdown() async {
        await beginShutdown()
        let deadline = NIODeadline.now() + configuration.shutdownGracePeriod
        while connectionCount > 0 && NIODeadline.now() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let remaining = state.withLockedValue { Array($0.connections.values) }
        for connection in remaining { connection.close(promise: nil) }
    }

    /// Tracks a new connection; false if it is over the limit or the server is stopping.
    private func register(_ channel: any Channel) -> Bool {
        let accepted = state.withLockedValue { state in
            guard !state.isShuttingDown, state.connections.count < configuration.maxConnections else { return false }
            state.connections[ObjectIdentifier(channel)] = channel
            return true
        }
        if accepted {
            channel.closeFuture.whenComplete { [weak self] _ in
                self?.state.withLockedValue { _ = $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
            }
        }
        return accepted
    }
}

/// Answers a connection over the limit with 503 and closes it.
final class OverloadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How long what the client sends is read and dropped after the answer, before closing.
    let linger: TimeAmount

    init(linger: TimeAmount) { self.linger = linger }

    func channelActive(context: ChannelHandlerContext) {
        let body = "{\"detail\":\"Too many connections\"}"
        var buffer = context.channel.allocator.buffer(capacity: 160)
        buffer.writeString(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nRetry-After: 1\r\nConnection: close\r\n\r\n\(body)"
        )
        let linger = self.linger
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            // Close our side and drain the request the client may be sending, so the kernel does
            // not answer it with a reset that destroys the 503; then close for good.
            context.close(mode: .output).assumeIsolated().whenFailure { _ in context.close(promise: nil) }
            context.eventLoop.assumeIsolated().scheduleTask(in: linger) { context.close(promise: nil) }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
