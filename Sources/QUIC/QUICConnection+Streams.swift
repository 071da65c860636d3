import NIOCore

/// Streams (RFC 9000 §2–§4): opening them within the peer's limits, STREAM data both ways,
/// RESET_STREAM and STOP_SENDING, flow control on each stream and on the connection with
/// windows that grow when the application reads fast, and the MAX_* / *_BLOCKED frames.
extension QUICConnection {
    /// One stream's receiving and sending halves.
    struct Stream {
        /// Receiving: the reassembly, how far the peer may send (an offset we announced), the
        /// window we extend that by as the application reads, and how much it has read.
        var incoming = QUICReassemblyBuffer(limit: 1 << 62)
        var receiveLimit: UInt64
        var receiveWindow: UInt64
        var consumed: UInt64 = 0
        var lastWindowUpdate: QUICInstant?
        var finDelivered = false
        var resetReceived = false
        /// Sending: bytes queued and not yet sent, lost frames to send again first, how far the
        /// peer lets us send, and STREAM frames in packets not yet acknowledged.
        var outgoing = ByteBuffer()
        var outgoingOffset: UInt64 = 0
        var retransmit: [QUICStreamFrame] = []
        var finToSend = false
        var finSent = false
        var sendLimit: UInt64
        var inFlight = 0
        var resetSent = false
        /// The limit a STREAM_DATA_BLOCKED was last sent for.
        var blockedAt: UInt64?
        let canSend: Bool
        let canReceive: Bool

        init(receiveLimit: UInt64, sendLimit: UInt64, canSend: Bool = true, canReceive: Bool = true) {
            self.receiveLimit = receiveLimit
            self.receiveWindow = receiveLimit
            self.sendLimit = sendLimit
            self.canSend = canSend
            self.canReceive = canReceive
        }

        /// Whether anything waits to be sent.
        var hasDataToSend: Bool { !resetSent && (!retransmit.isEmpty || outgoing.readableBytes > 0 || (finToSend && !finSent)) }
        var receiveDone: Bool { !canReceive || finDelivered || resetReceived }
        var sendDone: Bool { !canSend || resetSent || (finSent && outgoing.readableBytes == 0 && retransmit.isEmpty && inFlight == 0) }
    }

    /// Stream windows grow up to these (auto-tuning, like TCP's receive buffer).
    static let maxStreamWindow: UInt64 = 16 << 20
    static let maxConnectionWindow: UInt64 = 24 << 20

    func isLocal(_ id: UInt64) -> Bool { (id & 0x01 == 0) == (role == .client) }
    static func isBidirectional(_ id: UInt64) -> Bool { id & 0x02 == 0 }

    // MARK: Opening

    /// Opens the next bidirectional stream of ours, once established; nil at the peer's limit
    /// (a STREAMS_BLOCKED then tells it).
    public mutating func openBidirectionalStream() -> UInt64? { openStream(bidirectional: true) }

    /// Opens the next unidirectional (send-only) stream of ours; nil at the peer's limit.
    public mutating func openUnidirectionalStream() -> UInt64? { openStream(bidirectional: false) }

    private mutating func openStream(bidirectional: Bool) -> UInt64? {
        guard case .established = state, let peer = peerTransportParameters else { return nil }
        let index = bidirectional ? localOpenedBidi : localOpenedUni
        let limit = bidirectional ? peerMaxStreamsBidi : peerMaxStreamsUni
        guard index < limit else {
            if streamsBlockedAt[bidirectional ? 0 : 1] != limit {
                streamsBlockedAt[bidirectional ? 0 : 1] = limit
                pendingFrames.append(.streamsBlocked(bidirectional: bidirectional, limit: limit))
            }
            return nil
        }
        let id = index << 2 | (bidirectional ? 0 : 2) | (role == .client ? 0 : 1)
        if bidirectional {
            localOpenedBidi += 1
            streams[id] = Stream(receiveLimit: localParameters.initialMaxStreamDataBidiLocal, sendLimit: peer.initialMaxStreamDataBidiRemote)
        } else {
            localOpenedUni += 1
            streams[id] = Stream(receiveLimit: 0, sendLimit: peer.initialMaxStreamDataUni, canReceive: false)
        }
        return id
    }

