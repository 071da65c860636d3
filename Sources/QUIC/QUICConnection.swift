import Crypto
import NIOCore

/// One QUIC connection as a state machine: datagrams go in, datagrams and events come out as
/// actions; no sockets and no timers of its own (the owner calls `tick(now:)` every few
/// milliseconds). This file holds the handshake (Initial and Handshake packets carrying TLS
/// in CRYPTO frames, the client's 1200-byte Initial, the server's 3× anti-amplification limit,
/// HANDSHAKE_DONE and key discard), packet protection and building, acknowledgements, loss
/// recovery, key updates, the idle timeout and closing; streams and flow control are in
/// `QUICConnection+Streams.swift`, connection IDs and paths in `QUICConnection+Paths.swift`.
public struct QUICConnection {
    public enum Role: Sendable { case client, server }

    public enum State: Sendable, Equatable {
        case handshaking
        /// The handshake is complete; for a client, until HANDSHAKE_DONE confirms it.
        case established(confirmed: Bool)
        case closed(QUICTransportError)
    }

    public enum Action: Sendable, Equatable {
        case send([UInt8])
        case handshakeComplete(applicationProtocol: String?)
        /// Bytes that arrived on a stream, in order; `fin` once the stream's end has arrived.
        /// Report them read with `consumed(_:on:)` so the peer may send more.
        case streamData(id: UInt64, bytes: [UInt8], fin: Bool)
        /// The peer abandoned sending on a stream (RESET_STREAM).
        case streamReset(id: UInt64, errorCode: UInt64)
        /// The peer will not read a stream (STOP_SENDING); the stream has been reset in answer.
        case stopSending(id: UInt64, errorCode: UInt64)
        /// A connection ID of ours that datagrams may now arrive with (for the endpoint's routing).
        case newConnectionID([UInt8])
        /// A connection ID of ours the peer retired.
        case retiredConnectionID([UInt8])
        /// The connection closed (by either side, a timeout or a stateless reset).
        case closed(QUICTransportError)
    }

    /// One packet-number space's state.
    struct Space {
        var read: QUICPacketProtector?
        var write: QUICPacketProtector?
        var nextPacketNumber: UInt64 = 0
        var acks = QUICAckTracker()
        /// When the largest packet number was received, ack-eliciting packets not yet
        /// acknowledged, and when an ACK is due at the latest.
        var largestReceivedAt: QUICInstant?
        var unacknowledged = 0
        var ackDue: QUICInstant?
        /// Packets received with each ECN mark (RFC 9000 §13.4.1), reported in ACKs.
        var ecnCounts = (ect0: UInt64(0), ect1: UInt64(0), ce: UInt64(0))
        var cryptoIn = QUICReassemblyBuffer(limit: 1 << 16)
        var cryptoOut: [UInt8] = []
        var cryptoOutOffset: UInt64 = 0
        var discarded = false
        /// CRYPTO data in packets not yet acknowledged (by packet number), and data to send again.
        var cryptoInFlight: [UInt64: (offset: UInt64, bytes: [UInt8])] = [:]
        var cryptoRetransmit: [(offset: UInt64, bytes: [UInt8])] = []
        /// 1-RTT only: the read keys of the next key phase, and how many updates each side made.
        var nextRead: QUICPacketProtector?
        var readGeneration = 0
        var writeGeneration = 0
    }

    public let role: Role
    public private(set) var state = State.handshaking
    public private(set) var localConnectionID: [UInt8]
    public internal(set) var remoteConnectionID: [UInt8]
    /// The Destination Connection ID of the client's first Initial (the Initial keys' input).
    public let originalDestinationConnectionID: [UInt8]
    let tls: QUICTLS
    /// Initial, Handshake and application (1-RTT) spaces.
    var spaces = [Space(), Space(), Space()]
    /// Bytes received from and sent to the peer while its address is not validated (server).
    var received = 0
    var sentBytes = 0
    var addressValidated: Bool
    var handshakeDoneToSend = false
    public private(set) var peerTransportParameters: QUICTransportParameters?
    /// The negotiated application protocol (ALPN), once the handshake is complete.
    public var applicationProtocol: String? { tls.isComplete ? tls.applicationProtocol : nil }
    /// Our own transport parameters (the receive limits we announced).
    let localParameters: QUICTransportParameters
    /// The key our stateless reset tokens derive from (the endpoint's).
    let statelessResetKey: SymmetricKey

    /// ECN on our packets (RFC 9000 §13.4.2): marked ECT(0) while testing and once the peer's
    /// ACKs show the marks arrive; not at all once they do not.
    enum ECNValidation { case testing, capable, failed }
    var ecnValidation = ECNValidation.testing
    /// The ECN counts in the peer's last ACK of 1-RTT packets.
    var peerECNCounts = (ect0: UInt64(0), ect1: UInt64(0), ce: UInt64(0))

    /// Whether our datagrams go marked ECT(0).
    public var marksECN: Bool { ecnValidation != .failed }

    /// Validates ECN with an ACK that newly acknowledged marked packets: counts missing, going
    /// back or short of the packets acknowledged end it; a rise in CE is a congestion signal.
    private mutating func checkECN(_ ack: QUICAckFrame, newlyAcknowledged: [QUICSentPacket], now: QUICInstant) {
        guard ecnValidation != .failed, let newest = newlyAcknowledged.last else { return }
        guard let counts = ack.ecn, counts.ect0 >= peerECNCounts.ect0, counts.ce >= peerECNCounts.ce, counts.ect1 == 0,
            (counts.ect0 - peerECNCounts.ect0) + (counts.ce - peerECNCounts.ce) >= UInt64(newlyAcknowledged.count)
        else {
            ecnValidation = .failed
            return
        }
        ecnValidation = .capable
        if counts.ce > peerECNCounts.ce { congestion.congestionEvent(sentAt: newest.sentAt, now: now) }
        peerECNCounts = counts
    }

