import NIOCore

/// An ACK frame's contents (RFC 9000 §19.3): the acknowledged packet numbers as ranges, largest
/// first, the delay (in the sender's ack-delay units) and, for type 0x03, the ECN counts.
public struct QUICAckFrame: Sendable, Equatable {
    /// Acknowledged packet numbers, disjoint, in descending order.
    public var ranges: [ClosedRange<UInt64>]
    /// The encoded ACK Delay field.
    public var delay: UInt64
    /// ECT(0), ECT(1) and CE counts, when the frame carries them.
    public var ecn: (ect0: UInt64, ect1: UInt64, ce: UInt64)?

    public init(ranges: [ClosedRange<UInt64>], delay: UInt64, ecn: (ect0: UInt64, ect1: UInt64, ce: UInt64)? = nil) {
        self.ranges = ranges
        self.delay = delay
        self.ecn = ecn
    }

    /// The largest packet number acknowledged.
    public var largest: UInt64 { ranges.first?.upperBound ?? 0 }

    public static func == (lhs: QUICAckFrame, rhs: QUICAckFrame) -> Bool {
        lhs.ranges == rhs.ranges && lhs.delay == rhs.delay && lhs.ecn.map { [$0.ect0, $0.ect1, $0.ce] } == rhs.ecn.map { [$0.ect0, $0.ect1, $0.ce] }
    }
}

/// A STREAM frame (RFC 9000 §19.8).
public struct QUICStreamFrame: Sendable, Equatable {
    public var streamID: UInt64
    public var offset: UInt64
    public var data: ByteBuffer
    public var fin: Bool

    public init(streamID: UInt64, offset: UInt64, data: ByteBuffer, fin: Bool) {
        self.streamID = streamID
        self.offset = offset
        self.data = data
        self.fin = fin
    }
}

/// Every frame of RFC 9000 §19.
public enum QUICFrame: Sendable, Equatable {
    /// A run of PADDING frames (single zero bytes), read as one.
    case padding(count: Int)
    case ping
    case ack(QUICAckFrame)
    case resetStream(streamID: UInt64, errorCode: UInt64, finalSize: UInt64)
    case stopSending(streamID: UInt64, errorCode: UInt64)
    case crypto(offset: UInt64, data: ByteBuffer)
    case newToken(ByteBuffer)
    case stream(QUICStreamFrame)
    case maxData(UInt64)
    case maxStreamData(streamID: UInt64, maximum: UInt64)
    case maxStreams(bidirectional: Bool, maximum: UInt64)
    case dataBlocked(limit: UInt64)
    case streamDataBlocked(streamID: UInt64, limit: UInt64)
    case streamsBlocked(bidirectional: Bool, limit: UInt64)
    case newConnectionID(sequence: UInt64, retirePriorTo: UInt64, connectionID: [UInt8], statelessResetToken: [UInt8])
    case retireConnectionID(sequence: UInt64)
    case pathChallenge([UInt8])
    case pathResponse([UInt8])
    /// CONNECTION_CLOSE: a transport error (0x1c, with the frame type that caused it) or an
    /// application's (0x1d, `frameType` nil).
    case connectionClose(errorCode: UInt64, frameType: UInt64?, reason: String, application: Bool)
    case handshakeDone

    /// Whether receiving this frame makes the packet ack-eliciting (all but ACK, PADDING and
    /// CONNECTION_CLOSE).
    public var isAckEliciting: Bool {
        switch self {
        case .ack, .padding, .connectionClose: false
        default: true
        }
    }

    /// Whether the frame only probes a path (RFC 9000 §9.1): a packet of nothing else does not
    /// move the connection to the address it came from.
    public var isProbing: Bool {
        switch self {
        case .padding, .pathChallenge, .pathResponse, .newConnectionID: true
        default: false
        }
    }