    /// The stream a frame from the peer names: opened (with every lower-numbered stream of its
    /// kind) when the peer may open it; nil when it was closed and forgotten. A frame for the
    /// half of a unidirectional stream that does not exist (`receiving`: a frame about data
    /// the peer sends) or for a stream of ours not yet opened is STREAM_STATE_ERROR, a stream
    /// past our limit STREAM_LIMIT_ERROR.
    mutating func peerFrameStream(_ id: UInt64, frameType: UInt64, receiving: Bool) throws(QUICTransportError) -> UInt64? {
        let bidirectional = Self.isBidirectional(id)
        guard bidirectional || isLocal(id) != receiving else {
            throw QUICTransportError(
                .streamStateError, frameType: frameType, receiving ? "data on our send-only stream \(id)" : "a send-side frame for receive-only stream \(id)")
        }
        if streams[id] != nil { return id }
        let index = id >> 2
        if isLocal(id) {
            guard index < (bidirectional ? localOpenedBidi : localOpenedUni) else {
                throw QUICTransportError(.streamStateError, frameType: frameType, "stream \(id) has not been opened")
            }
            return nil
        }
        let opened = bidirectional ? peerOpenedBidi : peerOpenedUni
        guard index >= opened else { return nil }
        guard index < (bidirectional ? localMaxStreamsBidi : localMaxStreamsUni) else {
            throw QUICTransportError(.streamLimitError, frameType: frameType, "stream \(id) is over the stream limit")
        }
        for next in opened...index {
            let nextID = next << 2 | id & 0x03
            if bidirectional {
                streams[nextID] = Stream(
                    receiveLimit: localParameters.initialMaxStreamDataBidiRemote,
                    sendLimit: peerTransportParameters?.initialMaxStreamDataBidiLocal ?? 0)
            } else {
                streams[nextID] = Stream(receiveLimit: localParameters.initialMaxStreamDataUni, sendLimit: 0, canSend: false)
            }
        }
        if bidirectional { peerOpenedBidi = index + 1 } else { peerOpenedUni = index + 1 }
        return id
    }

    // MARK: Receiving

    /// STREAM data: checked against the stream's and the connection's limits, delivered in order.
    mutating func receiveStream(_ frame: QUICStreamFrame) throws(QUICTransportError) {
        guard let id = try peerFrameStream(frame.streamID, frameType: 0x08, receiving: true) else { return }
        var stream = streams[id]!
        let end = frame.offset + UInt64(frame.data.readableBytes)
        guard end <= stream.receiveLimit else {
            throw QUICTransportError(.flowControlError, frameType: 0x08, "stream \(id) sent past its limit \(stream.receiveLimit)")
        }
        if stream.resetReceived {
            guard end <= stream.incoming.finalSize ?? 0, !frame.fin || end == stream.incoming.finalSize else {
                throw QUICTransportError(.finalSizeError, frameType: 0x08, "data past a reset stream's final size")
            }
            return
        }
        let before = stream.incoming.highestOffset
        try stream.incoming.insert(frame.data, at: frame.offset, fin: frame.fin)
        try receivedData(stream.incoming.highestOffset - before)
        let bytes = stream.incoming.read()
        let complete = stream.incoming.isComplete && !stream.finDelivered
        if complete { stream.finDelivered = true }
        streams[id] = stream
        if bytes.readableBytes > 0 || complete {
            arrived.append(.streamData(id: id, bytes: Array(bytes.readableBytesView), fin: complete))
        }
        if complete { retireIfDone(id) }
    }

    /// Counts bytes newly received against the connection's limit.
    private mutating func receivedData(_ count: UInt64) throws(QUICTransportError) {
        dataReceived += count
        guard dataReceived <= receiveMaxData else {
            throw QUICTransportError(.flowControlError, "the peer sent past the connection's limit \(receiveMaxData)")
        }
    }