    /// Counters for people and benchmarks.
    public struct Statistics: Sendable, Equatable {
        public var packetsSent = 0
        public var bytesSent = 0
        /// 1-RTT packets declared lost, and probe timeouts.
        public var packetsLost = 0
        public var probes = 0
        /// Times sending stopped at the peer's flow-control limits, and at the congestion window.
        public var flowControlBlocked = 0
        public var congestionBlocked = 0
    }

    /// What was sent and lost so far.
    public internal(set) var statistics = Statistics()
    /// The congestion window and the smoothed round-trip time now.
    public var congestionWindow: Int { congestion.window }
    public var smoothedRTT: Duration { rtt.smoothed }

    // Recovery (RFC 9002): 1-RTT sending is paced by NewReno's window.
    var congestion = QUICCongestionController()
    var pacer = QUICPacer()
    /// Whether stream data waited for the pacer at the last flush (the timer sends it).
    var pacingLimited = false
    var applicationLoss = QUICLossDetector()
    var rtt = QUICRTTEstimator()
    /// The frames each 1-RTT packet in flight carried that must reach the peer (sent again if lost).
    var sentFrames: [UInt64: [QUICFrame]] = [:]
    var lastAckElicitingSent: QUICInstant?
    /// When handshake CRYPTO data was last sent, and probe timeouts in a row since.
    var lastHandshakeSent: QUICInstant?
    var handshakeProbes = 0
    /// Probe timeouts in a row without an acknowledgement (RFC 9002 §6.2).
    var probeCount = 0

    // Streams and flow control (RFC 9000 §2–§4).
    var streams: [UInt64: Stream] = [:]
    /// Streams with something to send, in turn.
    var readyStreams: [UInt64] = []
    var localOpenedBidi: UInt64 = 0
    var localOpenedUni: UInt64 = 0
    var peerOpenedBidi: UInt64 = 0
    var peerOpenedUni: UInt64 = 0
    /// How many streams of each kind the peer may open (grows as its streams finish), and we may.
    var localMaxStreamsBidi: UInt64
    var localMaxStreamsUni: UInt64
    var peerMaxStreamsBidi: UInt64 = 0
    var peerMaxStreamsUni: UInt64 = 0
    var maxStreamsToSend = [false, false]
    var streamsBlockedAt: [UInt64?] = [nil, nil]
    /// Stream bytes we sent in all, and the peer's limit on them.
    var dataSent: UInt64 = 0
    var peerMaxData: UInt64 = 0
    var dataBlockedAt: UInt64?
    /// Stream bytes received (highest offsets), read by the application, and our limit.
    var dataReceived: UInt64 = 0
    var dataConsumed: UInt64 = 0
    var receiveMaxData: UInt64
    var receiveDataWindow: UInt64
    var lastDataWindowUpdate: QUICInstant?
    var maxDataToSend = false
    var maxStreamDataToSend: Set<UInt64> = []
    /// Frames to send once each (sent again if lost).
    var pendingFrames: [QUICFrame] = []
    /// Events of this receive or tick, to report.
    var arrived: [Action] = []

    // Connection IDs and paths (RFC 9000 §5.1, §9).
    var issuedConnectionIDs: [UInt64: [UInt8]] = [:]
    var nextIssuedSequence: UInt64 = 1
    var peerConnectionIDs: [UInt64: (id: [UInt8], token: [UInt8])] = [:]
    var peerSequence: UInt64 = 0
    var peerRetirePriorTo: UInt64 = 0
    /// Where the peer's packets come from (set by the owner's first `receive(_:from:)`).
    public internal(set) var peerAddress: SocketAddress?
    var pathValidation: PathValidation?

    // Closing (RFC 9000 §10).
    /// When the last packet was received (or the first ack-eliciting one sent after it).
    var lastActivity = QUICInstant.now
    /// Our CONNECTION_CLOSE datagram, sent again while closing as packets keep arriving.
    var closeDatagram: [UInt8]?
    var packetsWhileClosing = 0
    var closingEnds: QUICInstant?
    var closeReported = false
    /// Whether the connection's closing or draining period is over: the owner can forget it.
    public private(set) var isFinished = false

    /// A client connection to `serverName`; returns it with its first flight.
    public static func client(
        serverName: String, configuration: QUICTLSConfiguration, parameters: QUICTransportParameters = QUICTransportParameters(),
        token: [UInt8]? = nil, statelessResetKey: SymmetricKey = SymmetricKey(size: .bits256)
    ) throws -> (QUICConnection, [Action]) {
        try client(
            serverName: serverName, context: QUICTLSContext(configuration, server: false), parameters: parameters, token: token,
            statelessResetKey: statelessResetKey)
    }

    /// A client connection with a TLS context shared by several connections.
    public static func client(
        serverName: String, context: QUICTLSContext, parameters: QUICTransportParameters = QUICTransportParameters(),
        token: [UInt8]? = nil, statelessResetKey: SymmetricKey = SymmetricKey(size: .bits256)
    ) throws -> (QUICConnection, [Action]) {
        let destination = Self.randomConnectionID()
        let source = Self.randomConnectionID()
        var parameters = parameters
        parameters.initialSourceConnectionID = source
        let tls = try QUICTLS(context: context, serverName: serverName, transportParameters: parameters.encoded())
        var connection = QUICConnection(
            role: .client, local: source, remote: destination, original: destination, initialKeysFrom: destination, tls: tls,
            addressValidated: true, parameters: parameters, statelessResetKey: statelessResetKey)
        connection.retryToken = token ?? []
        var actions: [Action] = []
        do {
            try connection.apply(tls.start())
        } catch {
            return (connection, connection.close(error))
        }
        actions += connection.flush()
        return (connection, actions)
    }

