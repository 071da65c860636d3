import Foundation
internal import JWTKit
import Synchronization

/// One key a ``JWTAuthenticator`` verifies (and, when it holds the secret or private half, signs)
/// tokens with, bound to a single algorithm and optionally named by a key ID (`kid`).
///
/// ```swift
/// let keys = [
///     try JWTSigningKey.es256(pem: currentPrivateKeyPEM, kid: "2025-06"),
///     try JWTSigningKey.es256(pem: previousPublicKeyPEM, kid: "2025-01"),
/// ]
/// ```
///
/// The key is held as jwt-kit's key type (`HMACKey`, `Insecure.RSA.PublicKey`/`PrivateKey`,
/// `ES256PublicKey`/`ES256PrivateKey`), parsed and checked when the key is made; signatures are
/// made and checked by jwt-kit's signer for it.
public struct JWTSigningKey: Sendable {
    enum Material: Sendable {
        case hmacSHA256(HMACKey)
        case rsa(Insecure.RSA.PublicKey, privateKey: Insecure.RSA.PrivateKey?)
        case p256(ES256PublicKey, privateKey: ES256PrivateKey?)
    }

    /// The fewest bytes an HS256 secret may have: the size of the SHA-256 output, as RFC 7518 §3.2
    /// requires (and jwt-kit asserts).
    static let minimumSecretByteCount = 32

    let material: Material
    /// The key ID written to and matched against the token header's `kid`, if any.
    public let kid: String?

    /// The JWS algorithm this key is used with: `HS256`, `RS256` or `ES256`.
    public var algorithm: String {
        switch material {
        case .hmacSHA256: "HS256"
        case .rsa: "RS256"
        case .p256: "ES256"
        }
    }

    /// Whether this key can sign tokens (a secret or a private key), not only verify them.
    public var canSign: Bool {
        switch material {
        case .hmacSHA256: true
        case .rsa(_, let privateKey): privateKey != nil
        case .p256(_, let privateKey): privateKey != nil
        }
    }

    /// An HMAC-SHA256 key (`HS256`) made from the bytes of `secret`, which must be at least 32
    /// bytes long (RFC 7518 §3.2); use random bytes, not a password.
    ///
    /// - Throws: ``JWTKeyError/secretTooShort(minimumByteCount:)`` for a secret under 32 bytes.
    public static func hs256(secret: some DataProtocol, kid: String? = nil) throws -> Self {
        guard secret.count >= minimumSecretByteCount else {
            throw JWTKeyError.secretTooShort(minimumByteCount: minimumSecretByteCount)
        }
        return Self(material: .hmacSHA256(HMACKey(from: Array(secret))), kid: kid)
    }

    /// An HMAC-SHA256 key (`HS256`) made from the UTF-8 bytes of `secret`, which must be at least
    /// 32 bytes long (RFC 7518 §3.2); use random text, not a password.
    ///
    /// - Throws: ``JWTKeyError/secretTooShort(minimumByteCount:)`` for a secret under 32 bytes.
    public static func hs256(secret: String, kid: String? = nil) throws -> Self {
        try hs256(secret: Array(secret.utf8), kid: kid)
    }

    /// An RSA PKCS #1 v1.5 SHA-256 key (`RS256`) from a PEM private key (signs and verifies) or
    /// public key (verifies only). Keys under 2048 bits are refused.
    ///
    /// - Throws: ``JWTKeyError/invalidKey(algorithm:)`` when the PEM holds no usable RSA key.
    public static func rs256(pem: String, kid: String? = nil) throws -> Self {
        do {
            if pem.contains("PRIVATE KEY-----") {
                let privateKey = try Insecure.RSA.PrivateKey(pem: pem)
                return Self(material: .rsa(privateKey.publicKey, privateKey: privateKey), kid: kid)
            }
            return Self(material: .rsa(try Insecure.RSA.PublicKey(pem: pem), privateKey: nil), kid: kid)
        } catch {
            throw JWTKeyError.invalidKey(algorithm: "RS256")
        }
    }

