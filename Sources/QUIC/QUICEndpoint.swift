import Crypto
import Foundation
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
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, requireRetry: Bool = false,
        respond: @escaping @Sendable (_ path: String) -> [UInt8]? = { _ in nil }
    ) async throws -> QUICServerEndpoint {
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(configuration: configuration, parameters: parameters, requireRetry: requireRetry, respond: respond))
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
        /// Whether a client proves its address with a Retry token before a connection opens.
        private let requireRetry: Bool
        private let tokenKey = SymmetricKey(size: .bits256)
        private var connections: [[UInt8]: Entry] = [:]
        /// Request bytes received so far, by connection and stream.
        private var requests: [[UInt8]: [UInt64: [UInt8]]] = [:]
        /// The client's original Destination Connection ID → the connection's own ID (for the
        /// client's repeated Initials before it learns ours).
        private var aliases: [[UInt8]: [UInt8]] = [:]

        init(
            configuration: QUICTLSConfiguration, parameters: QUICTransportParameters, requireRetry: Bool,
            respond: @escaping @Sendable (String) -> [UInt8]?
        ) {
            self.configuration = configuration
            self.parameters = parameters
            self.requireRetry = requireRetry
            self.respond = respond
        }

        /// A Retry token (RFC 9000 §8.1.2): when it expires, the client's original Destination
        /// Connection ID and the Retry's Source Connection ID, authenticated with the client's
        /// address.
        private func token(for address: SocketAddress, original: [UInt8], retrySource: [UInt8]) -> [UInt8] {
            let expiry = UInt64(Date().timeIntervalSince1970) + 30
            var payload = (0..<8).map { UInt8(truncatingIfNeeded: expiry >> (56 - 8 * UInt64($0))) }
            payload += [UInt8(original.count)] + original + [UInt8(retrySource.count)] + retrySource
            return payload + Array(HMAC<SHA256>.authenticationCode(for: Array("\(address)".utf8) + payload, using: tokenKey))
        }

        /// The original Destination Connection ID in a valid, unexpired token for `address`
        /// whose Retry Source Connection ID is `retrySource`; nil otherwise.
        private func validate(_ token: [UInt8], address: SocketAddress, retrySource: [UInt8]) -> [UInt8]? {
            guard token.count > 8 + 2 + 32 else { return nil }
            let payload = Array(token.dropLast(32))
            guard HMAC<SHA256>.isValidAuthenticationCode(token.suffix(32), authenticating: Array("\(address)".utf8) + payload, using: tokenKey)
            else { return nil }
            let expiry = payload.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard expiry >= UInt64(Date().timeIntervalSince1970) else { return nil }
            let originalLength = Int(payload[8])
            guard payload.count == 9 + originalLength + 1 + retrySource.count, Int(payload[9 + originalLength]) == retrySource.count,
                Array(payload[(10 + originalLength)...]) == retrySource
            else { return nil }
            return Array(payload[9..<(9 + originalLength)])
        }

        /// A Retry packet for a client Initial (with its integrity tag).
        private func retry(for header: QUICPacketHeader, address: SocketAddress) -> [UInt8] {
            let source = QUICConnection.randomConnectionID()
            var packet: [UInt8] = [0xF0 | UInt8.random(in: 0...0x0F), 0, 0, 0, 1]
            packet += [UInt8(header.sourceConnectionID.count)] + header.sourceConnectionID + [UInt8(source.count)] + source
            packet += token(for: address, original: header.destinationConnectionID, retrySource: source)
            let tag = (try? QUICRetryIntegrity.tag(packet: packet, originalDestinationConnectionID: header.destinationConnectionID)) ?? []
            return packet + tag
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

        private var timer: RepeatedTask?

        func handlerAdded(context: ChannelHandlerContext) {
            // The loss and probe timers of every connection, every 5 ms.
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(5), delay: .milliseconds(5)) { _ in
                let (handler, context) = loopBound.value
                handler.tick(context: context)
            }
        }

        func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

        private func tick(context: ChannelHandlerContext) {
            for (id, entry) in connections {
                var connection = entry.connection
                let actions = connection.tick()
                connections[id]?.connection = connection
                for case .send(let bytes) in actions {
                    context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: entry.peer, data: ByteBuffer(bytes: bytes))), promise: nil)
                }
            }
            context.flush()
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
                guard header.type == .initial, !header.isUnsupportedVersion, datagram.count >= 1200 else { return }
                var retriedFrom: [UInt8]?
                if requireRetry {
                    guard !header.token.isEmpty else {
                        let packet = retry(for: header, address: envelope.remoteAddress)
                        context.writeAndFlush(
                            wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: packet))), promise: nil)
                        return
                    }
                    // A token that does not check out is dropped (the client may be an attacker's puppet).
                    guard let original = validate(header.token, address: envelope.remoteAddress, retrySource: header.destinationConnectionID)
                    else { return }
                    retriedFrom = original
                }
                guard let (connection, first) = try? QUICConnection.server(
                        accepting: datagram, header: header, configuration: configuration, parameters: parameters, retriedFrom: retriedFrom)
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