    /// A server connection for the client Initial that opens it (`header` read from `datagram`).
    /// `retriedFrom` is the client's first Destination Connection ID when this Initial follows
    /// our Retry (its token checked by the endpoint): the address is then validated, and the
    /// Retry's connection ID stays ours. `addressValidated`: the client's Initial carried a
    /// valid token from our NEW_TOKEN. `from` is the client's address; `statelessResetKey` the
    /// endpoint's key for stateless reset tokens.
    public static func server(
        accepting datagram: [UInt8], header: QUICPacketHeader, from address: SocketAddress? = nil, configuration: QUICTLSConfiguration,
        parameters: QUICTransportParameters = QUICTransportParameters(), retriedFrom: [UInt8]? = nil, addressValidated: Bool = false,
        statelessResetKey: SymmetricKey = SymmetricKey(size: .bits256)
    ) throws -> (QUICConnection, [Action]) {
        try server(
            accepting: datagram, header: header, from: address, context: QUICTLSContext(configuration, server: true), parameters: parameters,
            retriedFrom: retriedFrom, addressValidated: addressValidated, statelessResetKey: statelessResetKey)
    }

    /// A server connection with the endpoint's shared TLS context (see the other `server`).
    public static func server(
        accepting datagram: [UInt8], header: QUICPacketHeader, from address: SocketAddress? = nil, context: QUICTLSContext,
        parameters: QUICTransportParameters = QUICTransportParameters(), retriedFrom: [UInt8]? = nil, addressValidated: Bool = false,
        statelessResetKey: SymmetricKey = SymmetricKey(size: .bits256)
    ) throws -> (QUICConnection, [Action]) {
        let source = retriedFrom == nil ? Self.randomConnectionID() : header.destinationConnectionID
        var parameters = parameters
        parameters.initialSourceConnectionID = source
        parameters.statelessResetToken = statelessResetToken(for: source, key: statelessResetKey)
        parameters.originalDestinationConnectionID = retriedFrom ?? header.destinationConnectionID
        if retriedFrom != nil { parameters.retrySourceConnectionID = header.destinationConnectionID }
        let tls = try QUICTLS(context: context, transportParameters: parameters.encoded())
        var connection = QUICConnection(
            role: .server, local: source, remote: header.sourceConnectionID, original: retriedFrom ?? header.destinationConnectionID,
            initialKeysFrom: header.destinationConnectionID, tls: tls, addressValidated: addressValidated || retriedFrom != nil, parameters: parameters,
            statelessResetKey: statelessResetKey)
        let actions = connection.receive(datagram, from: address)
        return (connection, actions)
    }

    private init(
        role: Role, local: [UInt8], remote: [UInt8], original: [UInt8], initialKeysFrom: [UInt8], tls: QUICTLS,
        addressValidated: Bool, parameters: QUICTransportParameters, statelessResetKey: SymmetricKey
    ) {
        self.role = role
        self.localParameters = parameters
        self.statelessResetKey = statelessResetKey
        self.localMaxStreamsBidi = parameters.initialMaxStreamsBidi
        self.localMaxStreamsUni = parameters.initialMaxStreamsUni
        self.receiveMaxData = parameters.initialMaxData
        self.receiveDataWindow = parameters.initialMaxData
        self.issuedConnectionIDs = [0: local]
        self.localConnectionID = local
        self.remoteConnectionID = remote
        self.originalDestinationConnectionID = original
        self.tls = tls
        self.addressValidated = addressValidated
        self.firstRemoteConnectionID = remote
        installInitialKeys(from: initialKeysFrom)
    }

    private mutating func installInitialKeys(from connectionID: [UInt8]) {
        let (client, server) = QUICPacketKeys.initial(destinationConnectionID: connectionID)
        spaces[0].write = QUICPacketProtector(keys: role == .client ? client : server)
        spaces[0].read = QUICPacketProtector(keys: role == .client ? server : client)
    }

    /// The Source Connection ID the peer first used (its initial_source_connection_id must match).
    private var firstRemoteConnectionID: [UInt8]
    /// A client's Retry state: the token to send, and the Retry's Source Connection ID.
    /// The token a client's Initials carry: a Retry's, or one from an earlier connection's NEW_TOKEN.
    private var retryToken: [UInt8] = []
    /// The last token the server gave in NEW_TOKEN (client), for the next connection to it.
    public private(set) var addressToken: [UInt8]?
    private var retrySourceConnectionID: [UInt8]?
    /// Whether the server made this client prove its address with a Retry.
    public var wasRetried: Bool { retrySourceConnectionID != nil }
    /// A client's Initial CRYPTO bytes sent so far (sent again after a Retry).
    private var initialCryptoSent: [UInt8] = []

    /// A client takes in a Retry (RFC 9000 §17.2.5): one, before any Initial from the server,
    /// with a valid integrity tag; the handshake starts again towards the Retry's connection ID,
    /// with its token.
    private mutating func receiveRetry(_ header: QUICPacketHeader, _ bytes: [UInt8]) {
        guard role == .client, retrySourceConnectionID == nil, spaces[0].acks.largest == nil, !header.token.isEmpty,
            QUICRetryIntegrity.verify(bytes, originalDestinationConnectionID: originalDestinationConnectionID)
        else { return }
        retryToken = header.token
        retrySourceConnectionID = header.sourceConnectionID
        remoteConnectionID = header.sourceConnectionID
        firstRemoteConnectionID = header.sourceConnectionID
        installInitialKeys(from: header.sourceConnectionID)
        spaces[0].cryptoOut = initialCryptoSent + spaces[0].cryptoOut
        spaces[0].cryptoOutOffset = 0
        spaces[0].cryptoInFlight = [:]
        initialCryptoSent = []
    }