    /// Whether the frame asks for (or answers) a path's validation: its datagram is padded to
    /// 1200 bytes (§8.2.1).
    var isPathProbe: Bool {
        switch self {
        case .pathChallenge, .pathResponse: true
        default: false
        }
    }

    /// Whether the frame may appear in a packet of `type` (RFC 9000 §12.4, Table 3).
    public func isAllowed(in type: QUICPacketType) -> Bool {
        switch type {
        case .initial, .handshake:
            switch self {
            case .padding, .ping, .ack, .crypto: return true
            case .connectionClose(_, _, _, let application): return !application
            default: return false
            }
        case .zeroRTT:
            switch self {
            case .ack, .crypto, .handshakeDone, .newToken, .pathResponse, .retireConnectionID: return false
            default: return true
            }
        case .oneRTT:
            return true
        case .retry, .versionNegotiation:
            return false
        }
    }
}

extension QUICFrame {
    /// The longest connection ID (RFC 9000 §17.2).
    static let maxConnectionIDLength = 20

    /// Reads every frame of a packet's payload. Any malformed frame, an unknown type, or a
    /// payload with no frame is FRAME_ENCODING_ERROR (RFC 9000 §12.4, §19), never a crash.
    public static func parseAll(_ payload: ByteBuffer) throws(QUICTransportError) -> [QUICFrame] {
        var buffer = payload
        var frames: [QUICFrame] = []
        while buffer.readableBytes > 0 { frames.append(try parse(&buffer)) }
        guard !frames.isEmpty else { throw QUICTransportError(.protocolViolation, "a packet with no frames") }
        return frames
    }

