import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A QUIC client connection over a UDP socket of its own, with hq-interop requests
/// (`GET /path\r\n` on a new bidirectional stream, the whole stream as the answer).
public final class QUICClient: Sendable {
    private let channel: any Channel
    private let handler: NIOLoopBound<Handler>

    private init(channel: any Channel, handler: NIOLoopBound<Handler>) {
        self.channel = channel
        self.handler = handler
    }

    /// Connects to `host:port` (an IP address) as `serverName`, and waits for the handshake.
    public static func connect(
        host: String, port: Int, serverName: String, configuration: QUICTLSConfiguration,
        parameters: QUICTransportParameters = QUICClient.defaultParameters, timeout: Duration = .seconds(10)
    ) async throws -> QUICClient {
        let remote = try SocketAddress(ipAddress: host, port: port)
        let (connection, first) = try QUICConnection.client(serverName: serverName, configuration: configuration, parameters: parameters)
        let group = MultiThreadedEventLoopGroup.singleton
        let eventLoop = group.next()
        let made = eventLoop.makePromise(of: NIOLoopBound<Handler>.self)
        let channel = try await DatagramBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = Handler(connection: connection, remote: remote)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    made.succeed(NIOLoopBound(handler, eventLoop: channel.eventLoop))
                }
            }
            .bind(host: remote.protocol == .inet6 ? "::1" : "127.0.0.1", port: 0).get()
        let bound = try await made.futureResult.get()
        let client = QUICClient(channel: channel, handler: bound)
        let established: EventLoopFuture<Void> = eventLoop.flatSubmit {
            bound.value.perform(first)
            return bound.value.established.futureResult
        }
        let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            bound.value.fail(QUICTransportError(.internalError, "the handshake did not complete in time"))
        }
        defer { timer.cancel() }
        do {
            try await established.get()
        } catch {
            try? await channel.close()
            throw error
        }
        return client
    }

    /// Receive limits a client announces by default.
    public static var defaultParameters: QUICTransportParameters {
        var parameters = QUICTransportParameters()
        parameters.maxIdleTimeout = 30_000
        parameters.initialMaxData = 1 << 26
        parameters.initialMaxStreamDataBidiLocal = 1 << 26
        parameters.initialMaxStreamsBidi = 100
        return parameters
    }

    /// Fetches `path` hq-interop style; returns the stream's bytes.
    public func get(_ path: String) async throws -> [UInt8] {
        let eventLoop = channel.eventLoop
        let handler = self.handler
        let answer = try await eventLoop.flatSubmit { () -> EventLoopFuture<[UInt8]> in
            handler.value.request(path)
        }.get()
        return answer
    }

    /// Closes the connection (NO_ERROR) and the socket.
    public func close() async throws {
        let handler = self.handler
        try await channel.eventLoop.submit { handler.value.close() }.get()
        try await channel.close()
    }

    /// Drives the connection on the socket's event loop.
    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>

        private var connection: QUICConnection
        private let remote: SocketAddress
        private var context: ChannelHandlerContext?
        private var pending: [QUICConnection.Action] = []
        let established: EventLoopPromise<Void>
        private var answers: [UInt64: (bytes: [UInt8], promise: EventLoopPromise<[UInt8]>)] = [:]

        init(connection: QUICConnection, remote: SocketAddress) {
            self.connection = connection
            self.remote = remote
            self.established = MultiThreadedEventLoopGroup.singleton.any().makePromise()  // the loop it is made on
        }

        private var timer: RepeatedTask?

        func handlerAdded(context: ChannelHandlerContext) {
            self.context = context
            perform(pending)
            pending = []
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(5), delay: .milliseconds(5)) { _ in
                handler.value.perform(handler.value.connection.tick())
            }
        }

        func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            perform(connection.receive(Array(envelope.data.readableBytesView)))
        }

        func perform(_ actions: [QUICConnection.Action]) {
            guard let context else {
                pending += actions
                return
            }
            var more: [QUICConnection.Action] = []
            for action in actions {
                switch action {
                case .send(let bytes):
                    context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: bytes))), promise: nil)
                case .handshakeComplete:
                    established.succeed()
                case .streamData(let id, let bytes, let fin):
                    answers[id]?.bytes += bytes
                    if fin, let answer = answers.removeValue(forKey: id) { answer.promise.succeed(answer.bytes) }
                    more += connection.consumed(bytes.count, on: id)
                case .streamReset(let id, let code):
                    answers.removeValue(forKey: id)?.promise.fail(QUICTransportError(.noError, "the server reset the stream (\(code))"))
                case .closed(let error):
                    fail(error)
                case .stopSending, .newConnectionID, .retiredConnectionID:
                    break
                }
            }
            context.flush()
            if !more.isEmpty { perform(more) }
        }

        func request(_ path: String) -> EventLoopFuture<[UInt8]> {
            let promise = context!.eventLoop.makePromise(of: [UInt8].self)
            guard let id = connection.openBidirectionalStream() else {
                promise.fail(QUICTransportError(.streamLimitError, "no stream available"))
                return promise.futureResult
            }
            answers[id] = ([], promise)
            perform(connection.send(Array("GET \(path)\r\n".utf8), on: id, fin: true))
            return promise.futureResult
        }

        func fail(_ error: QUICTransportError) {
            established.fail(error)
            for answer in answers.values { answer.promise.fail(error) }
            answers = [:]
        }

        func close() {
            perform(connection.close(applicationError: 0, reason: ""))
        }
    }
}