    /// An ECDSA P-256 SHA-256 key (`ES256`) from a PEM private key (signs and verifies) or public
    /// key (verifies only).
    ///
    /// - Throws: ``JWTKeyError/invalidKey(algorithm:)`` when the PEM holds no P-256 key.
    public static func es256(pem: String, kid: String? = nil) throws -> Self {
        do {
            if pem.contains("PRIVATE KEY-----") {
                let privateKey = try ES256PrivateKey(pem: pem)
                return Self(material: .p256(privateKey.publicKey, privateKey: privateKey), kid: kid)
            }
            return Self(material: .p256(try ES256PublicKey(pem: pem), privateKey: nil), kid: kid)
        } catch {
            throw JWTKeyError.invalidKey(algorithm: "ES256")
        }
    }

    /// Whether this key's ID is `kid`, compared byte for byte (RFC 7515 §4.1.4: case-sensitive).
    func isNamed(_ kid: String) -> Bool {
        self.kid?.utf8.elementsEqual(kid.utf8) ?? false
    }

    /// Adds this key to `collection` under `id`: the private key when there is one, so that the
    /// signer jwt-kit makes for it can sign as well as verify.
    fileprivate func add(to collection: JWTKeyCollection, as id: JWKIdentifier) async {
        switch material {
        case .hmacSHA256(let key):
            await collection.add(hmac: key, digestAlgorithm: .sha256, kid: id)
        case .rsa(_, let privateKey?):
            await collection.add(rsa: privateKey, digestAlgorithm: .sha256, kid: id)
        case .rsa(let publicKey, nil):
            await collection.add(rsa: publicKey, digestAlgorithm: .sha256, kid: id)
        case .p256(_, let privateKey?):
            await collection.add(ecdsa: privateKey, kid: id)
        case .p256(let publicKey, nil):
            await collection.add(ecdsa: publicKey, kid: id)
        }
    }
}

/// jwt-kit's signers (its `JWTAlgorithm`s) for a list of keys, one for each, made on first use
/// and kept.
///
/// jwt-kit makes a signer only inside a `JWTKeyCollection`, an actor, and hands it out through
/// `getKey(for:)`. The keys are added to a collection of their own under their position in the
/// list (never under their `kid`: the key a token is checked with is chosen by
/// ``JWTAuthenticator``, not by the collection, which falls back to a default key), and the
/// signers taken out; after that, signing and verifying call them directly, with no actor hop.
final class JWTKitSigners: Sendable {
    private let keys: [JWTSigningKey]
    private let made = Mutex<[(any JWTAlgorithm)?]?>(nil)

    init(keys: [JWTSigningKey]) {
        self.keys = keys
    }

    /// The signer for each key, in the order of the keys (`nil` for one jwt-kit would not give).
    func signers() async -> [(any JWTAlgorithm)?] {
        if let signers = made.withLock({ $0 }) { return signers }
        let collection = JWTKeyCollection()
        var signers: [(any JWTAlgorithm)?] = []
        signers.reserveCapacity(keys.count)
        for (index, key) in keys.enumerated() {
            let id = JWKIdentifier(string: String(index))
            await key.add(to: collection, as: id)
            signers.append(try? await collection.getKey(for: id))
        }
        // Two first requests may both have made signers: keep the first ones stored.
        return made.withLock { stored in
            if let stored { return stored }
            stored = signers
            return signers
        }
    }
}

/// A problem with the keys given to a ``JWTAuthenticator``: a server configuration error, found
/// when a key is made or a token is signed (never the client's fault, so never a 401).
public enum JWTKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The PEM text holds no usable key for `algorithm`.
    case invalidKey(algorithm: String)
    /// The HS256 secret is shorter than `minimumByteCount` (32) bytes.
    case secretTooShort(minimumByteCount: Int)
    /// No configured key has this key ID.
    case unknownKeyID(String)
    /// The key (named by `kid`, if it has one) is a public key and cannot sign.
    case cannotSign(kid: String?)
    /// No configured key can sign: there is no secret and no private key.
    case noSigningKey

    /// A sentence saying what is wrong, without key material.
    public var description: String {
        switch self {
        case .invalidKey(let algorithm): "The PEM text holds no usable \(algorithm) key"
        case .secretTooShort(let minimum): "An HS256 secret must be at least \(minimum) bytes long (RFC 7518 §3.2)"
        case .unknownKeyID(let kid): "No JWT key has the key ID \"\(kid)\""
        case .cannotSign(let kid): "The JWT key\(kid.map { " \"\($0)\"" } ?? "") is a public key and cannot sign"
        case .noSigningKey: "No JWT key can sign: configure a secret or a private key"
        }
    }
}
