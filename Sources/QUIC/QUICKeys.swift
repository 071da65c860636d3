import Crypto
import Foundation

/// The TLS 1.3 cipher suites QUIC protects packets with (RFC 9001 §5).
public enum QUICCipherSuite: Sendable, Equatable {
    case aes128GCMSHA256
    case aes256GCMSHA384
    case chacha20Poly1305SHA256

    /// The AEAD (and header protection) key's length in bytes.
    var keyLength: Int { self == .aes128GCMSHA256 ? 16 : 32 }

    /// The hash's output length: the length of this suite's traffic secrets.
    var secretLength: Int { self == .aes256GCMSHA384 ? 48 : 32 }
}

/// TLS 1.3's key schedule functions (RFC 8446 §7.1) as QUIC uses them.
enum QUICKeySchedule {
    /// HKDF-Expand-Label(secret, label, context, length), with the hash of `suite`.
    static func expandLabel(_ secret: [UInt8], _ label: String, context: [UInt8] = [], length: Int, suite: QUICCipherSuite)
        -> [UInt8]
    {
        let fullLabel = Array("tls13 \(label)".utf8)
        var info: [UInt8] = [UInt8(length >> 8), UInt8(length & 0xFF), UInt8(fullLabel.count)]
        info += fullLabel
        info.append(UInt8(context.count))
        info += context
        let key = SymmetricKey(data: secret)
        let output: SymmetricKey =
            suite == .aes256GCMSHA384
            ? HKDF<SHA384>.expand(pseudoRandomKey: key, info: info, outputByteCount: length)
            : HKDF<SHA256>.expand(pseudoRandomKey: key, info: info, outputByteCount: length)
        return output.withUnsafeBytes { Array($0) }
    }

    /// HKDF-Extract with SHA-256.
    static func extract(salt: [UInt8], inputKeyMaterial: [UInt8]) -> [UInt8] {
        Array(HKDF<SHA256>.extract(inputKeyMaterial: SymmetricKey(data: inputKeyMaterial), salt: salt))
    }
}

/// The keys that protect one direction's packets at one encryption level: the AEAD key and IV,
/// and the header protection key, all derived from a traffic secret.
public struct QUICPacketKeys: Sendable {
    public let suite: QUICCipherSuite
    /// The traffic secret they come from (the next key-update generation derives from it).
    public let secret: [UInt8]
    let key: SymmetricKey
    let iv: [UInt8]
    let headerKey: SymmetricKey

    /// The keys of `secret` (RFC 9001 §5.1: "quic key", "quic iv", "quic hp").
    public init(secret: [UInt8], suite: QUICCipherSuite) {
        self.suite = suite
        self.secret = secret
        key = SymmetricKey(data: QUICKeySchedule.expandLabel(secret, "quic key", length: suite.keyLength, suite: suite))
        iv = QUICKeySchedule.expandLabel(secret, "quic iv", length: 12, suite: suite)
        headerKey = SymmetricKey(data: QUICKeySchedule.expandLabel(secret, "quic hp", length: suite.keyLength, suite: suite))
    }

    /// The keys after a key update (RFC 9001 §6: "quic ku"; the header key stays).
    public func nextGeneration() -> QUICPacketKeys {
        let next = QUICKeySchedule.expandLabel(secret, "quic ku", length: suite.secretLength, suite: suite)
        return QUICPacketKeys(secret: next, headerKey: headerKey, suite: suite)
    }

    private init(secret: [UInt8], headerKey: SymmetricKey, suite: QUICCipherSuite) {
        self.suite = suite
        self.secret = secret
        key = SymmetricKey(data: QUICKeySchedule.expandLabel(secret, "quic key", length: suite.keyLength, suite: suite))
        iv = QUICKeySchedule.expandLabel(secret, "quic iv", length: 12, suite: suite)
        self.headerKey = headerKey
    }

    /// QUIC version 1's Initial salt (RFC 9001 §5.2).
    static let initialSalt: [UInt8] = [
        0x38, 0x76, 0x2C, 0xF7, 0xF5, 0x59, 0x34, 0xB3, 0x4D, 0x17, 0x9A, 0xE6, 0xA4, 0xC8, 0x0C, 0xAD, 0xCC, 0xBB, 0x7F, 0x0A,
    ]

    /// The Initial keys of both directions, from the Destination Connection ID of the client's
    /// first Initial packet (RFC 9001 §5.2).
    public static func initial(destinationConnectionID: [UInt8]) -> (client: QUICPacketKeys, server: QUICPacketKeys) {
        let initialSecret = QUICKeySchedule.extract(salt: initialSalt, inputKeyMaterial: destinationConnectionID)
        let suite = QUICCipherSuite.aes128GCMSHA256
        let client = QUICKeySchedule.expandLabel(initialSecret, "client in", length: 32, suite: suite)
        let server = QUICKeySchedule.expandLabel(initialSecret, "server in", length: 32, suite: suite)
        return (QUICPacketKeys(secret: client, suite: suite), QUICPacketKeys(secret: server, suite: suite))
    }
}