    /// RESET_STREAM: the stream's receiving half ends at `finalSize` (the bytes never sent count
    /// as read for the connection's window); the application hears `streamReset`.
    mutating func receiveReset(_ id: UInt64, errorCode: UInt64, finalSize: UInt64) throws(QUICTransportError) {
        guard let id = try peerFrameStream(id, frameType: 0x04, receiving: true) else { return }
        var stream = streams[id]!
        guard !stream.resetReceived, !stream.finDelivered else { return }
        guard finalSize <= stream.receiveLimit else { throw QUICTransportError(.flowControlError, frameType: 0x04, "a final size past the limit") }
        let before = stream.incoming.highestOffset
        try stream.incoming.reset(finalSize: finalSize)
        try receivedData(finalSize - before)
        stream.resetReceived = true
        dataConsumed += finalSize - stream.consumed
        stream.consumed = finalSize
        streams[id] = stream
        arrived.append(.streamReset(id: id, errorCode: errorCode))
        retireIfDone(id)
    }

    /// STOP_SENDING: the peer will not read; we reset the stream with its code (§3.5).
    mutating func receiveStopSending(_ id: UInt64, errorCode: UInt64) throws(QUICTransportError) {
        guard let id = try peerFrameStream(id, frameType: 0x05, receiving: false) else { return }
        arrived.append(.stopSending(id: id, errorCode: errorCode))
        queueReset(id, errorCode: errorCode)
    }

    /// MAX_STREAM_DATA: more room to send on a stream.
    mutating func receiveMaxStreamData(_ id: UInt64, maximum: UInt64) throws(QUICTransportError) {
        guard let id = try peerFrameStream(id, frameType: 0x11, receiving: false) else { return }
        streams[id]!.sendLimit = max(streams[id]!.sendLimit, maximum)
        if streams[id]!.hasDataToSend { markReady(id) }
    }

    /// MAX_STREAMS: the peer lets us open more streams.
    mutating func receiveMaxStreams(bidirectional: Bool, maximum: UInt64) {
        if bidirectional { peerMaxStreamsBidi = max(peerMaxStreamsBidi, maximum) } else { peerMaxStreamsUni = max(peerMaxStreamsUni, maximum) }
    }

    // MARK: The application's side

    /// Queues `bytes` (and the end of the stream when `fin`) on stream `id`; returns the
    /// datagrams that can go now. Ignored on a stream that was reset or cannot send.
    public mutating func send(_ bytes: [UInt8], on id: UInt64, fin: Bool) -> [Action] {
        var buffer = ByteBuffer(bytes: bytes)
        return send(&buffer, on: id, fin: fin)
    }

    /// Queues the readable bytes of `buffer` on stream `id` (see `send(_:on:fin:)`).
    public mutating func send(_ buffer: inout ByteBuffer, on id: UInt64, fin: Bool) -> [Action] {
        guard streams[id]?.canSend == true, !streams[id]!.resetSent, !streams[id]!.finToSend else { return [] }
        // Sent bytes stay in the buffer's storage until it is compacted (copying only what is
        // unsent; frames in flight keep their own slices).
        if streams[id]!.outgoing.readerIndex >= 1 << 20 { streams[id]!.outgoing.discardReadBytes() }
        streams[id]!.outgoing.writeBuffer(&buffer)
        if fin { streams[id]!.finToSend = true }
        markReady(id)
        return flush()
    }

    /// Bytes queued on stream `id` and not yet sent (for back-pressure).
    public func unsentBytes(on id: UInt64) -> Int { streams[id]?.outgoing.readableBytes ?? 0 }

    /// Whether stream `id` is still open (not yet finished both ways and forgotten).
    public func isOpen(_ id: UInt64) -> Bool { streams[id] != nil }

