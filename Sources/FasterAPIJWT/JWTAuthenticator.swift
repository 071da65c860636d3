/// FasterAPIJWT: JSON Web Tokens (RFC 7519) in JWS compact form (RFC 7515) signed with HS256,
/// RS256 or ES256 (RFC 7518), verified completely — signature, algorithm, expiry, not-before,
/// issuer, audience — with every rejection answered the way FastAPI's security tutorial does:
/// 401 `Could not validate credentials` with `WWW-Authenticate: Bearer error="invalid_token"`
/// (RFC 6750 §3). It owns tokens and keys; it must not know about routing, requests or sockets.
///
/// Signatures are made and checked by jwt-kit (its HMAC, RSA and ECDSA signers); everything around
/// them is done here, more strictly than jwt-kit's own `JWTKeyCollection.verify` does: parsing the
/// token, holding the header `alg` to the key's algorithm, choosing the key by `kid` without
/// falling back to a default key, and checking the registered claims.
import FasterAPI
import Foundation
internal import JWTKit

/// Verifies and signs JSON Web Tokens.
///
/// ```swift
/// let auth = JWTAuthenticator(keys: [try .hs256(secret: secret)], issuer: "https://api.example.com")
/// let token = try await auth.sign(StandardClaims(sub: "alice", exp: .now + 1800, iss: "https://api.example.com"))
/// let claims = try await auth.verify(token, as: StandardClaims.self)
/// ```
///
/// A token is accepted only when all of these hold, and otherwise ``verify(_:as:)`` throws an
/// `HTTPError` 401 whose `WWW-Authenticate` header says which one failed:
/// - it is three base64url parts whose header and payload are JSON objects, with no `crit` header;
/// - its header `alg` is the algorithm of a configured key (so `none`, and an HMAC token checked
///   against an RSA or EC public key, are refused);
/// - the signature is that of the key its `kid` names, which must be a key for that `alg`; without
///   a `kid`, of any key for that `alg`; with a `kid` no key has, of a key for that `alg` that has
///   no `kid` (and with no such key the token is refused as naming an unknown key);
/// - `exp`, when present, is later than now minus the leeway, and `nbf`, when present, is no later
///   than now plus the leeway;
/// - `iss` equals the configured issuer, when one is configured (a token without `iss` then fails);
/// - `aud` contains the configured audience, when one is configured; when none is, a token that
///   names an audience is refused, as RFC 7519 §4.1.3 requires;
/// - the payload decodes as the requested claims type.
public struct JWTAuthenticator: Sendable {
    /// The keys tokens are verified and signed with.
    public let keys: [JWTSigningKey]
    /// The `iss` every token must carry, if any.
    public let issuer: String?
    /// The value `aud` must contain, if any.
    public let audience: String?
    /// How far `exp` and `nbf` may be off, to allow for clock skew between servers.
    public let leeway: Duration
    private let leewaySeconds: Double
    /// jwt-kit's signer for each of ``keys``, in the same order.
    private let signers: JWTKitSigners

    /// An authenticator for `keys`, requiring `issuer` and `audience` when they are given and
    /// allowing `leeway` of clock skew (negative values count as zero). With no keys every token is
    /// refused. The keys' jwt-kit signers are made on first use.
    public init(keys: [JWTSigningKey], issuer: String? = nil, audience: String? = nil, leeway: Duration = .zero) {
        self.keys = keys
        self.signers = JWTKitSigners(keys: keys)
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        let (seconds, attoseconds) = leeway.components
        self.leewaySeconds = max(0, Double(seconds) + Double(attoseconds) * 1e-18)
    }

    /// The claims of `token` once it has passed every check listed on ``JWTAuthenticator``.
    ///
    /// - Throws: `HTTPError` 401 `Could not validate credentials`, with a
    ///   `WWW-Authenticate: Bearer error="invalid_token", error_description="…"` header naming the
    ///   check that failed.
    public func verify<Claims: JWTClaims>(_ token: String, as type: Claims.Type = Claims.self) async throws -> Claims {
        do {
            return try await verify(token, as: type, now: Date())
        } catch {
            throw error.httpError
        }
    }

