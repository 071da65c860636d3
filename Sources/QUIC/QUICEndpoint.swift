import NIOCore
import NIOPosix

/// A QUIC server endpoint on a UDP socket: datagrams are routed to connections by Destination
/// Connection ID; a client Initial of at least 1200 bytes for an unknown ID opens a connection.
/// Everything runs on the socket's event loop.
public final class QUICServerEndpoint: Sendable {
    private let channel: any Channel

    /// The address the endpoint listens on.
    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: any Channel) { self.channel = channel }

    /// Binds `host:port` (port 0: any free port) and serves connections with `configuration`.
    public static func bind(
        host: String, port: Int, configuration: QUICTLSConfiguration, parameters: QUICTransportParameters = QUICTransportParameters(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> QUICServerEndpoint {
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(configuration: configuration, parameters: parameters))
                }
            }
            .bind(host: host, port: port).get()
        return QUICServerEndpoint(channel: channel)
    }

    /// Stops listening.
    public func close() async throws { try await channel.close() }

    /// The connections, by the IDs datagrams reach them with.
    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>

        private struct Entry {
            var connection: QUICConnection
            var peer: SocketAddress
        }

        private let configuration: QUICTLSConfiguration
        private let parameters: QUICTransportParameters
        private var connections: [[UInt8]: Entry] = [:]
        /// The client's original Destination Connection ID → the connection's own ID (for the
        /// client's repeated Initials before it learns ours).
        private var aliases: [[UInt8]: [UInt8]] = [:]

        init(configuration: QUICTLSConfiguration, parameters: QUICTransportParameters) {
            self.configuration = configuration
            self.parameters = parameters
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            let datagram = Array(envelope.data.readableBytesView)
            guard let header = try? QUICPacketParser.header(of: datagram[...], shortHeaderConnectionIDLength: 8) else { return }
            let id = aliases[header.destinationConnectionID] ?? header.destinationConnectionID
            var actions: [QUICConnection.Action]
            if var entry = connections[id] {
                actions = entry.connection.receive(datagram)
                entry.peer = envelope.remoteAddress
                connections[id] = entry
            } else {
                // Only a client Initial of full size opens a connection (RFC 9000 §14.1).
                guard header.type == .initial, !header.isUnsupportedVersion, datagram.count >= 1200,
                    let (connection, first) = try? QUICConnection.server(
                        accepting: datagram, header: header, configuration: configuration, parameters: parameters)
                else { return }
                connections[connection.localConnectionID] = Entry(connection: connection, peer: envelope.remoteAddress)
                aliases[header.destinationConnectionID] = connection.localConnectionID
                actions = first
            }
            let peer = connections[id]?.peer ?? envelope.remoteAddress
            for case .send(let bytes) in actions {
                context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: peer, data: ByteBuffer(bytes: bytes))), promise: nil)
            }
            context.flush()
            if let entry = connections[id] ?? connections[aliases[id] ?? []], case .closed = entry.connection.state {
                connections[entry.connection.localConnectionID] = nil
            }
        }
    }
}