    /// The application has read `count` bytes delivered on stream `id`: the peer may send
    /// that much more (MAX_STREAM_DATA and MAX_DATA go out once half a window is read, and the
    /// windows double when that happens within two round trips).
    public mutating func consumed(_ count: Int, on id: UInt64) -> [Action] {
        guard count > 0 else { return [] }
        dataConsumed += UInt64(count)
        var due = false
        let now = QUICInstant.now
        if var stream = streams[id], !stream.resetReceived {
            stream.consumed += UInt64(count)
            if stream.incoming.finalSize == nil, stream.receiveLimit - stream.consumed < stream.receiveWindow / 2 {
                if let last = stream.lastWindowUpdate, now - last < rtt.smoothed * 2 {
                    stream.receiveWindow = min(stream.receiveWindow * 2, max(Self.maxStreamWindow, stream.receiveWindow))
                }
                stream.lastWindowUpdate = now
                stream.receiveLimit = stream.consumed + stream.receiveWindow
                maxStreamDataToSend.insert(id)
                due = true
            }
            streams[id] = stream
        }
        if receiveMaxData - dataConsumed < receiveDataWindow / 2 {
            if let last = lastDataWindowUpdate, now - last < rtt.smoothed * 2 {
                receiveDataWindow = min(receiveDataWindow * 2, max(Self.maxConnectionWindow, receiveDataWindow))
            }
            lastDataWindowUpdate = now
            receiveMaxData = dataConsumed + receiveDataWindow
            maxDataToSend = true
            due = true
        }
        retireIfDone(id)
        return due ? flush() : []
    }

    /// Abandons sending on stream `id`: RESET_STREAM with `errorCode` (what was sent counts as
    /// its final size); queued and lost data is dropped.
    public mutating func resetStream(_ id: UInt64, errorCode: UInt64) -> [Action] {
        guard streams[id]?.canSend == true else { return [] }
        queueReset(id, errorCode: errorCode)
        return flush()
    }

    /// Asks the peer to stop sending on stream `id` (STOP_SENDING with `errorCode`).
    public mutating func stopSending(_ id: UInt64, errorCode: UInt64) -> [Action] {
        guard let stream = streams[id], stream.canReceive, !stream.receiveDone else { return [] }
        pendingFrames.append(.stopSending(streamID: id, errorCode: errorCode))
        return flush()
    }

    private mutating func queueReset(_ id: UInt64, errorCode: UInt64) {
        guard var stream = streams[id], !stream.resetSent, !(stream.finSent && stream.outgoing.readableBytes == 0 && stream.retransmit.isEmpty) else {
            return
        }
        stream.resetSent = true
        stream.outgoing.clear()
        stream.retransmit = []
        streams[id] = stream
        pendingFrames.append(.resetStream(streamID: id, errorCode: errorCode, finalSize: stream.outgoingOffset))
        retireIfDone(id)
    }

    // MARK: Bookkeeping

    mutating func markReady(_ id: UInt64) {
        if !readyStreams.contains(id) { readyStreams.append(id) }
    }

    /// Forgets a stream finished both ways; a peer's stream gives it room for another (MAX_STREAMS).
    mutating func retireIfDone(_ id: UInt64) {
        guard let stream = streams[id], stream.receiveDone, stream.sendDone else { return }
        if stream.canReceive, stream.consumed < stream.incoming.deliveredOffset { return }  // not yet read
        streams[id] = nil
        readyStreams.removeAll { $0 == id }
        maxStreamDataToSend.remove(id)
        guard !isLocal(id) else { return }
        if Self.isBidirectional(id) {
            localMaxStreamsBidi += 1
            maxStreamsToSend[0] = true
        } else {
            localMaxStreamsUni += 1
            maxStreamsToSend[1] = true
        }
    }

    /// A packet's frames were acknowledged.
    mutating func acknowledged(_ frames: [QUICFrame]) {
        for case .stream(let frame) in frames {
            guard streams[frame.streamID] != nil else { continue }
            streams[frame.streamID]!.inFlight -= 1
            retireIfDone(frame.streamID)
        }
    }

    /// A packet's frames were lost: data and control frames go out again (window updates with
    /// their current values); probes and blocked signals do not.
    mutating func requeue(_ frames: [QUICFrame]) {
        for frame in frames {
            switch frame {
            case .stream(let stream):
                guard streams[stream.streamID] != nil else { continue }
                streams[stream.streamID]!.inFlight -= 1
                if !streams[stream.streamID]!.resetSent {
                    streams[stream.streamID]!.retransmit.append(stream)
                    markReady(stream.streamID)
                }
            case .maxData: maxDataToSend = true
            case .maxStreamData(let id, _): if streams[id].map({ !$0.receiveDone }) == true { maxStreamDataToSend.insert(id) }
            case .maxStreams(let bidirectional, _): maxStreamsToSend[bidirectional ? 0 : 1] = true
            case .handshakeDone: handshakeDoneToSend = true
            case .resetStream, .stopSending, .newConnectionID, .retireConnectionID, .newToken: pendingFrames.append(frame)
            default: break
            }
        }
    }