    /// The connection-ID authentication of RFC 9000 §7.3: the peer's transport parameters
    /// must name the connection IDs actually used.
    private func checkConnectionIDs(_ peer: QUICTransportParameters) throws {
        guard peer.initialSourceConnectionID == firstRemoteConnectionID else {
            throw QUICTransportError(.transportParameterError, "initial_source_connection_id does not match the packets")
        }
        guard role == .client else { return }
        guard peer.originalDestinationConnectionID == originalDestinationConnectionID else {
            throw QUICTransportError(.transportParameterError, "original_destination_connection_id does not match")
        }
        guard peer.retrySourceConnectionID == retrySourceConnectionID else {
            throw QUICTransportError(.transportParameterError, "retry_source_connection_id does not match the Retry")
        }
    }

    static func randomConnectionID() -> [UInt8] { (0..<8).map { _ in UInt8.random(in: 0...255) } }

    // MARK: Receiving

    /// Takes in a datagram from the peer (from `address`, when the owner tracks addresses);
    /// returns what to send and what happened.
    /// `ecn` is the datagram's ECN mark, when the socket reports it.
    public mutating func receive(
        _ datagram: [UInt8], from address: SocketAddress? = nil, ecn: NIOExplicitCongestionNotificationState = .transportNotCapable
    ) -> [Action] {
        if case .closed = state {
            // Closing: our CONNECTION_CLOSE again, ever more rarely (§10.2.1); draining: nothing.
            guard let closeDatagram, !isFinished else { return [] }
            packetsWhileClosing += 1
            return packetsWhileClosing & (packetsWhileClosing - 1) == 0 ? [.send(closeDatagram)] : []
        }
        if peerAddress == nil { peerAddress = address }
        received += datagram.count
        var opened = false
        do {
            for (header, bytes) in QUICPacketParser.packets(in: datagram, shortHeaderConnectionIDLength: localConnectionID.count) {
                if try receivePacket(header, Array(bytes), from: address, datagramSize: datagram.count, ecn: ecn) { opened = true }
            }
        } catch {
            return close(error)
        }
        if !opened, isStatelessReset(datagram) {
            drain(QUICTransportError(.noError, "stateless reset"))
            isFinished = true
        }
        return flush()
    }

    /// Takes in one packet; false when it could not be opened (or was a duplicate).
    private mutating func receivePacket(
        _ header: QUICPacketHeader, _ bytes: [UInt8], from address: SocketAddress?, datagramSize: Int,
        ecn: NIOExplicitCongestionNotificationState
    ) throws -> Bool {
        let index: Int
        switch header.type {
        case .initial: index = 0
        case .handshake: index = 1
        case .oneRTT: index = 2
        case .retry:
            receiveRetry(header, bytes)
            return true
        default: return false  // 0-RTT is not accepted; Version Negotiation after the first packet is ignored
        }
        guard let reader = spaces[index].read, !spaces[index].discarded else { return false }
        // A packet that does not decrypt is dropped (RFC 9001 §5.5), not a connection error.
        let largest = spaces[index].acks.largest
        let opened: (header: [UInt8], packetNumber: UInt64, payload: [UInt8])
        if let current = try? reader.open(bytes, packetNumberOffset: header.packetNumberOffset, largestPacketNumber: largest) {
            opened = current
        } else if index == 2, let next = spaces[2].nextRead,
            let updated = try? next.open(bytes, packetNumberOffset: header.packetNumberOffset, largestPacketNumber: largest)
        {
            // The peer moved to the next key phase (RFC 9001 §6): so do our read keys, and our
            // write keys too unless we started the update.
            opened = updated
            spaces[2].read = next
            spaces[2].nextRead = QUICPacketProtector(keys: next.keys.nextGeneration())
            spaces[2].readGeneration += 1
            if spaces[2].writeGeneration < spaces[2].readGeneration, let writer = spaces[2].write {
                spaces[2].write = QUICPacketProtector(keys: writer.keys.nextGeneration())
                spaces[2].writeGeneration += 1
            }
        } else {
            return false
        }
        if role == .client, index == 0, spaces[0].acks.largest == nil {
            remoteConnectionID = header.sourceConnectionID  // the server's chosen ID (RFC 9000 §7.2)
            firstRemoteConnectionID = header.sourceConnectionID
        }
        if role == .server, index == 1 {
            addressValidated = true  // a Handshake packet proves the address
            discard(0)  // and ends the Initial space (RFC 9001 §4.9.1)
        }
        let frames = try QUICFrame.parseAll(ByteBuffer(bytes: opened.payload))
        let type: QUICPacketType = [.initial, .handshake, .oneRTT][index]
        let ackEliciting = frames.contains(where: \.isAckEliciting)
        let now = QUICInstant.now
        guard spaces[index].acks.record(opened.packetNumber, ackEliciting: ackEliciting) else { return false }
        lastActivity = now
        if opened.packetNumber == spaces[index].acks.largest { spaces[index].largestReceivedAt = now }
        switch ecn {
        case .transportCapableFlag0: spaces[index].ecnCounts.ect0 += 1
        case .transportCapableFlag1: spaces[index].ecnCounts.ect1 += 1
        case .congestionExperienced: spaces[index].ecnCounts.ce += 1
        case .transportNotCapable: break
        }
        if ackEliciting {
            // ACKs go at once during the handshake, for packets out of order, or every second
            // packet; otherwise within max_ack_delay (RFC 9000 §13.2.1).
            spaces[index].unacknowledged += 1
            let inOrder = largest.map { opened.packetNumber == $0 + 1 } ?? true
            if index < 2 || !inOrder || spaces[index].unacknowledged >= 2 {
                spaces[index].ackDue = now
            } else if spaces[index].ackDue == nil {
                spaces[index].ackDue = now + .milliseconds(Int64(localParameters.maxAckDelay))
            }
        }
        // A server follows the peer to a new address on its newest non-probing packet (§9.3).
        if role == .server, index == 2, let address, let current = peerAddress, address != current,
            opened.packetNumber == spaces[2].acks.largest, frames.contains(where: { !$0.isProbing })
        {
            peerMoved(to: address, datagramSize: datagramSize)
        }
        for frame in frames {
            guard frame.isAllowed(in: type) else {
                throw QUICTransportError(.protocolViolation, "a frame not allowed in a \(type) packet")
            }
            try receiveFrame(frame, index: index, header: header, now: now)
        }
        return true
    }

