import Crypto
import CryptoExtras
import Foundation
import Testing

@testable import FasterAPIJWT

/// Tokens exchanged with PyJWT (the library FastAPI's security tutorial uses), both ways.
@Suite struct PyJWTInteropTests {
    static let issuer = "https://issuer.example"

    /// Claims as PyJWT is given them, valid for ten minutes.
    static func claims(sub: String, expiresIn seconds: Int = 600) -> [String: Any] {
        let now = Int(Date().timeIntervalSince1970)
        return [
            "sub": sub, "exp": now + seconds, "nbf": now - 10, "iat": now, "iss": issuer, "aud": ["web", "api"],
            "scope": "items:read items:write",
        ]
    }

    @Test func tokensSignedByPyJWTVerifyHere() async throws {
        let results = try await PyJWTPeer.run([
            ["op": "sign", "alg": "HS256", "key": TestKeys.secret, "claims": Self.claims(sub: "hs")],
            [
                "op": "sign", "alg": "ES256", "key": TestKeys.p256.pemRepresentation,
                "claims": Self.claims(sub: "es"), "headers": ["kid": "ec-1"],
            ],
            [
                "op": "sign", "alg": "RS256", "key": TestKeys.rsa.pkcs8PEMRepresentation,
                "claims": Self.claims(sub: "rs"),
            ],
            ["op": "sign", "alg": "HS256", "key": TestKeys.secret, "claims": Self.claims(sub: "old", expiresIn: -600)],
            [
                "op": "sign", "alg": "HS256", "key": "another-secret-that-is-32-bytes-long",
                "claims": Self.claims(sub: "forged"),
            ],
        ])
        let tokens = try results.map { try #require($0["token"] as? String) }
        let auth = JWTAuthenticator(
            keys: [
                try .hs256(secret: TestKeys.secret),
                try .es256(pem: TestKeys.p256.publicKey.pemRepresentation, kid: "ec-1"),
                try .rs256(pem: TestKeys.rsa.publicKey.pemRepresentation),
            ],
            issuer: Self.issuer, audience: "api")

        for (token, subject) in zip(tokens[0..<3], ["hs", "es", "rs"]) {
            let claims = try await auth.verify(token, as: StandardClaims.self)
            #expect(claims.sub == subject)
            #expect(claims.iss == Self.issuer)
            #expect(claims.aud == ["web", "api"])
            #expect(claims.scopes == ["items:read", "items:write"])
        }
        #expect(await rejection(tokens[3], by: auth) == "The token has expired")
        #expect(await rejection(tokens[4], by: auth) == "The token signature is invalid")
    }

    @Test func tokensSignedHereVerifyInPyJWT() async throws {
        let hs = JWTAuthenticator(keys: [try .hs256(secret: TestKeys.secret)])
        let es = JWTAuthenticator(keys: [try .es256(pem: TestKeys.p256.pemRepresentation, kid: "ec-1")])
        let rs = JWTAuthenticator(keys: [try .rs256(pem: TestKeys.rsa.pemRepresentation)])
        let now = Date()
        let claims = StandardClaims(
            sub: "alice", exp: now + 600, nbf: now - 10, iat: now, iss: Self.issuer, aud: ["api"], scope: "a b")
        var expired = claims
        expired.exp = now - 600
        var otherAudience = claims
        otherAudience.aud = ["web"]
        let hsToken = try await hs.sign(claims)
        let parts = hsToken.split(separator: ".")
        let tampered = "\(parts[0]).\(base64URL(#"{"sub":"mallory"}"#)).\(parts[2])"

        let verify = { (token: String, alg: String, key: String) -> [String: Any] in
            [
                "op": "verify", "token": token, "key": key, "algorithms": [alg], "audience": "api",
                "issuer": Self.issuer,
            ]
        }
        let results = try await PyJWTPeer.run([
            verify(hsToken, "HS256", TestKeys.secret),
            verify(try await es.sign(claims), "ES256", TestKeys.p256.publicKey.pemRepresentation),
            verify(try await rs.sign(claims), "RS256", TestKeys.rsa.publicKey.pemRepresentation),
            verify(try await hs.sign(expired), "HS256", TestKeys.secret),
            verify(try await hs.sign(otherAudience), "HS256", TestKeys.secret),
            verify(tampered, "HS256", TestKeys.secret),
        ])
        for result in results[0..<3] {
            let decoded = try #require(result["claims"] as? [String: Any], "\(result)")
            #expect(decoded["sub"] as? String == "alice")
            #expect(decoded["scope"] as? String == "a b")
            #expect(decoded["aud"] as? String == "api")
            #expect(decoded["exp"] as? Int == Int((now + 600).timeIntervalSince1970))
        }
        #expect(results[3]["error"] as? String == "ExpiredSignatureError")
        #expect(results[4]["error"] as? String == "InvalidAudienceError")
        #expect(results[5]["error"] as? String == "InvalidSignatureError")
    }
}