    /// A signed token carrying `claims`, signed with the key named `kid` or, without one, the first
    /// key that can sign. The header names the key's `kid` when it has one.
    ///
    /// - Throws: ``JWTKeyError`` when no suitable key is configured.
    public func sign<Claims: JWTClaims>(_ claims: Claims, kid: String? = nil) async throws -> String {
        let index: Int
        if let kid {
            guard let named = keys.firstIndex(where: { $0.isNamed(kid) }) else { throw JWTKeyError.unknownKeyID(kid) }
            guard keys[named].canSign else { throw JWTKeyError.cannotSign(kid: kid) }
            index = named
        } else {
            guard let first = keys.firstIndex(where: \.canSign) else { throw JWTKeyError.noSigningKey }
            index = first
        }
        let key = keys[index]
        guard let signer = await signers.signers()[index] else {
            throw JWTKeyError.invalidKey(algorithm: key.algorithm)
        }
        var token: [UInt8] = []
        Base64URL.encode(try JSONCoders.encoder.encode(SignedHeader(alg: key.algorithm, kid: key.kid)), into: &token)
        token.append(.period)
        Base64URL.encode(try JSONCoders.encoder.encode(claims), into: &token)
        let signature = try signer.sign(token)
        token.append(.period)
        Base64URL.encode(signature, into: &token)
        return String(decoding: token, as: UTF8.self)
    }

    /// ``verify(_:as:)`` at a given time, reporting why a token was refused.
    func verify<Claims: JWTClaims>(
        _ token: String, as type: Claims.Type, now: Date
    ) async throws(JWTVerificationFailure) -> Claims {
        let bytes = Array(token.utf8)
        guard let firstPeriod = bytes.firstIndex(of: .period),
            let secondPeriod = bytes[(firstPeriod + 1)...].firstIndex(of: .period),
            !bytes[(secondPeriod + 1)...].contains(.period),
            let headerJSON = Base64URL.decode(bytes[..<firstPeriod]),
            let payloadJSON = Base64URL.decode(bytes[(firstPeriod + 1)..<secondPeriod]),
            let signature = Base64URL.decode(bytes[(secondPeriod + 1)...]),
            let header = try? JSONCoders.decoder.decode(ReceivedHeader.self, from: Data(headerJSON))
        else { throw .malformed }
        guard header.crit == nil else { throw .unsupportedCriticalHeader }

        let signingInput = bytes[..<secondPeriod]
        guard keys.contains(where: { $0.algorithm == header.alg }) else { throw .algorithmNotAllowed }
        let signers = await self.signers.signers()
        if let kid = header.kid, let index = keys.firstIndex(where: { $0.isNamed(kid) }) {
            guard keys[index].algorithm == header.alg else { throw .algorithmNotAllowed }
            guard Self.isValid(signature, of: signingInput, by: signers[index]) else { throw .badSignature }
        } else {
            // No kid: any key of the algorithm may have signed. A kid no key has: only keys
            // without a kid of their own may have.
            let kidIsUnknown = header.kid != nil
            var candidates = 0
            var signed = false
            for (index, key) in keys.enumerated()
            where key.algorithm == header.alg && !(kidIsUnknown && key.kid != nil) {
                candidates += 1
                if Self.isValid(signature, of: signingInput, by: signers[index]) {
                    signed = true
                    break
                }
            }
            guard candidates > 0 else { throw .unknownKeyID }
            guard signed else { throw .badSignature }
        }

        let payload = Data(payloadJSON)
        guard let registered = try? JSONCoders.decoder.decode(RegisteredClaims.self, from: payload) else {
            throw .malformed
        }
        try check(registered, now: now.timeIntervalSince1970)
        guard let claims = try? JSONCoders.decoder.decode(Claims.self, from: payload) else { throw .invalidClaims }
        return claims
    }

