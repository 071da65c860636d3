import NIOCore

/// One QUIC connection's handshake and packet handling as a state machine: datagrams go in,
/// datagrams (and events) come out as actions; no sockets, no timers of its own. This first
/// slice covers the handshake: Initial and Handshake packets carrying TLS in CRYPTO frames,
/// acknowledgements, the client's 1200-byte Initial, the server's 3× anti-amplification limit,
/// HANDSHAKE_DONE and the discarding of Initial and Handshake keys.
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
        case streamData(id: UInt64, bytes: [UInt8], fin: Bool)
        case closed(QUICTransportError)
    }

    /// One stream's receiving and sending halves.
    struct Stream {
        var incoming: QUICReassemblyBuffer
        var finDelivered = false
        var outgoing = ByteBuffer()
        var outgoingOffset: UInt64 = 0
        /// Frames lost in transit, to send again first.
        var retransmit: [QUICStreamFrame] = []
        var finToSend = false
        var finSent = false
        /// How far the peer lets us send on this stream.
        var sendLimit: UInt64
    }

    /// One packet-number space's state.
    struct Space {
        var read: QUICPacketProtector?
        var write: QUICPacketProtector?
        var nextPacketNumber: UInt64 = 0
        var acks = QUICAckTracker()
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
    public private(set) var remoteConnectionID: [UInt8]
    /// The Destination Connection ID of the client's first Initial (the Initial keys' input).
    public let originalDestinationConnectionID: [UInt8]
    let tls: QUICTLS
    /// Initial, Handshake and application (1-RTT) spaces.
    var spaces = [Space(), Space(), Space()]
    /// Bytes received from and sent to the peer while its address is not validated (server).
    private var received = 0
    private var sentBytes = 0
    private var addressValidated: Bool
    private var handshakeDoneToSend = false
    public private(set) var peerTransportParameters: QUICTransportParameters?
    /// The negotiated application protocol (ALPN), once the handshake is complete.
    public var applicationProtocol: String? { tls.isComplete ? tls.applicationProtocol : nil }
    /// Our own transport parameters (the receive limits we announced).
    let localParameters: QUICTransportParameters
    var streams: [UInt64: Stream] = [:]
    /// 1-RTT sending is paced by NewReno's window (acknowledgements open it; retransmission of
    /// lost data is still to come).
    var congestion = QUICCongestionController()
    /// The STREAM frames each 1-RTT packet in flight carried, to send again if it is lost.
    private var sentStreamFrames: [UInt64: [QUICStreamFrame]] = [:]
    private var lastAckElicitingSent: QUICInstant?
    /// When handshake CRYPTO data was last sent, and probe timeouts in a row since.
    private var lastHandshakeSent: QUICInstant?
    private var handshakeProbes = 0
    /// Probe timeouts in a row without an acknowledgement (RFC 9002 §6.2).
    private var probeCount = 0
    var applicationLoss = QUICLossDetector()
    var rtt = QUICRTTEstimator()
    /// Stream bytes sent in all (against the peer's initial_max_data).
    private var dataSent: UInt64 = 0
    /// Stream data received this flush, to report.
    private var arrived: [Action] = []

    /// A client connection to `serverName`; returns it with its first flight.
    public static func client(
        serverName: String, configuration: QUICTLSConfiguration, parameters: QUICTransportParameters = QUICTransportParameters()
    ) throws -> (QUICConnection, [Action]) {
        let destination = Self.randomConnectionID()
        let source = Self.randomConnectionID()
        var parameters = parameters
        parameters.initialSourceConnectionID = source
        let tls = try QUICTLS(client: true, serverName: serverName, transportParameters: parameters.encoded(), configuration: configuration)
        var connection = QUICConnection(
            role: .client, local: source, remote: destination, original: destination, initialKeysFrom: destination, tls: tls,
            addressValidated: true, parameters: parameters)
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
    /// Retry's connection ID stays ours.
    public static func server(
        accepting datagram: [UInt8], header: QUICPacketHeader, configuration: QUICTLSConfiguration,
        parameters: QUICTransportParameters = QUICTransportParameters(), retriedFrom: [UInt8]? = nil
    ) throws -> (QUICConnection, [Action]) {
        let source = retriedFrom == nil ? Self.randomConnectionID() : header.destinationConnectionID
        var parameters = parameters
        parameters.initialSourceConnectionID = source
        parameters.originalDestinationConnectionID = retriedFrom ?? header.destinationConnectionID
        if retriedFrom != nil { parameters.retrySourceConnectionID = header.destinationConnectionID }
        let tls = try QUICTLS(client: false, transportParameters: parameters.encoded(), configuration: configuration)
        var connection = QUICConnection(
            role: .server, local: source, remote: header.sourceConnectionID, original: retriedFrom ?? header.destinationConnectionID,
            initialKeysFrom: header.destinationConnectionID, tls: tls, addressValidated: retriedFrom != nil, parameters: parameters)
        let actions = connection.receive(datagram)
        return (connection, actions)
    }

    private init(
        role: Role, local: [UInt8], remote: [UInt8], original: [UInt8], initialKeysFrom: [UInt8], tls: QUICTLS,
        addressValidated: Bool, parameters: QUICTransportParameters
    ) {
        self.role = role
        self.localParameters = parameters
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
    private var retryToken: [UInt8] = []
    private var retrySourceConnectionID: [UInt8]?
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

    /// Takes in a datagram from the peer; returns what to send and what happened.
    public mutating func receive(_ datagram: [UInt8]) -> [Action] {
        guard case .closed = state else {
            received += datagram.count
            do {
                for (header, bytes) in QUICPacketParser.packets(in: datagram, shortHeaderConnectionIDLength: localConnectionID.count) {
                    try receivePacket(header, Array(bytes))
                }
            } catch {
                return close(error)
            }
            return flush()
        }
        return []
    }

    private mutating func receivePacket(_ header: QUICPacketHeader, _ bytes: [UInt8]) throws {
        let index: Int
        switch header.type {
        case .initial: index = 0
        case .handshake: index = 1
        case .oneRTT: index = 2
        case .retry:
            receiveRetry(header, bytes)
            return
        default: return  // 0-RTT and Version Negotiation are not handled in this slice
        }
        guard let reader = spaces[index].read, !spaces[index].discarded else { return }
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
            return
        }
        if role == .client, index == 0, spaces[0].acks.largest == nil {
            remoteConnectionID = header.sourceConnectionID  // the server's chosen ID (RFC 9000 §7.2)
            firstRemoteConnectionID = header.sourceConnectionID
        }
        if role == .server, index == 1 {
            addressValidated = true  // a Handshake packet proves the address
            discard(0)  // and ends the Initial space (RFC 9001 §4.9.1)
        }
        let frames: [QUICFrame]
        do {
            frames = try QUICFrame.parseAll(ByteBuffer(bytes: opened.payload))
        }
        let type: QUICPacketType = [.initial, .handshake, .oneRTT][index]
        guard spaces[index].acks.record(opened.packetNumber, ackEliciting: frames.contains(where: \.isAckEliciting)) else { return }
        for frame in frames {
            guard frame.isAllowed(in: type) else {
                throw QUICTransportError(.protocolViolation, "a frame not allowed in a \(type) packet")
            }
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
            case .ack(let ack) where index == 2:
                let now = ContinuousClock.now
                let outcome = applicationLoss.onAck(ack.ranges, now: now, rtt: rtt)
                if let sample = outcome.rttSample { rtt.update(latest: sample, ackDelay: .zero) }
                for packet in outcome.acknowledged {
                    if packet.inFlight { congestion.acknowledged(packet.size, sentAt: packet.sentAt) }
                    sentStreamFrames[packet.packetNumber] = nil
                }
                if !outcome.acknowledged.isEmpty { probeCount = 0 }
                lost(outcome.lost, now: now)
            case .handshakeDone:
                guard role == .client else { throw QUICTransportError(.protocolViolation, "a client sent HANDSHAKE_DONE") }
                state = .established(confirmed: true)
                discard(1)
            case .stream(let frame):
                try receiveStream(frame)
            case .connectionClose(let code, let frameType, let reason, _):
                state = .closed(QUICTransportError(QUICTransportErrorCode(rawValue: code), frameType: frameType, reason))
            default:
                break
            }
        }
    }

    /// Takes in STREAM data: a stream the peer opens is created with our announced limit; a
    /// stream id the peer may not use is STREAM_STATE_ERROR.
    private mutating func receiveStream(_ frame: QUICStreamFrame) throws {
        let peerInitiated = (frame.streamID & 0x01 == 0) == (role == .server)
        let bidirectional = frame.streamID & 0x02 == 0
        if streams[frame.streamID] == nil {
            guard peerInitiated else { throw QUICTransportError(.streamStateError, frameType: 0x08, "data on a stream we did not open") }
            guard frame.streamID >> 2 < (bidirectional ? localParameters.initialMaxStreamsBidi : localParameters.initialMaxStreamsUni) else {
                throw QUICTransportError(.streamLimitError, frameType: 0x08, "stream \(frame.streamID) is over the stream limit")
            }
            let limit = bidirectional ? localParameters.initialMaxStreamDataBidiRemote : localParameters.initialMaxStreamDataUni
            let peerLimit = bidirectional ? peerTransportParameters?.initialMaxStreamDataBidiLocal ?? 0 : 0
            streams[frame.streamID] = Stream(incoming: QUICReassemblyBuffer(limit: limit), sendLimit: peerLimit)
        }
        try streams[frame.streamID]!.incoming.insert(frame.data, at: frame.offset, fin: frame.fin)
        let bytes = streams[frame.streamID]!.incoming.read()
        let complete = streams[frame.streamID]!.incoming.isComplete && !streams[frame.streamID]!.finDelivered
        if complete { streams[frame.streamID]!.finDelivered = true }
        if bytes.readableBytes > 0 || complete {
            arrived.append(.streamData(id: frame.streamID, bytes: Array(bytes.readableBytesView), fin: complete))
        }
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

    /// Lost 1-RTT packets: their bytes leave flight, the window shrinks, their STREAM frames
    /// go out again.
    private mutating func lost(_ packets: [QUICSentPacket], now: QUICInstant, congestionSignal: Bool = true) {
        for packet in packets {
            if packet.inFlight {
                congestion.removed(packet.size)
                if congestionSignal { congestion.congestionEvent(sentAt: packet.sentAt, now: now) }
            }
            for frame in sentStreamFrames.removeValue(forKey: packet.packetNumber) ?? [] {
                streams[frame.streamID]?.retransmit.append(frame)
            }
        }
    }

    /// Runs the loss and probe timers (RFC 9002 §6): packets now lost by time are sent again;
    /// after a probe timeout without acknowledgement, the oldest packet in flight is sent again
    /// (the timeout doubling each time). Call it every few milliseconds.
    public mutating func tick(now: QUICInstant = .now) -> [Action] {
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
        lost(applicationLoss.detectLost(now: now, rtt: rtt), now: now)
        if let last = lastAckElicitingSent, !applicationLoss.sent.isEmpty,
            now - last > rtt.probeTimeout(maxAckDelay: .milliseconds(25)) * (1 << min(probeCount, 10))
        {
            probeCount += 1
            lastAckElicitingSent = now
            // A probe is not a loss: the window stays (RFC 9002 §6.2.4).
            lost([applicationLoss.forgetOldest()].compactMap { $0 }, now: now, congestionSignal: false)
        }
        return flush()
    }

    /// Opens the next bidirectional stream of ours, once established; nil when the peer's stream
    /// limit is reached.
    public mutating func openBidirectionalStream() -> UInt64? {
        guard case .established = state, let peer = peerTransportParameters, nextBidirectionalStream < peer.initialMaxStreamsBidi else {
            return nil
        }
        let id = nextBidirectionalStream << 2 | (role == .client ? 0 : 1)
        nextBidirectionalStream += 1
        streams[id] = Stream(
            incoming: QUICReassemblyBuffer(limit: localParameters.initialMaxStreamDataBidiLocal), sendLimit: peer.initialMaxStreamDataBidiRemote)
        return id
    }

    private var nextBidirectionalStream: UInt64 = 0

    /// Queues `bytes` (and the end of the stream when `fin`) on stream `id`; returns the
    /// datagrams that can go now.
    public mutating func send(_ bytes: [UInt8], on id: UInt64, fin: Bool) -> [Action] {
        guard streams[id] != nil else { return [] }
        streams[id]!.outgoing.writeBytes(bytes)
        if fin { streams[id]!.finToSend = true }
        return flush()
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
                if role == .server {
                    state = .established(confirmed: true)
                    handshakeDoneToSend = true
                } else {
                    state = .established(confirmed: false)
                }
            }
        }
    }

    // MARK: Sending

    /// The datagrams due now: CRYPTO data and ACKs per space (coalesced, Initial first), and
    /// HANDSHAKE_DONE. A client's Initial goes in a datagram of its own, padded to 1200 bytes; an
    /// unvalidated server sends at most three times what it received.
    mutating func flush() -> [Action] {
        var actions: [Action] = []
        let completedNow: Bool
        if case .established = state, !reportedComplete {
            reportedComplete = true
            completedNow = true
        } else {
            completedNow = false
        }
        while true {
            let allowance = role == .server && !addressValidated ? 3 * received - sentBytes : Int.max
            var datagram: [UInt8] = []
            for index in 0..<3 {
                let room = min(1200, allowance) - datagram.count
                guard !spaces[index].discarded, room > 100 else { continue }
                let clientInitial = role == .client && index == 0
                guard let packet = buildPacket(index, room: room, minimumSize: clientInitial ? 1200 : 0) else { continue }
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
        return actions
    }

    private var reportedComplete = false

    /// One packet for space `index` if it has something to say and fits in `room` bytes.
    private mutating func buildPacket(_ index: Int, room: Int, minimumSize: Int) -> [UInt8]? {
        guard let writer = spaces[index].write else { return nil }
        var frames: [QUICFrame] = []
        let closing = pendingClose != nil
        if spaces[index].acks.ackPending, let ack = spaces[index].acks.ackFrame(delay: 0) { frames.append(.ack(ack)) }
        if let close = pendingClose {
            frames = [close]
            pendingClose = nil
        } else if index == 2, handshakeDoneToSend {
            frames.append(.handshakeDone)
            handshakeDoneToSend = false
        }
        let tokenSize = index == 0 ? QUICVarint.length(of: UInt64(retryToken.count)) + retryToken.count : 0
        let headerSize = index == 2 ? 1 + remoteConnectionID.count + 4 : 7 + remoteConnectionID.count + localConnectionID.count + tokenSize + 2 + 4
        // The header and the tag (16) leave the rest for frames (a little kept for their own headers).
        let budget = room - headerSize - 16
        var framed = ByteBuffer()
        for frame in frames { frame.encode(into: &framed) }
        var cryptoSent: (offset: UInt64, bytes: [UInt8])?
        if !closing, let again = spaces[index].cryptoRetransmit.first, again.bytes.count + 12 <= budget - framed.readableBytes {
            spaces[index].cryptoRetransmit.removeFirst()
            frames.append(.crypto(offset: again.offset, data: ByteBuffer(bytes: again.bytes)))
            cryptoSent = again
        } else if !closing, !spaces[index].cryptoOut.isEmpty, budget - framed.readableBytes > 20 {
            let count = min(spaces[index].cryptoOut.count, budget - framed.readableBytes - 12)
            let chunk = Array(spaces[index].cryptoOut.prefix(count))
            spaces[index].cryptoOut.removeFirst(count)
            if role == .client, index == 0 { initialCryptoSent += chunk }
            frames.append(.crypto(offset: spaces[index].cryptoOutOffset, data: ByteBuffer(bytes: chunk)))
            cryptoSent = (spaces[index].cryptoOutOffset, chunk)
            spaces[index].cryptoOutOffset += UInt64(count)
        }
        if !closing, index == 2, case .established = state, congestion.canSend(room) {
            var written = ByteBuffer()
            for frame in frames { frame.encode(into: &written) }
            var left = budget - written.readableBytes
            // Lost frames first (already counted against flow control), whole.
            for id in streams.keys.sorted() where left > 32 {
                while let frame = streams[id]!.retransmit.first, frame.data.readableBytes + 24 <= left {
                    streams[id]!.retransmit.removeFirst()
                    frames.append(.stream(frame))
                    left -= frame.data.readableBytes + 24
                }
            }
            for id in streams.keys.sorted() where left > 32 {
                var stream = streams[id]!
                let peerData = peerTransportParameters?.initialMaxData ?? 0
                let allowed = min(UInt64(left - 24), stream.sendLimit - stream.outgoingOffset, peerData - dataSent)
                let count = min(stream.outgoing.readableBytes, Int(allowed))
                let fin = stream.finToSend && !stream.finSent && count == stream.outgoing.readableBytes
                guard count > 0 || fin else { continue }
                let chunk = stream.outgoing.readSlice(length: count)!
                frames.append(.stream(QUICStreamFrame(streamID: id, offset: stream.outgoingOffset, data: chunk, fin: fin)))
                stream.outgoingOffset += UInt64(count)
                dataSent += UInt64(count)
                if fin { stream.finSent = true }
                streams[id] = stream
                left -= count + 24
            }
        }
        guard !frames.isEmpty else { return nil }
        var payload = ByteBuffer()
        for frame in frames { frame.encode(into: &payload) }
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
            }
            let carried = frames.compactMap { frame -> QUICStreamFrame? in
                if case .stream(let stream) = frame { return stream }
                return nil
            }
            if !carried.isEmpty { sentStreamFrames[packetNumber] = carried }
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
                if let packet = buildPacket(index, room: 1200, minimumSize: role == .client && index == 0 ? 1200 : 0) {
                    actions.append(.send(packet))
                }
            }
            state = .closed(failure)
            return actions + [.closed(failure)]
        }
        return []
    }

    /// A CONNECTION_CLOSE to put in the next packet built.
    private var pendingClose: QUICFrame?
}