    private mutating func receiveFrame(_ frame: QUICFrame, index: Int, header: QUICPacketHeader, now: QUICInstant) throws {
        switch frame {
        case .crypto(let offset, let data):
            try spaces[index].cryptoIn.insert(data, at: offset, fin: false, crypto: true)
            let bytes = spaces[index].cryptoIn.read()
            if bytes.readableBytes > 0 {
                try apply(tls.receive(Array(bytes.readableBytesView), at: [.initial, .handshake, .application][index]))
            }
        case .ack(let ack) where index < 2:
            for range in ack.ranges {
                for packetNumber in spaces[index].cryptoInFlight.keys where range.contains(packetNumber) {
                    spaces[index].cryptoInFlight[packetNumber] = nil
                }
            }
            handshakeProbes = 0
        case .ack(let ack):
            guard ack.largest < spaces[2].nextPacketNumber else {
                throw QUICTransportError(.protocolViolation, frameType: 0x02, "an ACK for a packet never sent")
            }
            let outcome = applicationLoss.onAck(ack.ranges, now: now, rtt: rtt)
            if let sample = outcome.rttSample {
                // The peer's delay counts once confirmed, capped at its max_ack_delay (RFC 9002 §5.3).
                let peer = peerTransportParameters ?? QUICTransportParameters()
                let reported = Duration.microseconds(Int64(clamping: ack.delay << min(peer.ackDelayExponent, 20)))
                let delay = state == .established(confirmed: true) ? min(reported, .milliseconds(Int64(peer.maxAckDelay))) : .zero
                rtt.update(latest: sample, ackDelay: delay)
            }
            for packet in outcome.acknowledged {
                if packet.inFlight { congestion.acknowledged(packet.size, sentAt: packet.sentAt) }
                if let frames = sentFrames.removeValue(forKey: packet.packetNumber) { acknowledged(frames) }
            }
            checkECN(ack, newlyAcknowledged: outcome.acknowledged, now: now)
            if !outcome.acknowledged.isEmpty { probeCount = 0 }
            lost(outcome.lost, now: now)
        case .handshakeDone:
            guard role == .client else { throw QUICTransportError(.protocolViolation, frameType: 0x1E, "a client sent HANDSHAKE_DONE") }
            if state == .established(confirmed: false) { state = .established(confirmed: true) }
            discard(1)
        case .stream(let stream):
            try receiveStream(stream)
        case .resetStream(let id, let code, let finalSize):
            try receiveReset(id, errorCode: code, finalSize: finalSize)
        case .stopSending(let id, let code):
            try receiveStopSending(id, errorCode: code)
        case .maxData(let maximum):
            if maximum > peerMaxData {
                peerMaxData = maximum
                for (id, stream) in streams where stream.hasDataToSend { markReady(id) }
            }
        case .maxStreamData(let id, let maximum):
            try receiveMaxStreamData(id, maximum: maximum)
        case .maxStreams(let bidirectional, let maximum):
            receiveMaxStreams(bidirectional: bidirectional, maximum: maximum)
        case .streamDataBlocked(let id, _):
            _ = try peerFrameStream(id, frameType: 0x15, receiving: true)
        case .newToken(let token):
            guard role == .client else { throw QUICTransportError(.protocolViolation, frameType: 0x07, "a client sent NEW_TOKEN") }
            addressToken = Array(token.readableBytesView)
        case .newConnectionID(let sequence, let retirePriorTo, let id, let token):
            try receiveNewConnectionID(sequence: sequence, retirePriorTo: retirePriorTo, connectionID: id, token: token)
        case .retireConnectionID(let sequence):
            try receiveRetire(sequence, packetDestination: header.destinationConnectionID)
        case .pathChallenge(let data):
            pendingFrames.append(.pathResponse(data))
        case .pathResponse(let data):
            receivePathResponse(data)
        case .connectionClose(let code, let frameType, let reason, _):
            drain(QUICTransportError(QUICTransportErrorCode(rawValue: code), frameType: frameType, reason))
        default:
            break  // PADDING, PING, DATA_BLOCKED, STREAMS_BLOCKED: nothing to do
        }
    }

    /// Gives the client a token for its next connection (a server, once established; RFC 9000
    /// §8.1.3): an Initial carrying it may skip address validation.
    public mutating func sendNewToken(_ token: [UInt8]) -> [Action] {
        guard role == .server, case .established = state else { return [] }
        pendingFrames.append(.newToken(ByteBuffer(bytes: token)))
        return flush()
    }

    /// Starts a key update (RFC 9001 §6): packets from now on go under the next key phase. Only
    /// once confirmed and when the previous update has been answered; false otherwise.
    public mutating func updateKeys() -> Bool {
        guard state == .established(confirmed: true), spaces[2].writeGeneration == spaces[2].readGeneration,
            let writer = spaces[2].write
        else { return false }
        spaces[2].write = QUICPacketProtector(keys: writer.keys.nextGeneration())
        spaces[2].writeGeneration += 1
        return true
    }

