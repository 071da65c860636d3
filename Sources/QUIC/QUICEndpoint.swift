import NIOCore
import NIOPosix

/// A QUIC server endpoint on a UDP socket: datagrams are routed to connections by Destination
/// Connection ID; a client Initial of at least 1200 bytes for an unknown ID opens a connection.
/// It answers `hq-interop` requests (HTTP/0.9 over QUIC: `GET /path\r\n` on a bidirectional
/// stream, the body as the answer) with `respond`. Everything runs on the socket's event loop.
public final class QUICServerEndpoint: Sendable {
    private let channel: any Channel

    /// The address the endpoint listens on.
    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: any Channel) { self.channel = channel }

    /// Binds `host:port` (port 0: any free port) and serves connections with `configuration`.
    public static func bind(
        host: String, port: Int, configuration: QUICTLSConfiguration, parameters: QUICTransportParameters = QUICTransportParameters(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        respond: @escaping @Sendable (_ path: String) -> [UInt8]? = { _ in nil }
    ) async throws -> QUICServerEndpoint {
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(configuration: configuration, parameters: parameters, respond: respond))
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
        private let respond: @Sendable (String) -> [UInt8]?
        private var connections: [[UInt8]: Entry] = [:]
        /// Request bytes received so far, by connection and stream.
        private var requests: [[UInt8]: [UInt64: [UInt8]]] = [:]
        /// The client's original Destination Connection ID → the connection's own ID (for the
        /// client's repeated Initials before it learns ours).
        private var aliases: [[UInt8]: [UInt8]] = [:]

        init(configuration: QUICTLSConfiguration, parameters: QUICTransportParameters, respond: @escaping @Sendable (String) -> [UInt8]?) {
            self.configuration = configuration
            self.parameters = parameters
            self.respond = respond
        }

        /// Answers the hq-interop requests completed by `actions`; returns the datagrams that
        /// carry the answers.
        private func answer(_ actions: [QUICConnection.Action], on id: [UInt8]) -> [QUICConnection.Action] {
            var more: [QUICConnection.Action] = []
            guard connections[id]?.connection.applicationProtocol == "hq-interop" else { return [] }
            for case .streamData(let stream, let bytes, let fin) in actions {
                requests[id, default: [:]][stream, default: []] += bytes
                guard fin, let request = requests[id]?[stream] else { continue }
                requests[id]?[stream] = nil
                let words = String(decoding: request, as: UTF8.self).split(whereSeparator: \.isWhitespace)
                let path = words.count >= 2 && words[0] == "GET" ? String(words[1]) : ""
                let body = respond(path) ?? []
                if let entry = connections[id] {
                    var connection = entry.connection
                    more += connection.send(body, on: stream, fin: true)
                    connections[id]?.connection = connection
                }
            }
            return more
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
            } else if header.isUnsupportedVersion {
                // Another version: offer ours (RFC 9000 §6), only to a datagram of full size.
                guard datagram.count >= 1200 else { return }
                var answer: [UInt8] = [0x80 | UInt8.random(in: 0...0x7F), 0, 0, 0, 0]
                answer += [UInt8(header.sourceConnectionID.count)] + header.sourceConnectionID
                answer += [UInt8(header.destinationConnectionID.count)] + header.destinationConnectionID
                answer += [0, 0, 0, 1, 0x1A, 0x2A, 0x3A, 0x4A]  // version 1, and a reserved one (greasing)
                context.writeAndFlush(
                    wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: answer))), promise: nil)
                return
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
            let local = connections[id]?.connection.localConnectionID ?? aliases[id] ?? id
            actions += answer(actions, on: local)
            // HTTP/3 is not served yet: an h3 client gets a clean close (H3_NO_ERROR) after the handshake.
            if actions.contains(.handshakeComplete(applicationProtocol: "h3")), var entry = connections[local] {
                actions += entry.connection.close(applicationError: 0x100, reason: "HTTP/3 is not served yet")
                connections[local] = entry
            }
            let peer = connections[local]?.peer ?? envelope.remoteAddress
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