    /// Reads one frame.
    static func parse(_ buffer: inout ByteBuffer) throws(QUICTransportError) -> QUICFrame {
        let start = buffer.readerIndex
        guard let type = buffer.readQUICVarint() else { throw malformed(nil, "a frame type cut short") }
        // A frame type must be in its shortest encoding (§12.4).
        guard buffer.readerIndex - start == QUICVarint.length(of: type) else {
            throw QUICTransportError(.protocolViolation, frameType: type, "a frame type in a longer encoding than needed")
        }
        func varint() throws(QUICTransportError) -> UInt64 {
            guard let value = buffer.readQUICVarint() else { throw malformed(type, "a field cut short") }
            return value
        }
        func bytes(_ count: UInt64) throws(QUICTransportError) -> ByteBuffer {
            guard count <= buffer.readableBytes, let slice = buffer.readSlice(length: Int(count)) else {
                throw malformed(type, "\(count) bytes announced, \(buffer.readableBytes) left")
            }
            return slice
        }
        switch type {
        case 0x00:
            var count = 1
            while buffer.readableBytesView.first == 0 {
                buffer.moveReaderIndex(forwardBy: 1)
                count += 1
            }
            return .padding(count: count)
        case 0x01:
            return .ping
        case 0x02, 0x03:
            let largest = try varint()
            let delay = try varint()
            let rangeCount = try varint()
            let firstRange = try varint()
            guard firstRange <= largest else { throw malformed(type, "the first ACK range goes below zero") }
            var ranges = [(largest - firstRange)...largest]
            // Each range costs at least two bytes: a count beyond that cannot be honest.
            guard rangeCount <= UInt64(buffer.readableBytes / 2) else { throw malformed(type, "more ACK ranges than bytes") }
            var smallest = largest - firstRange
            for _ in 0..<rangeCount {
                let gap = try varint()
                let length = try varint()
                guard smallest >= gap + 2, smallest - gap - 2 >= length else {
                    throw malformed(type, "an ACK range goes below zero")
                }
                let high = smallest - gap - 2
                ranges.append((high - length)...high)
                smallest = high - length
            }
            var ecn: (UInt64, UInt64, UInt64)?
            if type == 0x03 { ecn = (try varint(), try varint(), try varint()) }
            return .ack(QUICAckFrame(ranges: ranges, delay: delay, ecn: ecn))
        case 0x04:
            return .resetStream(streamID: try varint(), errorCode: try varint(), finalSize: try varint())
        case 0x05:
            return .stopSending(streamID: try varint(), errorCode: try varint())
        case 0x06:
            let offset = try varint()
            let data = try bytes(try varint())
            guard offset + UInt64(data.readableBytes) <= QUICVarint.max else { throw malformed(type, "CRYPTO data past 2^62 - 1") }
            return .crypto(offset: offset, data: data)
        case 0x07:
            let length = try varint()
            guard length > 0 else { throw malformed(type, "an empty NEW_TOKEN") }
            return .newToken(try bytes(length))
        case 0x08...0x0F:
            let streamID = try varint()
            let offset = type & 0x04 != 0 ? try varint() : 0
            let data = type & 0x02 != 0 ? try bytes(try varint()) : try bytes(UInt64(buffer.readableBytes))
            guard offset + UInt64(data.readableBytes) <= QUICVarint.max else { throw malformed(type, "STREAM data past 2^62 - 1") }
            return .stream(QUICStreamFrame(streamID: streamID, offset: offset, data: data, fin: type & 0x01 != 0))
        case 0x10:
            return .maxData(try varint())
        case 0x11:
            return .maxStreamData(streamID: try varint(), maximum: try varint())
        case 0x12, 0x13:
            let maximum = try varint()
            guard maximum <= 1 << 60 else { throw malformed(type, "MAX_STREAMS over 2^60") }
            return .maxStreams(bidirectional: type == 0x12, maximum: maximum)
        case 0x14:
            return .dataBlocked(limit: try varint())
        case 0x15:
            return .streamDataBlocked(streamID: try varint(), limit: try varint())
        case 0x16, 0x17:
            let limit = try varint()
            guard limit <= 1 << 60 else { throw malformed(type, "STREAMS_BLOCKED over 2^60") }
            return .streamsBlocked(bidirectional: type == 0x16, limit: limit)
        case 0x18:
            let sequence = try varint()
            let retirePriorTo = try varint()
            guard retirePriorTo <= sequence else { throw malformed(type, "Retire Prior To above the sequence number") }
            guard let length = buffer.readInteger(as: UInt8.self), (1...maxConnectionIDLength).contains(Int(length)) else {
                throw malformed(type, "a connection ID length outside 1...20")
            }
            let connectionID = Array((try bytes(UInt64(length))).readableBytesView)
            let token = Array((try bytes(16)).readableBytesView)
            return .newConnectionID(sequence: sequence, retirePriorTo: retirePriorTo, connectionID: connectionID, statelessResetToken: token)
        case 0x19:
            return .retireConnectionID(sequence: try varint())
        case 0x1A:
            return .pathChallenge(Array((try bytes(8)).readableBytesView))
        case 0x1B:
            return .pathResponse(Array((try bytes(8)).readableBytesView))
        case 0x1C, 0x1D:
            let code = try varint()
            let frameType = type == 0x1C ? try varint() : nil
            let reason = try bytes(try varint())
            return .connectionClose(
                errorCode: code, frameType: frameType, reason: String(decoding: reason.readableBytesView, as: UTF8.self),
                application: type == 0x1D)
        case 0x1E:
            return .handshakeDone
        default:
            throw malformed(type, "unknown frame type 0x\(String(type, radix: 16))")
        }
    }

    private static func malformed(_ type: UInt64?, _ reason: String) -> QUICTransportError {
        QUICTransportError(.frameEncodingError, frameType: type, reason)
    }