    /// Lost 1-RTT packets: their bytes leave flight, the window shrinks (collapsing on
    /// persistent congestion), what they carried goes out again.
    private mutating func lost(_ packets: [QUICSentPacket], now: QUICInstant, congestionSignal: Bool = true) {
        guard !packets.isEmpty else { return }
        if congestionSignal { statistics.packetsLost += packets.count } else { statistics.probes += 1 }
        for packet in packets {
            if packet.inFlight {
                congestion.removed(packet.size)
                if congestionSignal { congestion.congestionEvent(sentAt: packet.sentAt, now: now) }
            }
            if let frames = sentFrames.removeValue(forKey: packet.packetNumber) { requeue(frames) }
        }
        let peerDelay = Duration.milliseconds(Int64(peerTransportParameters?.maxAckDelay ?? 25))
        if congestionSignal, rtt.hasSample,
            QUICLossDetector.isPersistentCongestion(packets, duration: rtt.probeTimeout(maxAckDelay: peerDelay) * 3)
        {
            congestion.persistentCongestion()
        }
    }

    /// Runs the timers (call it every few milliseconds): packets now lost by time are sent
    /// again; after a probe timeout without acknowledgement the oldest packet's data is sent
    /// again (the timeout doubling each time, RFC 9002 §6.2); delayed ACKs; path validation;
    /// the idle timeout; the end of the closing or draining period.
    public mutating func tick(now: QUICInstant = .now) -> [Action] {
        if case .closed = state {
            if let closingEnds, now >= closingEnds { isFinished = true }
            return []
        }
        if let idle = idleTimeout, now - lastActivity > idle {
            // Silently closed (§10.1): nothing is sent.
            drain(QUICTransportError(.noError, "idle timeout"))
            isFinished = true
            return flush()
        }
        // The handshake's probe timeout: CRYPTO data not acknowledged in time is sent again
        // (RFC 9002 §6.2.2.1), the timeout doubling each time.
        if let last = lastHandshakeSent,
            now - last > rtt.probeTimeout(maxAckDelay: .zero) * (1 << min(handshakeProbes, 10)),
            (0..<2).contains(where: { !spaces[$0].discarded && !spaces[$0].cryptoInFlight.isEmpty })
        {
            handshakeProbes += 1
            lastHandshakeSent = now
            for index in 0..<2 where !spaces[index].discarded {
                spaces[index].cryptoRetransmit += spaces[index].cryptoInFlight.sorted { $0.key < $1.key }.map(\.value)
                spaces[index].cryptoInFlight = [:]
            }
            if case .handshaking = state { return flush() }
        }
        guard case .established = state else { return [] }
        // Only a timer that fired makes a flush worthwhile (most ticks find nothing to do).
        let lostNow = applicationLoss.detectLost(now: now, rtt: rtt)
        var due = !lostNow.isEmpty || !pendingFrames.isEmpty || pacingLimited
        lost(lostNow, now: now)
        let peerDelay = Duration.milliseconds(Int64(peerTransportParameters?.maxAckDelay ?? 25))
        if let last = lastAckElicitingSent, !applicationLoss.sent.isEmpty,
            now - last > rtt.probeTimeout(maxAckDelay: peerDelay) * (1 << min(probeCount, 10))
        {
            probeCount += 1
            lastAckElicitingSent = now
            // A probe is not a loss: the window stays (RFC 9002 §6.2.4).
            lost([applicationLoss.forgetOldest()].compactMap { $0 }, now: now, congestionSignal: false)
            due = true
        }
        if checkPathValidation(now: now) { due = true }
        if spaces[2].acks.ackPending, let ackDue = spaces[2].ackDue, now >= ackDue { due = true }
        return due ? flush(now: now) : []
    }

    /// The idle timeout in force (§10.1): the smaller of the two sides' (zero: none), and
    /// never under three probe timeouts.
    var idleTimeout: Duration? {
        let ours = localParameters.maxIdleTimeout
        let theirs = peerTransportParameters?.maxIdleTimeout ?? 0
        let milliseconds = ours == 0 ? theirs : theirs == 0 ? ours : min(ours, theirs)
        guard milliseconds > 0 else { return nil }
        return max(.milliseconds(Int64(milliseconds)), rtt.probeTimeout(maxAckDelay: .zero) * 3)
    }

    /// Carries out what TLS asks: keys for a level, bytes to send, completion.
    private mutating func apply(_ events: [QUICTLSEvent]) throws {
        for event in events {
            switch event {
            case .secret(let level, let write, let suite, let secret):
                guard level != .earlyData else { continue }
                let index = level == .handshake ? 1 : 2
                let keys = QUICPacketKeys(secret: secret, suite: suite)
                if write {
                    spaces[index].write = QUICPacketProtector(keys: keys)
                } else {
                    spaces[index].read = QUICPacketProtector(keys: keys)
                    if index == 2 { spaces[2].nextRead = QUICPacketProtector(keys: keys.nextGeneration()) }
                }
            case .handshakeData(let level, let bytes):
                spaces[level == .initial ? 0 : level == .handshake ? 1 : 2].cryptoOut += bytes
            case .complete:
                let peer = try QUICTransportParameters.decode(tls.peerTransportParameters, fromServer: role == .client)
                try checkConnectionIDs(peer)
                peerTransportParameters = peer
                peerMaxData = peer.initialMaxData
                peerMaxStreamsBidi = peer.initialMaxStreamsBidi
                peerMaxStreamsUni = peer.initialMaxStreamsUni
                peerConnectionIDs[0] = (remoteConnectionID, peer.statelessResetToken ?? [])
                if role == .server {
                    state = .established(confirmed: true)
                    handshakeDoneToSend = true
                } else {
                    state = .established(confirmed: false)
                }
                issueConnectionIDs()
            }
        }
    }

    /// Enters the draining period (§10.2.2): nothing more is sent; the owner may forget the
    /// connection after three probe timeouts.
    private mutating func drain(_ error: QUICTransportError) {
        guard !isClosed else { return }
        state = .closed(error)
        closeDatagram = nil
        closingEnds = .now + rtt.probeTimeout(maxAckDelay: .zero) * 3
    }

    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    // MARK: Sending

