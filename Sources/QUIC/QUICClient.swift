import NIOCore
import NIOPosix

/// A QUIC client connection over a UDP socket of its own; `session` is the connection for the
/// application (streams to open and accept).
public final class QUICClient: Sendable {
    private let channel: any Channel
    /// The established connection.
    public let session: QUICSession

    private init(channel: any Channel, session: QUICSession) {
        self.channel = channel
        self.session = session
    }

    /// Connects to `host:port` (an IP address) as `serverName`, and waits for the handshake.
    /// `token`: one the server gave an earlier connection (`QUICSession.addressToken()`), so
    /// this one needs no address validation.
    public static func connect(
        host: String, port: Int, serverName: String, configuration: QUICTLSConfiguration,
        parameters: QUICTransportParameters = .recommended, token: [UInt8]? = nil, timeout: Duration = .seconds(10)
    ) async throws -> QUICClient {
        try await connect(
            host: host, port: port, serverName: serverName, context: QUICTLSContext(configuration, server: false), parameters: parameters,
            token: token, timeout: timeout)
    }

    /// Connects with a TLS context shared by several connections (see the other `connect`).
    public static func connect(
        host: String, port: Int, serverName: String, context: QUICTLSContext,
        parameters: QUICTransportParameters = .recommended, token: [UInt8]? = nil, timeout: Duration = .seconds(10)
    ) async throws -> QUICClient {
        let remote = try SocketAddress(ipAddress: host, port: port)
        let (connection, first) = try QUICConnection.client(serverName: serverName, context: context, parameters: parameters, token: token)
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let established = eventLoop.makePromise(of: QUICSession.self)
        let channel = try await DatagramBootstrap(group: eventLoop).quicSocketOptions()
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let driver = QUICSessionDriver(connection: connection, eventLoop: channel.eventLoop)
                    try channel.pipeline.syncOperations.addHandler(Handler(driver: driver, remote: remote, established: established))
                }
            }
            .bind(host: remote.protocol == .inet6 ? "::1" : "127.0.0.1", port: 0).get()
        let handler = try await channel.pipeline.handler(type: Handler.self).map { handler in
            handler.start(first)
            return NIOLoopBound(handler, eventLoop: eventLoop)
        }.get()
        let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            handler.value.settle(.failure(QUICTransportError(.internalError, "the handshake did not complete in time")))
        }
        defer { timer.cancel() }
        do {
            return QUICClient(channel: channel, session: try await established.futureResult.get())
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Fetches `path` hq-interop style; returns the stream's bytes.
    public func get(_ path: String) async throws -> [UInt8] {
        Array(try await HQInterop.get(path, on: session).readableBytesView)
    }

    /// Closes the connection (NO_ERROR) and the socket.
    public func close() async throws {
        await session.close()
        try await channel.close()
    }

    /// Carries datagrams between the socket and the connection, and runs its timers.
    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>

        private let driver: QUICSessionDriver
        private let remote: SocketAddress
        private let established: EventLoopPromise<QUICSession>
        private var timer: RepeatedTask?
        private var reading = false
        private var settled = false

        init(driver: QUICSessionDriver, remote: SocketAddress, established: EventLoopPromise<QUICSession>) {
            self.driver = driver
            self.remote = remote
            self.established = established
            driver.onEstablished = { [unowned self] session in settle(.success(session)) }
        }

        /// Completes the connection attempt once: established, failed or timed out.
        func settle(_ result: Result<QUICSession, any Error>) {
            guard !settled else { return }
            settled = true
            established.completeWith(result)
        }

        func handlerAdded(context: ChannelHandlerContext) {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            driver.output = { actions in
                let (handler, context) = bound.value
                handler.write(actions, context: context)
            }
            timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(5), delay: .milliseconds(5)) { _ in
                bound.value.0.driver.tick(now: .now)
            }
        }

        func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

        /// Sends the client's first flight.
        func start(_ first: [QUICConnection.Action]) { driver.handle(first) }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            reading = true
            for datagram in QUICDatagramIO.datagrams(in: envelope) {
                driver.receive(datagram, from: nil, ecn: envelope.metadata?.ecnState ?? .transportNotCapable)
            }
            reading = false
            context.flush()
        }

        private func write(_ actions: [QUICConnection.Action], context: ChannelHandlerContext) {
            let datagrams = actions.compactMap { if case .send(let bytes) = $0 { bytes } else { nil } }
            for envelope in QUICDatagramIO.envelopes(datagrams, to: remote, ecn: driver.connection.marksECN) {
                context.write(wrapOutboundOut(envelope), promise: nil)
            }
            if !reading { context.flush() }
            if case .closed(let error) = driver.connection.state { settle(.failure(error)) }
        }
    }
}
