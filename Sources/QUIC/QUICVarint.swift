import NIOCore

/// QUIC's variable-length integers (RFC 9000 §16): the two high bits of the first byte give the
/// length (1, 2, 4 or 8 bytes), the rest is the value, big-endian, up to 2^62 - 1.
public enum QUICVarint {
    /// The largest value a variable-length integer holds.
    public static let max: UInt64 = (1 << 62) - 1

    /// How many bytes `value` takes (it must be at most ``max``).
    public static func length(of value: UInt64) -> Int {
        switch value {
        case ..<(1 << 6): 1
        case ..<(1 << 14): 2
        case ..<(1 << 30): 4
        default: 8
        }
    }
}

extension ByteBuffer {
    /// Writes `value` in the shortest form; returns the bytes written.
    @discardableResult
    public mutating func writeQUICVarint(_ value: UInt64) -> Int {
        precondition(value <= QUICVarint.max, "a QUIC varint holds at most 2^62 - 1")
        switch QUICVarint.length(of: value) {
        case 1: return writeInteger(UInt8(value))
        case 2: return writeInteger(UInt16(value) | 0x4000)
        case 4: return writeInteger(UInt32(value) | 0x8000_0000)
        default: return writeInteger(value | 0xC000_0000_0000_0000)
        }
    }

    /// Reads a variable-length integer; nil (nothing consumed) if the buffer ends inside it.
    public mutating func readQUICVarint() -> UInt64? {
        guard let first = getInteger(at: readerIndex, as: UInt8.self) else { return nil }
        switch first >> 6 {
        case 0: return readInteger(as: UInt8.self).map(UInt64.init)
        case 1: return readInteger(as: UInt16.self).map { UInt64($0 & 0x3FFF) }
        case 2: return readInteger(as: UInt32.self).map { UInt64($0 & 0x3FFF_FFFF) }
        default: return readInteger(as: UInt64.self).map { $0 & 0x3FFF_FFFF_FFFF_FFFF }
        }
    }
}