    /// The datagrams due now: CRYPTO data and ACKs per space (coalesced, Initial first),
    /// HANDSHAKE_DONE, control and STREAM frames; then the events to report. A client's Initial
    /// goes in a datagram of its own, padded to 1200 bytes; a server sends at most three times
    /// what it received to an address not yet validated.
    mutating func flush(now: QUICInstant = .now) -> [Action] {
        var actions: [Action] = []
        pacingLimited = false
        let completedNow: Bool
        if case .established = state, !reportedComplete {
            reportedComplete = true
            completedNow = true
        } else {
            completedNow = false
        }
        while !isClosed {
            let allowance = role == .server && !addressValidated ? 3 * received - sentBytes : Int.max
            var datagram: [UInt8] = []
            for index in 0..<3 {
                let room = min(1200, allowance) - datagram.count
                guard !spaces[index].discarded, room > 100 else { continue }
                let clientInitial = role == .client && index == 0
                guard let packet = buildPacket(index, room: room, minimumSize: clientInitial ? 1200 : 0, now: now) else { continue }
                datagram += packet
                if clientInitial { break }
            }
            guard !datagram.isEmpty else { break }
            sentBytes += datagram.count
            actions.append(.send(datagram))
            if role == .client, !spaces[1].discarded, spaces[1].nextPacketNumber > 0 { discard(0) }
        }
        if role == .server, reportedComplete, !handshakeDoneToSend, !spaces[1].discarded { discard(1) }
        if completedNow { actions.append(.handshakeComplete(applicationProtocol: tls.applicationProtocol)) }
        actions += arrived
        arrived = []
        if case .closed(let error) = state, !closeReported {
            closeReported = true
            actions.append(.closed(error))
        }
        return actions
    }

    private var reportedComplete = false

    /// One packet for space `index` if it has something to say and fits in `room` bytes: a
    /// CONNECTION_CLOSE alone, or an ACK (when due, or with other frames), HANDSHAKE_DONE,
    /// CRYPTO data, control frames and STREAM data within the congestion window.
    private mutating func buildPacket(_ index: Int, room: Int, minimumSize: Int, now: QUICInstant) -> [UInt8]? {
        guard let writer = spaces[index].write else { return nil }
        let tokenSize = index == 0 ? QUICVarint.length(of: UInt64(retryToken.count)) + retryToken.count : 0
        let headerSize = index == 2 ? 1 + remoteConnectionID.count + 4 : 7 + remoteConnectionID.count + localConnectionID.count + tokenSize + 2 + 4
        // The header and the tag (16) leave the rest for frames.
        let budget = room - headerSize - 16
        var frames: [QUICFrame] = []
        var cryptoSent: (offset: UInt64, bytes: [UInt8])?
        if let close = pendingClose {
            frames = [close]
            pendingClose = nil
        } else {
            let acks = spaces[index].acks
            // Room for an ACK is kept whenever one is pending (at most 33 bytes + 16 a range).
            var left = acks.ackPending ? budget - 17 - 16 * acks.ranges.count : budget
            if index == 2, handshakeDoneToSend {
                frames.append(.handshakeDone)
                handshakeDoneToSend = false
                left -= 1
            }
            if let again = spaces[index].cryptoRetransmit.first, again.bytes.count + 12 <= left {
                spaces[index].cryptoRetransmit.removeFirst()
                frames.append(.crypto(offset: again.offset, data: ByteBuffer(bytes: again.bytes)))
                cryptoSent = again
                left -= again.bytes.count + 12
            } else if !spaces[index].cryptoOut.isEmpty, left > 20 {
                let count = min(spaces[index].cryptoOut.count, left - 12)
                let chunk = Array(spaces[index].cryptoOut.prefix(count))
                spaces[index].cryptoOut.removeFirst(count)
                if role == .client, index == 0 { initialCryptoSent += chunk }
                frames.append(.crypto(offset: spaces[index].cryptoOutOffset, data: ByteBuffer(bytes: chunk)))
                cryptoSent = (spaces[index].cryptoOutOffset, chunk)
                spaces[index].cryptoOutOffset += UInt64(count)
                left -= count + 12
            }
            if index == 2, case .established = state {
                var scratch = ByteBuffer()
                for frame in controlFrames() {
                    scratch.clear()
                    frame.encode(into: &scratch)
                    if scratch.readableBytes <= left {
                        frames.append(frame)
                        left -= scratch.readableBytes
                    } else {
                        pendingFrames.append(frame)
                    }
                }
                pacer.refill(now: now, window: congestion.window, smoothedRTT: rtt.smoothed)
                if !congestion.canSend(room) {
                    if !readyStreams.isEmpty { statistics.congestionBlocked += 1 }
                } else if !pacer.allows(room) {
                    if !readyStreams.isEmpty { pacingLimited = true }
                } else {
                    frames += streamFrames(room: left)
                }
            }
            let ackDue = index < 2 || spaces[index].ackDue.map { now >= $0 } == true
            if acks.ackPending, ackDue || !frames.isEmpty {
                let delay = spaces[index].largestReceivedAt.map { now - $0 } ?? .zero
                let units = index == 2 ? UInt64(max(0, delay.components.seconds * 1_000_000 + delay.components.attoseconds / 1_000_000_000_000)) >> localParameters.ackDelayExponent : 0
                if var ack = spaces[index].acks.ackFrame(delay: units) {
                    let counts = spaces[index].ecnCounts
                    if counts.ect0 + counts.ect1 + counts.ce > 0 { ack.ecn = counts }
                    frames.insert(.ack(ack), at: 0)
                }
                spaces[index].unacknowledged = 0
                spaces[index].ackDue = nil
            }
        }
        guard !frames.isEmpty else { return nil }
        var payload = ByteBuffer()
        for frame in frames { frame.encode(into: &payload) }
        // A path probe fills the datagram (as much as the amplification limit allows, §8.2.1);
        // so does a nearly full one, so runs of full datagrams can leave in one write (GSO).
        let nearlyFull = index == 2 && room - headerSize - 16 - payload.readableBytes < 48
        let minimumSize = nearlyFull || frames.contains(where: \.isPathProbe) ? max(minimumSize, room) : minimumSize
        // Enough payload for the header-protection sample (4 bytes after the packet number), and
        // PADDING up to the minimum size (the long header here is at most 40 bytes with its
        // packet number; the tag is 16).
        let padding = max(4 - payload.readableBytes, minimumSize - headerSize - payload.readableBytes - 16)
        if padding > 0 { QUICFrame.padding(count: padding).encode(into: &payload) }
        let packetNumber = spaces[index].nextPacketNumber
        spaces[index].nextPacketNumber += 1
        var header: [UInt8]
        let packetNumberBytes: [UInt8] = [UInt8(packetNumber >> 24 & 0xFF), UInt8(packetNumber >> 16 & 0xFF), UInt8(packetNumber >> 8 & 0xFF), UInt8(packetNumber & 0xFF)]
        if index == 2 {
            header = [spaces[2].writeGeneration % 2 == 1 ? 0x47 : 0x43] + remoteConnectionID
        } else {
            header = [index == 0 ? 0xC3 : 0xE3, 0, 0, 0, 1, UInt8(remoteConnectionID.count)] + remoteConnectionID
            header += [UInt8(localConnectionID.count)] + localConnectionID
            if index == 0 {
                var token = ByteBuffer()
                token.writeQUICVarint(UInt64(retryToken.count))
                header += token.readableBytesView
                header += retryToken
            }
            let length = 4 + payload.readableBytes + 16
            header += [UInt8(0x40 | (length >> 8)), UInt8(length & 0xFF)]
        }
        let offset = header.count
        header += packetNumberBytes
        guard let packet = try? writer.seal(header: header, packetNumber: packetNumber, packetNumberOffset: offset, payload: Array(payload.readableBytesView))
        else { return nil }
        statistics.packetsSent += 1
        statistics.bytesSent += packet.count
        if index < 2, let cryptoSent {
            spaces[index].cryptoInFlight[packetNumber] = cryptoSent
            lastHandshakeSent = .now
        }
        if index == 2 {
            // Only ack-eliciting packets are tracked: nothing acknowledges a packet of ACKs alone.
            let ackEliciting = frames.contains(where: \.isAckEliciting)
            if ackEliciting {
                applicationLoss.sent(
                    QUICSentPacket(packetNumber: packetNumber, sentAt: .now, size: packet.count, ackEliciting: true, inFlight: true))
                congestion.sent(packet.count)
                pacer.spend(packet.count)
            }
            let carried = frames.filter { if case .ack = $0 { false } else if case .padding = $0 { false } else { true } }
            if !carried.isEmpty { sentFrames[packetNumber] = carried }
            lastAckElicitingSent = .now
        }
        return packet
    }

