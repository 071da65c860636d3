import NIOCore

/// The receiving side of a byte stream (a STREAM's data or a level's CRYPTO data): pieces
/// arrive at any offset, in any order, repeated or overlapping; the bytes come out in order
/// (RFC 9000 §2.2, §19.6, §19.8). A value type: it reports errors and never does I/O.
public struct QUICReassemblyBuffer: Sendable {
    /// Pieces not yet delivered, by offset, never overlapping one another.
    private var pieces: [(offset: UInt64, bytes: ByteBuffer)] = []
    /// Everything before this offset has been delivered.
    public private(set) var deliveredOffset: UInt64 = 0
    /// The stream's final size, once a FIN or RESET_STREAM said it.
    public private(set) var finalSize: UInt64?
    /// The most bytes held past `deliveredOffset` (flow control's window, or a CRYPTO limit).
    public var limit: UInt64
    /// The most separate pieces held (a peer sending every other byte must not cost a piece
    /// each); data that fills the first gap is always taken.
    public let maxPieces: Int

    public init(limit: UInt64, maxPieces: Int = 4096) {
        self.limit = limit
        self.maxPieces = maxPieces
    }

    /// Bytes held, waiting for the gap before them to fill.
    public var bufferedBytes: Int { pieces.reduce(0) { $0 + $1.bytes.readableBytes } }

    /// The highest offset received (for flow control: the bytes the peer has sent).
    public private(set) var highestOffset: UInt64 = 0

    /// Whether every byte up to the final size has been delivered.
    public var isComplete: Bool { finalSize == deliveredOffset }

    /// Takes in `data` at `offset` (`fin`: it ends the stream). Errors: data past the final size
    /// or a changed final size (FINAL_SIZE_ERROR), past the limit (FLOW_CONTROL_ERROR, or
    /// CRYPTO_BUFFER_EXCEEDED for `crypto`).
    public mutating func insert(_ data: ByteBuffer, at offset: UInt64, fin: Bool, crypto: Bool = false) throws(QUICTransportError) {
        let end = offset + UInt64(data.readableBytes)
        if let finalSize, end > finalSize || (fin && end != finalSize) {
            throw QUICTransportError(.finalSizeError, "data past the stream's final size \(finalSize)")
        }
        if fin {
            guard end >= highestOffset else { throw QUICTransportError(.finalSizeError, "a final size below data already received") }
            finalSize = end
        }
        guard end <= deliveredOffset + limit else {
            throw QUICTransportError(crypto ? .cryptoBufferExceeded : .flowControlError, "data past the receive limit")
        }
        highestOffset = max(highestOffset, end)
        guard end > deliveredOffset, data.readableBytes > 0 else { return }
        // Keep only the bytes not yet held: the new piece minus what is delivered or buffered.
        var start = max(offset, deliveredOffset)
        guard pieces.count < maxPieces || start == deliveredOffset else {
            throw QUICTransportError(.internalError, "more than \(maxPieces) pieces of data waiting for gaps to fill")
        }
        var index = pieces.firstIndex { $0.offset + UInt64($0.bytes.readableBytes) > start } ?? pieces.endIndex
        while start < end {
            let nextHeld = index < pieces.endIndex ? pieces[index].offset : end
            if start < nextHeld {
                let stop = min(end, nextHeld)
                let slice = data.getSlice(at: data.readerIndex + Int(start - offset), length: Int(stop - start))!
                pieces.insert((start, slice), at: index)
                index += 1
                start = stop
            } else {
                start = max(start, pieces[index].offset + UInt64(pieces[index].bytes.readableBytes))
                index += 1
            }
        }
    }

    /// The bytes now contiguous with what was delivered (empty if the next one is missing).
    public mutating func read() -> ByteBuffer {
        var output = ByteBuffer()
        while let first = pieces.first, first.offset == deliveredOffset {
            var bytes = first.bytes
            deliveredOffset += UInt64(bytes.readableBytes)
            output.writeBuffer(&bytes)
            pieces.removeFirst()
        }
        return output
    }

    /// The stream was reset at `finalSize`: the same checks as a FIN, and nothing more comes.
    public mutating func reset(finalSize size: UInt64) throws(QUICTransportError) {
        if let finalSize, finalSize != size { throw QUICTransportError(.finalSizeError, "a reset changed the final size") }
        guard size >= highestOffset else { throw QUICTransportError(.finalSizeError, "a reset below data already received") }
        guard size <= deliveredOffset + limit else { throw QUICTransportError(.flowControlError, "a final size past the limit") }
        finalSize = size
        highestOffset = size
        pieces = []
    }
}

/// The packet numbers received in one packet-number space, as ACK frames report them
/// (RFC 9000 §13.2): ranges, newest first, at most `maxRanges` of them.
public struct QUICAckTracker: Sendable {
    /// Received packet numbers, disjoint, descending.
    public private(set) var ranges: [ClosedRange<UInt64>] = []
    /// How many ranges an ACK frame carries at most (older ones are forgotten).
    public let maxRanges: Int
    /// Whether an ack-eliciting packet arrived since the last ACK was sent.
    public private(set) var ackPending = false

    public init(maxRanges: Int = 32) { self.maxRanges = maxRanges }

    /// The largest packet number received.
    public var largest: UInt64? { ranges.first?.upperBound }

    /// Records `packetNumber`; false if it was received before (a duplicate to drop).
    public mutating func record(_ packetNumber: UInt64, ackEliciting: Bool) -> Bool {
        guard !contains(packetNumber) else { return false }
        if ackEliciting { ackPending = true }
        // Find where it goes (descending), then merge with neighbours it touches.
        let index = ranges.firstIndex { $0.upperBound < packetNumber } ?? ranges.endIndex
        var range = packetNumber...packetNumber
        if index < ranges.endIndex, ranges[index].upperBound + 1 == packetNumber {
            range = ranges[index].lowerBound...packetNumber
            ranges.remove(at: index)
        }
        if index > 0, ranges[index - 1].lowerBound == packetNumber + 1 {
            range = range.lowerBound...ranges[index - 1].upperBound
            ranges.remove(at: index - 1)
            ranges.insert(range, at: index - 1)
        } else {
            ranges.insert(range, at: index)
        }
        if ranges.count > maxRanges { ranges.removeLast(ranges.count - maxRanges) }
        return true
    }

    public func contains(_ packetNumber: UInt64) -> Bool {
        ranges.contains { $0.contains(packetNumber) }
    }

    /// The ACK frame to send now (`delay` already in the peer's units); clears the pending flag.
    public mutating func ackFrame(delay: UInt64) -> QUICAckFrame? {
        guard !ranges.isEmpty else { return nil }
        ackPending = false
        return QUICAckFrame(ranges: ranges, delay: delay)
    }
}