    /// Writes the frame.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .padding(let count):
            buffer.writeRepeatingByte(0, count: count)
        case .ping:
            buffer.writeQUICVarint(0x01)
        case .ack(let ack):
            buffer.writeQUICVarint(ack.ecn == nil ? 0x02 : 0x03)
            let first = ack.ranges[0]
            buffer.writeQUICVarint(first.upperBound)
            buffer.writeQUICVarint(ack.delay)
            buffer.writeQUICVarint(UInt64(ack.ranges.count - 1))
            buffer.writeQUICVarint(first.upperBound - first.lowerBound)
            var smallest = first.lowerBound
            for range in ack.ranges.dropFirst() {
                buffer.writeQUICVarint(smallest - range.upperBound - 2)
                buffer.writeQUICVarint(range.upperBound - range.lowerBound)
                smallest = range.lowerBound
            }
            if let ecn = ack.ecn {
                buffer.writeQUICVarint(ecn.ect0)
                buffer.writeQUICVarint(ecn.ect1)
                buffer.writeQUICVarint(ecn.ce)
            }
        case .resetStream(let streamID, let errorCode, let finalSize):
            for value in [0x04, streamID, errorCode, finalSize] { buffer.writeQUICVarint(value) }
        case .stopSending(let streamID, let errorCode):
            for value in [0x05, streamID, errorCode] { buffer.writeQUICVarint(value) }
        case .crypto(let offset, var data):
            for value in [0x06, offset, UInt64(data.readableBytes)] { buffer.writeQUICVarint(value) }
            buffer.writeBuffer(&data)
        case .newToken(var token):
            buffer.writeQUICVarint(0x07)
            buffer.writeQUICVarint(UInt64(token.readableBytes))
            buffer.writeBuffer(&token)
        case .stream(var frame):
            // Always with an explicit length, and an offset when it is not zero.
            buffer.writeQUICVarint(0x08 | 0x02 | (frame.offset > 0 ? 0x04 : 0) | (frame.fin ? 0x01 : 0))
            buffer.writeQUICVarint(frame.streamID)
            if frame.offset > 0 { buffer.writeQUICVarint(frame.offset) }
            buffer.writeQUICVarint(UInt64(frame.data.readableBytes))
            buffer.writeBuffer(&frame.data)
        case .maxData(let maximum):
            for value in [0x10, maximum] { buffer.writeQUICVarint(value) }
        case .maxStreamData(let streamID, let maximum):
            for value in [0x11, streamID, maximum] { buffer.writeQUICVarint(value) }
        case .maxStreams(let bidirectional, let maximum):
            for value in [bidirectional ? 0x12 : 0x13, maximum] { buffer.writeQUICVarint(value) }
        case .dataBlocked(let limit):
            for value in [0x14, limit] { buffer.writeQUICVarint(value) }
        case .streamDataBlocked(let streamID, let limit):
            for value in [0x15, streamID, limit] { buffer.writeQUICVarint(value) }
        case .streamsBlocked(let bidirectional, let limit):
            for value in [bidirectional ? 0x16 : 0x17, limit] { buffer.writeQUICVarint(value) }
        case .newConnectionID(let sequence, let retirePriorTo, let connectionID, let token):
            for value in [0x18, sequence, retirePriorTo] { buffer.writeQUICVarint(value) }
            buffer.writeInteger(UInt8(connectionID.count))
            buffer.writeBytes(connectionID)
            buffer.writeBytes(token)
        case .retireConnectionID(let sequence):
            for value in [0x19, sequence] { buffer.writeQUICVarint(value) }
        case .pathChallenge(let data):
            buffer.writeQUICVarint(0x1A)
            buffer.writeBytes(data)
        case .pathResponse(let data):
            buffer.writeQUICVarint(0x1B)
            buffer.writeBytes(data)
        case .connectionClose(let code, let frameType, let reason, let application):
            buffer.writeQUICVarint(application ? 0x1D : 0x1C)
            buffer.writeQUICVarint(code)
            if !application { buffer.writeQUICVarint(frameType ?? 0) }
            buffer.writeQUICVarint(UInt64(reason.utf8.count))
            buffer.writeString(reason)
        case .handshakeDone:
            buffer.writeQUICVarint(0x1E)
        }
    }
}
