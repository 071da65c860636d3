import Crypto
import Foundation
import NIOCore
import NIOPosix

/// A QUIC server endpoint on a UDP socket: datagrams are routed to connections by Destination
/// Connection ID (every ID a connection issued); a client Initial of at least 1200 bytes for an
/// unknown ID opens a connection, up to `maxConnections`; a short-header packet for an unknown
/// ID is answered with a stateless reset. Each connection, once its handshake completes, is
/// handed to `onSession` as a `QUICSession`. The connections run on the socket's event loop.
public final class QUICServerEndpoint: Sendable {
    private let channel: any Channel

    /// The address the endpoint listens on.
    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: any Channel) { self.channel = channel }

    /// Binds `host:port` (port 0: any free port) and serves connections with `configuration`.
    public static func bind(
        host: String, port: Int, configuration: QUICTLSConfiguration, parameters: QUICTransportParameters = .recommended,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, requireRetry: Bool = false, maxConnections: Int = 10_000,
        onSession: @escaping @Sendable (QUICSession) async -> Void
    ) async throws -> QUICServerEndpoint {
        let tls = try QUICTLSContext(configuration, server: true)
        let channel = try await DatagramBootstrap(group: group).quicSocketOptions()
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(
                            tls: tls, parameters: parameters, requireRetry: requireRetry, maxConnections: maxConnections,
                            onSession: onSession))
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


        private let tls: QUICTLSContext
        private let parameters: QUICTransportParameters
        private let onSession: @Sendable (QUICSession) async -> Void
        /// Whether a client proves its address with a Retry token before a connection opens.
        private let requireRetry: Bool
        private let maxConnections: Int
        private let tokenKey = SymmetricKey(size: .bits256)
        /// The key of our stateless reset tokens.
        private let resetKey = SymmetricKey(size: .bits256)
        /// Connections by their first connection ID of ours.
        private var connections: [[UInt8]: QUICSessionDriver] = [:]
        /// Every connection ID a datagram may arrive with (the client's original Destination
        /// Connection ID too, for its repeated Initials) → the connection's key.
        private var routes: [[UInt8]: [UInt8]] = [:]
        /// Each connection's routes (to forget them with it).
        private var routesOf: [[UInt8]: Set<[UInt8]>] = [:]

        init(
            tls: QUICTLSContext, parameters: QUICTransportParameters, requireRetry: Bool, maxConnections: Int,
            onSession: @escaping @Sendable (QUICSession) async -> Void
        ) {
            self.tls = tls
            self.parameters = parameters
            self.requireRetry = requireRetry
            self.maxConnections = maxConnections
            self.onSession = onSession
        }

        /// The kinds of address token (RFC 9000 §8.1): a Retry's, and NEW_TOKEN's for later connections.
        private enum TokenKind: UInt8 {
            case retry = 0x52, newToken = 0x4E
        }

        /// A token of `kind`, valid until `lifetime` seconds from now, carrying `payload`,
        /// authenticated with the client's address (for NEW_TOKEN its IP only: ports change).
        private func token(_ kind: TokenKind, for address: SocketAddress, lifetime: UInt64, payload: [UInt8]) -> [UInt8] {
            let expiry = UInt64(Date().timeIntervalSince1970) + lifetime
            let body = [kind.rawValue] + (0..<8).map { UInt8(truncatingIfNeeded: expiry >> (56 - 8 * UInt64($0))) } + payload
            return body + Array(HMAC<SHA256>.authenticationCode(for: bound(kind, address) + body, using: tokenKey))
        }

        private func bound(_ kind: TokenKind, _ address: SocketAddress) -> [UInt8] {
            Array((kind == .retry ? "\(address)" : address.ipAddress ?? "").utf8)
        }

        /// The payload of a valid, unexpired token of `kind` for `address`; nil otherwise.
        private func validate(_ token: [UInt8], _ kind: TokenKind, address: SocketAddress) -> [UInt8]? {
            guard token.count >= 1 + 8 + 32, token[0] == kind.rawValue else { return nil }
            let body = Array(token.dropLast(32))
            guard HMAC<SHA256>.isValidAuthenticationCode(token.suffix(32), authenticating: bound(kind, address) + body, using: tokenKey)
            else { return nil }
            let expiry = body[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard expiry >= UInt64(Date().timeIntervalSince1970) else { return nil }
            return Array(body[9...])
        }

        /// A Retry token (§8.1.2): the client's original Destination Connection ID and the
        /// Retry's Source Connection ID, for 30 seconds.
        private func retryToken(for address: SocketAddress, original: [UInt8], retrySource: [UInt8]) -> [UInt8] {
            token(.retry, for: address, lifetime: 30, payload: [UInt8(original.count)] + original + retrySource)
        }

        /// The original Destination Connection ID in a valid Retry token for `address` whose
        /// Retry Source Connection ID is `retrySource`; nil otherwise.
        private func validateRetryToken(_ token: [UInt8], address: SocketAddress, retrySource: [UInt8]) -> [UInt8]? {
            guard let payload = validate(token, .retry, address: address), let length = payload.first.map(Int.init),
                payload.count == 1 + length + retrySource.count, Array(payload[(1 + length)...]) == retrySource
            else { return nil }
            return Array(payload[1..<(1 + length)])
        }

        /// A Retry packet for a client Initial (with its integrity tag).
        private func retry(for header: QUICPacketHeader, address: SocketAddress) -> [UInt8] {
            let source = QUICConnection.randomConnectionID()
            var packet: [UInt8] = [0xF0 | UInt8.random(in: 0...0x0F), 0, 0, 0, 1]
            packet += [UInt8(header.sourceConnectionID.count)] + header.sourceConnectionID + [UInt8(source.count)] + source
            packet += retryToken(for: address, original: header.destinationConnectionID, retrySource: source)
            let tag = (try? QUICRetryIntegrity.tag(packet: packet, originalDestinationConnectionID: header.destinationConnectionID)) ?? []
            return packet + tag
        }

        private var timer: RepeatedTask?

        func handlerAdded(context: ChannelHandlerContext) {
            // The timers of every connection, every 5 ms.
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(5), delay: .milliseconds(5)) { _ in
                let (handler, context) = loopBound.value
                handler.tick(context: context)
            }
        }

        func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

        private func tick(context: ChannelHandlerContext) {
            let now = QUICInstant.now
            for driver in connections.values { driver.tick(now: now) }
        }

        /// Sends what a connection asks to its peer's address (flushing when `flush`), keeps
        /// the routes to its connection IDs, and forgets it once its closing period is over.
        private func perform(_ actions: [QUICConnection.Action], on key: [UInt8], context: ChannelHandlerContext, flush: Bool) {
            guard let driver = connections[key] else { return }
            var datagrams: [[UInt8]] = []
            for action in actions {
                switch action {
                case .send(let bytes): datagrams.append(bytes)
                case .newConnectionID(let id):
                    routes[id] = key
                    routesOf[key, default: []].insert(id)
                case .retiredConnectionID(let id):
                    routes[id] = nil
                    routesOf[key]?.remove(id)
                default: break
                }
            }
            if let peer = driver.connection.peerAddress {
                for envelope in QUICDatagramIO.envelopes(datagrams, to: peer, ecn: driver.connection.marksECN) {
                    context.write(wrapOutboundOut(envelope), promise: nil)
                }
            }
            if flush, !actions.isEmpty { context.flush() }
            if driver.connection.isFinished {
                connections[key] = nil
                for id in routesOf.removeValue(forKey: key) ?? [] { routes[id] = nil }
            }
        }

        /// While a datagram is being taken in, writes wait for one flush at its end.
        private var reading = false

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            reading = true
            defer {
                reading = false
                context.flush()
            }
            for datagram in QUICDatagramIO.datagrams(in: envelope) {
                receive(datagram, from: envelope.remoteAddress, ecn: envelope.metadata?.ecnState ?? .transportNotCapable, context: context)
            }
        }

        /// Routes one datagram to its connection, or opens one, or answers for a connection
        /// unknown here.
        private func receive(
            _ datagram: [UInt8], from remoteAddress: SocketAddress, ecn: NIOExplicitCongestionNotificationState, context: ChannelHandlerContext
        ) {
            guard let header = try? QUICPacketParser.header(of: datagram[...], shortHeaderConnectionIDLength: 8) else { return }
            if let known = routes[header.destinationConnectionID], let driver = connections[known] {
                driver.receive(datagram, from: remoteAddress, ecn: ecn)
            } else if header.type == .oneRTT {
                // A connection we do not know (gone, or another endpoint's): a stateless reset (§10.3).
                if let reset = QUICConnection.statelessReset(for: header.destinationConnectionID, receivedSize: datagram.count, key: resetKey) {
                    context.write(
                        wrapOutboundOut(AddressedEnvelope(remoteAddress: remoteAddress, data: ByteBuffer(bytes: reset))), promise: nil)
                }
                return
            } else if header.isUnsupportedVersion {
                // Another version: offer ours (RFC 9000 §6), only to a datagram of full size.
                guard datagram.count >= 1200 else { return }
                var answer: [UInt8] = [0x80 | UInt8.random(in: 0...0x7F), 0, 0, 0, 0]
                answer += [UInt8(header.sourceConnectionID.count)] + header.sourceConnectionID
                answer += [UInt8(header.destinationConnectionID.count)] + header.destinationConnectionID
                answer += [0, 0, 0, 1, 0x1A, 0x2A, 0x3A, 0x4A]  // version 1, and a reserved one (greasing)
                context.write(
                    wrapOutboundOut(AddressedEnvelope(remoteAddress: remoteAddress, data: ByteBuffer(bytes: answer))), promise: nil)
                return
            } else {
                // Only a client Initial of full size opens a connection (RFC 9000 §14.1), while
                // there is room for one more.
                guard header.type == .initial, datagram.count >= 1200, connections.count < maxConnections else { return }
                // A token from our NEW_TOKEN validates the address at once; one from our Retry
                // completes a Retry; without either a server requiring Retry sends one.
                var retriedFrom: [UInt8]?
                let validated = validate(header.token, .newToken, address: remoteAddress) != nil
                if requireRetry, !validated {
                    guard header.token.first == TokenKind.retry.rawValue else {
                        let packet = retry(for: header, address: remoteAddress)
                        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: remoteAddress, data: ByteBuffer(bytes: packet))), promise: nil)
                        return
                    }
                    // A Retry token that does not check out is dropped (the client may be an attacker's puppet).
                    guard let original = validateRetryToken(header.token, address: remoteAddress, retrySource: header.destinationConnectionID)
                    else { return }
                    retriedFrom = original
                }
                guard
                    let (connection, first) = try? QUICConnection.server(
                        accepting: datagram, header: header, from: remoteAddress, context: tls, parameters: parameters,
                        retriedFrom: retriedFrom, addressValidated: validated, statelessResetKey: resetKey)
                else { return }
                let key = connection.localConnectionID
                let driver = QUICSessionDriver(connection: connection, eventLoop: context.eventLoop)
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                driver.output = { actions in
                    let (handler, context) = bound.value
                    handler.perform(actions, on: key, context: context, flush: !handler.reading)
                }
                let onSession = self.onSession
                // Established: a token for the client's next connection, then the application.
                let newToken = token(.newToken, for: remoteAddress, lifetime: 24 * 3600, payload: [])
                driver.onEstablished = { [unowned driver] session in
                    driver.handle(driver.connection.sendNewToken(newToken))
                    Task { await onSession(session) }
                }
                connections[key] = driver
                routes[key] = key
                routes[header.destinationConnectionID] = key
                routesOf[key] = [key, header.destinationConnectionID]
                driver.handle(first)
            }
        }
    }
}
