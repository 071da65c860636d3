import Crypto
import Foundation

/// Why a packet could not be protected or opened.
public enum QUICProtectionError: Error, Sendable, Equatable {
    /// Too short to hold a header-protection sample (or a tag).
    case packetTooShort
    /// The AEAD tag did not verify (a corrupt or forged packet, or the wrong keys).
    case authenticationFailed
}

/// Packet protection (RFC 9001 §5.3, §5.4): the payload sealed with the AEAD under a nonce made
/// from the packet number, then the header's low first-byte bits and packet number masked with
/// a sample of the ciphertext.
public struct QUICPacketProtector: Sendable {
    public let keys: QUICPacketKeys
    private let cipher: QUICPacketCipher

    public init(keys: QUICPacketKeys) {
        self.keys = keys
        cipher = QUICPacketCipher(
            suite: keys.suite, key: keys.key.withUnsafeBytes { Array($0) }, headerKey: keys.headerKey.withUnsafeBytes { Array($0) })
    }

    /// Protects a packet: `header` (its packet number, unprotected, at `packetNumberOffset`)
    /// authenticated, `payload` encrypted, then the header protected.
    public func seal(header: [UInt8], packetNumber: UInt64, packetNumberOffset: Int, payload: [UInt8]) throws -> [UInt8] {
        var packet = header
        packet.reserveCapacity(header.count + payload.count + 16)
        packet += payload
        packet += Self.tagSpace
        guard cipher.seal(&packet, payloadStart: header.count, nonce: nonce(packetNumber)) else {
            throw QUICProtectionError.authenticationFailed
        }
        try applyHeaderProtection(&packet, packetNumberOffset: packetNumberOffset, protecting: true)
        return packet
    }

    private static let tagSpace = [UInt8](repeating: 0, count: 16)

    /// Removes header protection, recovers the full packet number (given the largest one
    /// received so far) and decrypts; throws if the packet does not authenticate.
    public func open(_ packet: [UInt8], packetNumberOffset: Int, largestPacketNumber: UInt64?) throws
        -> (header: [UInt8], packetNumber: UInt64, payload: [UInt8])
    {
        var packet = packet
        let length = try applyHeaderProtection(&packet, packetNumberOffset: packetNumberOffset, protecting: false)
        let headerEnd = packetNumberOffset + length
        guard packet.count >= headerEnd + 16 else { throw QUICProtectionError.packetTooShort }
        var truncated: UInt64 = 0
        for byte in packet[packetNumberOffset..<headerEnd] { truncated = truncated << 8 | UInt64(byte) }
        let packetNumber = QUICPacketNumber.decode(truncated: truncated, bits: length * 8, largest: largestPacketNumber)
        guard let opened = cipher.open(&packet, payloadStart: headerEnd, nonce: nonce(packetNumber)) else {
            throw QUICProtectionError.authenticationFailed
        }
        return (Array(packet[..<headerEnd]), packetNumber, Array(packet[headerEnd..<(headerEnd + opened)]))
    }

    private func nonce(_ packetNumber: UInt64) -> [UInt8] {
        var nonce = keys.iv
        for index in 0..<8 { nonce[nonce.count - 1 - index] ^= UInt8(truncatingIfNeeded: packetNumber >> (8 * UInt64(index))) }
        return nonce
    }

    /// Masks (`protecting`) or unmasks the first byte's low bits and the packet number; returns
    /// the packet number's length, read from the first byte as it is unprotected.
    @discardableResult
    private func applyHeaderProtection(_ packet: inout [UInt8], packetNumberOffset: Int, protecting: Bool) throws -> Int {
        let sampleStart = packetNumberOffset + 4
        guard packet.count >= sampleStart + 16 else { throw QUICProtectionError.packetTooShort }
        let mask = cipher.mask(packet, sampleStart: sampleStart)
        let isLong = packet[0] & 0x80 != 0
        let before = packet[0]
        packet[0] ^= mask.0 & (isLong ? 0x0F : 0x1F)
        let length = Int((protecting ? before : packet[0]) & 0x03) + 1
        let bytes = [mask.1, mask.2, mask.3, mask.4]
        for index in 0..<length { packet[packetNumberOffset + index] ^= bytes[index] }
        return length
    }
}

public enum QUICRetryIntegrity {
    private static let key = SymmetricKey(data: [
        0xBE, 0x0C, 0x69, 0x0B, 0x9F, 0x66, 0x57, 0x5A, 0x1D, 0x76, 0x6B, 0x54, 0xE3, 0x68, 0xC8, 0x4E,
    ] as [UInt8])
    private static let nonce: [UInt8] = [0x46, 0x15, 0x99, 0xD3, 0x5D, 0x63, 0x2B, 0xF2, 0x23, 0x98, 0x25, 0xBB]

    /// The 16-byte tag for a Retry packet (`packet` without its tag).
    public static func tag(packet: [UInt8], originalDestinationConnectionID: [UInt8]) throws -> [UInt8] {
        let pseudoPacket = [UInt8(originalDestinationConnectionID.count)] + originalDestinationConnectionID + packet
        let box = try AES.GCM.seal([UInt8](), using: key, nonce: AES.GCM.Nonce(data: nonce), authenticating: pseudoPacket)
        return Array(box.tag)
    }

    /// Whether a received Retry packet (tag included) is authentic.
    public static func verify(_ packet: [UInt8], originalDestinationConnectionID: [UInt8]) -> Bool {
        guard packet.count > 16, let expected = try? tag(packet: Array(packet.dropLast(16)), originalDestinationConnectionID: originalDestinationConnectionID)
        else { return false }
        return expected == Array(packet.suffix(16))
    }
}
