import Crypto
import NIOCore

/// Connection IDs and paths (RFC 9000 §5.1, §8.2, §9, §10.3): the IDs we issue and the peer
/// retires, the peer's IDs and which one we use, stateless reset tokens, and path validation
/// when the peer's address changes (NAT rebinding or migration).
extension QUICConnection {
    /// How many connection IDs we keep issued at most (the peer may allow more).
    static let issuedConnectionIDLimit: UInt64 = 4

    /// The stateless reset token of one of our connection IDs: derived from the endpoint's key,
    /// so the endpoint can answer for a connection it no longer knows (§10.3.2).
    public static func statelessResetToken(for connectionID: [UInt8], key: SymmetricKey) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: connectionID, using: key).prefix(16))
    }

    /// A stateless reset answering a packet of `receivedSize` bytes sent to `connectionID`:
    /// smaller than it (so two endpoints cannot loop), at least 21 bytes, random but for the
    /// short-header bits and the token at its end; nil if the packet is too small to answer.
    public static func statelessReset(for connectionID: [UInt8], receivedSize: Int, key: SymmetricKey) -> [UInt8]? {
        let size = min(receivedSize - 1, 43)
        guard size >= 21 else { return nil }
        var packet = (0..<(size - 16)).map { _ in UInt8.random(in: 0...255) }
        packet[0] = 0x40 | (packet[0] & 0x3F)
        return packet + statelessResetToken(for: connectionID, key: key)
    }

    /// Issues connection IDs up to the peer's active_connection_id_limit (ours capped at 4).
    mutating func issueConnectionIDs() {
        guard case .established = state, let peer = peerTransportParameters else { return }
        let limit = min(peer.activeConnectionIDLimit, Self.issuedConnectionIDLimit)
        while UInt64(issuedConnectionIDs.count) < limit {
            let id = Self.randomConnectionID()
            let sequence = nextIssuedSequence
            nextIssuedSequence += 1
            issuedConnectionIDs[sequence] = id
            pendingFrames.append(
                .newConnectionID(
                    sequence: sequence, retirePriorTo: 0, connectionID: id,
                    statelessResetToken: Self.statelessResetToken(for: id, key: statelessResetKey)))
            arrived.append(.newConnectionID(id))
        }
    }

    /// RETIRE_CONNECTION_ID: the peer no longer uses one of our IDs; we issue another.
    mutating func receiveRetire(_ sequence: UInt64, packetDestination: [UInt8]) throws(QUICTransportError) {
        guard sequence < nextIssuedSequence else {
            throw QUICTransportError(.protocolViolation, frameType: 0x19, "a connection ID we never issued was retired")
        }
        guard let id = issuedConnectionIDs[sequence] else { return }
        guard id != packetDestination else {
            throw QUICTransportError(.protocolViolation, frameType: 0x19, "the connection ID a packet was sent to was retired in it")
        }
        issuedConnectionIDs[sequence] = nil
        arrived.append(.retiredConnectionID(id))
        issueConnectionIDs()
    }

    /// NEW_CONNECTION_ID: one more of the peer's IDs for us to use; older ones retired when it
    /// asks, and no more than our active_connection_id_limit kept.
    mutating func receiveNewConnectionID(
        sequence: UInt64, retirePriorTo: UInt64, connectionID: [UInt8], token: [UInt8]
    ) throws(QUICTransportError) {
        guard !remoteConnectionID.isEmpty else {
            throw QUICTransportError(.protocolViolation, frameType: 0x18, "NEW_CONNECTION_ID from a peer with zero-length connection IDs")
        }
        if let known = peerConnectionIDs[sequence] {
            guard known.id == connectionID, known.token == token else {
                throw QUICTransportError(.protocolViolation, frameType: 0x18, "a connection ID sequence number reused for another ID")
            }
            return
        }
        if sequence < peerRetirePriorTo {
            pendingFrames.append(.retireConnectionID(sequence: sequence))
            return
        }
        peerConnectionIDs[sequence] = (connectionID, token)
        if retirePriorTo > peerRetirePriorTo {
            peerRetirePriorTo = retirePriorTo
            for old in peerConnectionIDs.keys where old < retirePriorTo {
                peerConnectionIDs[old] = nil
                pendingFrames.append(.retireConnectionID(sequence: old))
            }
            if peerSequence < retirePriorTo, let next = peerConnectionIDs.keys.min() {
                peerSequence = next
                remoteConnectionID = peerConnectionIDs[next]!.id
            }
        }
        guard UInt64(peerConnectionIDs.count) <= localParameters.activeConnectionIDLimit else {
            throw QUICTransportError(.connectionIDLimitError, frameType: 0x18, "more connection IDs than active_connection_id_limit")
        }
    }

    /// Moves to another of the peer's connection IDs and retires the one in use (§5.1.2); false
    /// when the peer has given no other.
    public mutating func changeConnectionID() -> Bool {
        guard let next = peerConnectionIDs.keys.filter({ $0 > peerSequence }).min() else { return false }
        peerConnectionIDs[peerSequence] = nil
        pendingFrames.append(.retireConnectionID(sequence: peerSequence))
        peerSequence = next
        remoteConnectionID = peerConnectionIDs[next]!.id
        return true
    }

    /// Whether a datagram that opened no packet ends with one of the peer's stateless reset tokens.
    func isStatelessReset(_ datagram: [UInt8]) -> Bool {
        guard datagram.count >= 21, datagram[0] & 0x80 == 0 else { return false }
        let tail = Array(datagram.suffix(16))
        return peerConnectionIDs.values.contains { token in
            token.token.count == 16 && zip(token.token, tail).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    /// A non-probing packet arrived from a new address (§9.3): a server moves there at once,
    /// validates the new path with PATH_CHALLENGE (sending at most 3× what it received there
    /// meanwhile), uses a fresh connection ID for it when it has one, and starts congestion
    /// control afresh unless only the port changed.
    mutating func peerMoved(to address: SocketAddress, datagramSize: Int) {
        let previous = peerAddress
        peerAddress = address
        if previous?.ipAddress != address.ipAddress {
            congestion = QUICCongestionController()
            rtt = QUICRTTEstimator()
        }
        _ = changeConnectionID()
        addressValidated = false
        received = datagramSize
        sentBytes = 0
        let data = (0..<8).map { _ in UInt8.random(in: 0...255) }
        pathValidation = PathValidation(data: data, previous: previous, sentAt: .now, tries: 1)
        pendingFrames.append(.pathChallenge(data))
    }

    /// PATH_RESPONSE: the new path is validated when it echoes our challenge.
    mutating func receivePathResponse(_ data: [UInt8]) {
        guard let validation = pathValidation, validation.data == data else { return }
        pathValidation = nil
        addressValidated = true
    }

    /// Sends the challenge again after a probe timeout, three times; then goes back to the
    /// previous address (§9.3.2). True when a challenge is to be sent.
    mutating func checkPathValidation(now: QUICInstant) -> Bool {
        guard var validation = pathValidation, now - validation.sentAt > rtt.probeTimeout(maxAckDelay: .zero) * 3 else { return false }
        guard validation.tries < 3 else {
            pathValidation = nil
            if let previous = validation.previous { peerAddress = previous }
            addressValidated = true
            return false
        }
        validation.tries += 1
        validation.sentAt = now
        pathValidation = validation
        pendingFrames.append(.pathChallenge(validation.data))
        return true
    }

    /// A path being validated.
    struct PathValidation {
        var data: [UInt8]
        var previous: SocketAddress?
        var sentAt: QUICInstant
        var tries: Int
    }
}
