/// Packet numbers on the wire (RFC 9000 §17.1, Appendix A): sent truncated to 1–4 bytes, and
/// recovered from the largest number received so far.
public enum QUICPacketNumber {
    /// The bytes to send `packetNumber` in, so that a receiver who has seen up to
    /// `largestAcknowledged` (nil: nothing yet) recovers it: twice the unacknowledged range.
    public static func encodedLength(of packetNumber: UInt64, largestAcknowledged: UInt64?) -> Int {
        let unacknowledged = largestAcknowledged.map { packetNumber - $0 } ?? packetNumber + 1
        let bits = (64 - unacknowledged.leadingZeroBitCount) + 1
        return min(4, max(1, (bits + 7) / 8))
    }

    /// The full packet number closest to the one after `largest` whose low `bits` bits are
    /// `truncated` (RFC 9000 Appendix A.3).
    public static func decode(truncated: UInt64, bits: Int, largest: UInt64?) -> UInt64 {
        let expected = largest.map { $0 + 1 } ?? 0
        let window: UInt64 = 1 << UInt64(bits)
        let halfWindow = window / 2
        let candidate = (expected & ~(window - 1)) | truncated
        if candidate + halfWindow <= expected, candidate < (1 << 62) - window {
            return candidate + window
        }
        if candidate > expected + halfWindow, candidate >= window {
            return candidate - window
        }
        return candidate
    }
}