    /// Forgets a space's keys and state (RFC 9001 §4.9).
    private mutating func discard(_ index: Int) {
        spaces[index].discarded = true
        spaces[index].read = nil
        spaces[index].write = nil
    }

    /// Closes on an error: the state, and a CONNECTION_CLOSE to send.
    private mutating func close(_ error: any Error) -> [Action] {
        let failure: QUICTransportError =
            switch error {
            case let transport as QUICTransportError: transport
            case QUICTLSError.handshakeFailed(let alert?, let reason): QUICTransportError(.cryptoError(alert: alert), reason)
            default: QUICTransportError(.internalError, "\(error)")
            }
        return closeNow(.connectionClose(errorCode: failure.code.rawValue, frameType: failure.frameType ?? 0, reason: failure.reason, application: false), failure)
    }

    /// Closes the connection from the application's side (RFC 9000 §10.2): a CONNECTION_CLOSE
    /// of type 0x1d with `code` is sent, and the connection is closed.
    public mutating func close(applicationError code: UInt64, reason: String) -> [Action] {
        closeNow(
            .connectionClose(errorCode: code, frameType: nil, reason: reason, application: true),
            QUICTransportError(QUICTransportErrorCode(rawValue: code), reason))
    }

    /// Sends `frame` (a CONNECTION_CLOSE) in the highest space we have keys for — before the
    /// handshake completes, an application close goes as a transport APPLICATION_ERROR (§10.2.3).
    private mutating func closeNow(_ frame: QUICFrame, _ failure: QUICTransportError) -> [Action] {
        guard case .closed = state else {
            var actions: [Action] = []
            if let index = (0..<3).reversed().first(where: { spaces[$0].write != nil && !spaces[$0].discarded }) {
                var close = frame
                if index < 2, case .connectionClose(_, _, let reason, true) = frame {
                    close = .connectionClose(errorCode: QUICTransportErrorCode.applicationError.rawValue, frameType: 0, reason: reason, application: false)
                }
                pendingClose = close
                if let packet = buildPacket(index, room: 1200, minimumSize: role == .client && index == 0 ? 1200 : 0, now: .now) {
                    actions.append(.send(packet))
                    closeDatagram = packet
                }
            }
            // The closing period (§10.2.1): three probe timeouts, the close sent again as packets arrive.
            state = .closed(failure)
            closingEnds = .now + rtt.probeTimeout(maxAckDelay: .zero) * 3
            closeReported = true
            return actions + [.closed(failure)]
        }
        return []
    }

    /// A CONNECTION_CLOSE to put in the next packet built.
    private var pendingClose: QUICFrame?
}