    /// Whether jwt-kit's `signer` finds `signature` to be its signature of `input`. jwt-kit compares
    /// HMAC codes in constant time; a signature it cannot even read (an ECDSA one of the wrong
    /// length) is simply not valid.
    private static func isValid(
        _ signature: [UInt8], of input: ArraySlice<UInt8>, by signer: (any JWTAlgorithm)?
    ) -> Bool {
        guard let signer else { return false }
        return (try? signer.verify(signature, signs: input)) ?? false
    }

    /// Checks the time, issuer and audience claims.
    private func check(_ claims: RegisteredClaims, now: Double) throws(JWTVerificationFailure) {
        if let exp = claims.exp, now >= exp + leewaySeconds { throw .expired }
        if let nbf = claims.nbf, now + leewaySeconds < nbf { throw .notYetValid }
        if let issuer {
            // StringOrURI values compare byte for byte (RFC 7519 §2), not by Unicode equivalence.
            guard let iss = claims.iss else { throw .missingIssuer }
            guard iss.utf8.elementsEqual(issuer.utf8) else { throw .wrongIssuer }
        }
        if let audience {
            guard !claims.aud.isEmpty else { throw .missingAudience }
            guard claims.aud.contains(where: { $0.utf8.elementsEqual(audience.utf8) }) else { throw .wrongAudience }
        } else if !claims.aud.isEmpty {
            throw .unexpectedAudience
        }
    }
}

/// Why a token was refused; the raw value is the `error_description` sent to the client, which
/// names the failed check and nothing from the token or the keys.
enum JWTVerificationFailure: String, Error {
    case malformed = "The token is malformed"
    case unsupportedCriticalHeader = "The token has a critical header that is not supported"
    case algorithmNotAllowed = "The token algorithm is not allowed"
    case unknownKeyID = "The token key ID is unknown"
    case badSignature = "The token signature is invalid"
    case expired = "The token has expired"
    case notYetValid = "The token is not yet valid"
    case missingIssuer = "The token has no issuer"
    case wrongIssuer = "The token has the wrong issuer"
    case missingAudience = "The token has no audience"
    case wrongAudience = "The token has the wrong audience"
    case unexpectedAudience = "The token has an audience but none is accepted"
    case invalidClaims = "The token claims are invalid"

    /// The 401 answer FastAPI's security tutorial gives, with this failure described.
    var httpError: HTTPError {
        HTTPError(
            .unauthorized, detail: "Could not validate credentials",
            headers: HTTPHeaders([
                ("WWW-Authenticate", "Bearer error=\"invalid_token\", error_description=\"\(rawValue)\"")
            ]))
    }
}

/// The header fields verification reads; any others are ignored.
private struct ReceivedHeader: Decodable {
    var alg: String
    var kid: String?
    var crit: [String]?
}

/// The header of a token this module signs.
private struct SignedHeader: Encodable {
    var alg: String
    var typ = "JWT"
    var kid: String?
}

/// The registered claims verification checks, read strictly from the payload: a claim that is
/// present must have its registered type, `null` included.
private struct RegisteredClaims: Decodable {
    var exp: Double?
    var nbf: Double?
    var iss: String?
    var aud: [String] = []

    enum CodingKeys: String, CodingKey { case exp, nbf, iss, aud }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if container.contains(.exp) {
            exp = try container.decode(NumericDate.self, forKey: .exp).date.timeIntervalSince1970
        }
        if container.contains(.nbf) {
            nbf = try container.decode(NumericDate.self, forKey: .nbf).date.timeIntervalSince1970
        }
        if container.contains(.iss) { iss = try container.decode(String.self, forKey: .iss) }
        if container.contains(.aud) { aud = try container.decode(Audience.self, forKey: .aud).values }
    }
}

/// The JSON coders for headers and claims, made once: dates are seconds since 1970.
enum JSONCoders {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }()

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = .withoutEscapingSlashes
        return encoder
    }()
}

extension UInt8 {
    fileprivate static let period = UInt8(ascii: ".")
}