    /// Frames that keep the peer's windows and limits up to date, and blocked signals.
    mutating func controlFrames() -> [QUICFrame] {
        var frames = pendingFrames
        pendingFrames = []
        if maxDataToSend {
            frames.append(.maxData(receiveMaxData))
            maxDataToSend = false
        }
        for id in maxStreamDataToSend {
            if let stream = streams[id] { frames.append(.maxStreamData(streamID: id, maximum: stream.receiveLimit)) }
        }
        maxStreamDataToSend = []
        if maxStreamsToSend[0] { frames.append(.maxStreams(bidirectional: true, maximum: localMaxStreamsBidi)) }
        if maxStreamsToSend[1] { frames.append(.maxStreams(bidirectional: false, maximum: localMaxStreamsUni)) }
        maxStreamsToSend = [false, false]
        return frames
    }

    /// STREAM frames for up to `room` bytes: lost frames first (whole), then new data within
    /// the stream's and the connection's limits, streams taking turns. Blocked streams say so.
    mutating func streamFrames(room: Int) -> [QUICFrame] {
        var frames: [QUICFrame] = []
        var left = room
        var index = 0
        while index < readyStreams.count, left > 32 {
            let id = readyStreams[index]
            guard var stream = streams[id] else {
                readyStreams.remove(at: index)
                continue
            }
            while let frame = stream.retransmit.first, frame.data.readableBytes + 24 <= left {
                stream.retransmit.removeFirst()
                frames.append(.stream(frame))
                stream.inFlight += 1
                left -= frame.data.readableBytes + 24
            }
            if stream.retransmit.isEmpty, left > 32 {
                let allowed = min(UInt64(left - 24), stream.sendLimit - stream.outgoingOffset, peerMaxData - dataSent)
                let count = min(stream.outgoing.readableBytes, Int(allowed))
                let fin = stream.finToSend && !stream.finSent && count == stream.outgoing.readableBytes
                if count > 0 || fin {
                    let chunk = stream.outgoing.readSlice(length: count)!
                    frames.append(.stream(QUICStreamFrame(streamID: id, offset: stream.outgoingOffset, data: chunk, fin: fin)))
                    stream.outgoingOffset += UInt64(count)
                    stream.inFlight += 1
                    dataSent += UInt64(count)
                    if fin { stream.finSent = true }
                    left -= count + 24
                }
                if stream.outgoing.readableBytes > 0, stream.outgoingOffset == stream.sendLimit || dataSent == peerMaxData {
                    statistics.flowControlBlocked += 1
                    // Blocked by a limit: say so once per limit (§4.1), in the next packet.
                    if stream.outgoingOffset == stream.sendLimit, stream.blockedAt != stream.sendLimit {
                        stream.blockedAt = stream.sendLimit
                        pendingFrames.append(.streamDataBlocked(streamID: id, limit: stream.sendLimit))
                    }
                    if dataSent == peerMaxData, dataBlockedAt != peerMaxData {
                        dataBlockedAt = peerMaxData
                        pendingFrames.append(.dataBlocked(limit: peerMaxData))
                    }
                }
            }
            streams[id] = stream
            if stream.hasDataToSend && stream.retransmit.isEmpty && stream.outgoing.readableBytes > 0 && left > 32 {
                // Still data but no room under a limit: leave it for a window update.
                readyStreams.remove(at: index)
            } else if !stream.hasDataToSend {
                readyStreams.remove(at: index)
            } else {
                index += 1
            }
        }
        // The streams served this time go to the back of the line.
        if index > 0, index < readyStreams.count { readyStreams = Array(readyStreams[index...] + readyStreams[..<index]) }
        return frames
    }
}
