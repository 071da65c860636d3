import Crypto
import CryptoExtras
import FasterAPI
import Foundation
import Testing

@testable import FasterAPIJWT

/// Claims with every registered field set, valid for the next hour.
private func fullClaims(now: Date = Date()) -> StandardClaims {
    StandardClaims(
        sub: "alice", exp: now + 3600, nbf: now - 60, iat: now, iss: "https://issuer.example",
        aud: ["api"], scope: "items:read items:write")
}

/// The JSON object a token part holds.
private func jsonObject(_ part: Substring) throws -> [String: Any] {
    let data = try #require(Data(base64Encoded: base64Padded(part)))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

@Suite struct RoundTripTests {
    @Test func hs256SignsAndVerifies() async throws {
        let auth = JWTAuthenticator(
            keys: [try .hs256(secret: TestKeys.secret)], issuer: "https://issuer.example", audience: "api")
        let claims = fullClaims()
        let token = try await auth.sign(claims)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count == 3)
        let header = try jsonObject(parts[0])
        #expect(header["alg"] as? String == "HS256")
        #expect(header["typ"] as? String == "JWT")
        #expect(header["kid"] == nil)
        let payload = try jsonObject(parts[1])
        #expect(payload["exp"] as? Int == Int(claims.exp!.timeIntervalSince1970))
        #expect(payload["aud"] as? String == "api")

        let verified = try await auth.verify(token, as: StandardClaims.self)
        #expect(verified.sub == "alice")
        #expect(verified.iss == "https://issuer.example")
        #expect(verified.aud == ["api"])
        #expect(verified.scopes == ["items:read", "items:write"])
        #expect(verified.exp == Date(timeIntervalSince1970: claims.exp!.timeIntervalSince1970.rounded(.down)))
        #expect(verified.subject == "alice")
        #expect(verified.audience == ["api"])
    }

    @Test func rs256SignsWithThePrivateKeyAndVerifiesWithThePublicKey() async throws {
        let signer = JWTAuthenticator(keys: [try .rs256(pem: TestKeys.rsa.pemRepresentation)])
        let verifier = JWTAuthenticator(keys: [try .rs256(pem: TestKeys.rsa.publicKey.pemRepresentation)])
        let token = try await signer.sign(StandardClaims(sub: "bob", exp: Date() + 60))
        #expect(try jsonObject(token.split(separator: ".")[0])["alg"] as? String == "RS256")
        #expect(try await verifier.verify(token, as: StandardClaims.self).sub == "bob")
        #expect(try await signer.verify(token, as: StandardClaims.self).sub == "bob")
    }

    @Test func rs256AcceptsPKCS1PEMs() async throws {
        let signer = JWTAuthenticator(keys: [try .rs256(pem: TestKeys.rsa.pkcs8PEMRepresentation)])
        let verifier = JWTAuthenticator(keys: [try .rs256(pem: TestKeys.rsa.publicKey.pkcs1PEMRepresentation)])
        let token = try await signer.sign(StandardClaims(sub: "bob"))
        #expect(try await verifier.verify(token, as: StandardClaims.self).sub == "bob")
    }

    @Test func es256SignsWithThePrivateKeyAndVerifiesWithThePublicKey() async throws {
        let signer = JWTAuthenticator(keys: [try .es256(pem: TestKeys.p256.pemRepresentation)])
        let verifier = JWTAuthenticator(keys: [try .es256(pem: TestKeys.p256.publicKey.pemRepresentation)])
        let token = try await signer.sign(StandardClaims(sub: "carol", scope: "admin"))
        let signature = try #require(Data(base64Encoded: base64Padded(token.split(separator: ".")[2])))
        #expect(signature.count == 64, "ES256 signatures are raw r || s")
        let verified = try await verifier.verify(token, as: StandardClaims.self)
        #expect(verified.sub == "carol")
        #expect(verified.scopes == ["admin"])
    }

    @Test func customClaimsTypesRoundTripWithDates() async throws {
        struct Session: JWTClaims, Equatable {
            var sub: String
            var exp: Date
            var roles: [String]
            var subject: String? { sub }
            var expiresAt: Date? { exp }
        }
        let auth = JWTAuthenticator(keys: [try .hs256(secret: Array(TestKeys.secret.utf8))])
        let session = Session(sub: "dave", exp: Date(timeIntervalSince1970: 4_000_000_000), roles: ["a", "b"])
        let token = try await auth.sign(session)
        #expect(try jsonObject(token.split(separator: ".")[1])["exp"] as? Int == 4_000_000_000)
        #expect(try await auth.verify(token, as: Session.self) == session)
        #expect(session.issuer == nil && session.audience.isEmpty)
    }

    @Test func verifiesTheRFC7515HS256Example() async throws {
        // RFC 7515 Appendix A.1: the key is the JWK `k`, and the token expired in 2011.
        let key = try #require(
            Base64URL.decode(
                Array("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow".utf8)))
        let token =
            "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
            + ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
            + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        let auth = JWTAuthenticator(keys: [try .hs256(secret: key)], issuer: "joe")
        let claims = try await auth.verify(
            token, as: StandardClaims.self, now: Date(timeIntervalSince1970: 1_300_819_000))
        #expect(claims.iss == "joe")
        #expect(claims.exp == Date(timeIntervalSince1970: 1_300_819_380))
        await #expect(throws: JWTVerificationFailure.expired) {
            try await auth.verify(token, as: StandardClaims.self, now: Date(timeIntervalSince1970: 1_300_819_380))
        }
    }

    @Test func aNewAuthenticatorVerifiesConcurrentFirstRequests() async throws {
        // jwt-kit's signers are made on first use; requests racing to be first must all get them.
        let token = try await JWTAuthenticator(keys: [try .es256(pem: TestKeys.p256.pemRepresentation)])
            .sign(StandardClaims(sub: "a"))
        let fresh = JWTAuthenticator(keys: [
            try .hs256(secret: TestKeys.secret), try .es256(pem: TestKeys.p256.publicKey.pemRepresentation),
        ])
        let subjects = try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<16 { group.addTask { try await fresh.verify(token, as: StandardClaims.self).sub } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(subjects == Array(repeating: "a", count: 16))
    }

    @Test func keysAreChosenByKidAndTriedInTurnWithoutOne() async throws {
        let old = try JWTSigningKey.hs256(secret: "an-old-secret-that-is-32-bytes-long!", kid: "old")
        let new = try JWTSigningKey.hs256(secret: "a-new-secret-that-is-32-bytes-long!!", kid: "new")
        let auth = JWTAuthenticator(keys: [new, old])
        let byNew = try await auth.sign(StandardClaims(sub: "n"))
        let byOld = try await auth.sign(StandardClaims(sub: "o"), kid: "old")
        #expect(try jsonObject(byNew.split(separator: ".")[0])["kid"] as? String == "new")
        #expect(try jsonObject(byOld.split(separator: ".")[0])["kid"] as? String == "old")
        #expect(try await auth.verify(byNew, as: StandardClaims.self).sub == "n")
        #expect(try await auth.verify(byOld, as: StandardClaims.self).sub == "o")

        // A token without a kid (as another issuer might send) is checked against each HS256 key.
        let unnamed = craftToken(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"u"}"#) {
            hmacSHA256($0, secret: Array("an-old-secret-that-is-32-bytes-long!".utf8))
        }
        #expect(try await auth.verify(unnamed, as: StandardClaims.self).sub == "u")
    }
}

@Suite struct ClaimCheckTests {
    let auth: JWTAuthenticator

    init() throws { auth = JWTAuthenticator(keys: [try .hs256(secret: TestKeys.secret)]) }

    @Test func expiredTokensAreRefused() async throws {
        let token = try await auth.sign(StandardClaims(sub: "a", exp: Date() - 60))
        #expect(await rejection(token, by: auth) == "The token has expired")
    }

    @Test func tokensExpiringNowAreRefused() async throws {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let token = craftToken(header: #"{"alg":"HS256"}"#, payload: #"{"exp":1700000000}"#) {
            hmacSHA256($0, secret: Array(TestKeys.secret.utf8))
        }
        await #expect(throws: JWTVerificationFailure.expired) {
            try await auth.verify(token, as: StandardClaims.self, now: now)
        }
        #expect(try await auth.verify(token, as: StandardClaims.self, now: now - 1).exp == now)
    }

    @Test func tokensNotYetValidAreRefused() async throws {
        let token = try await auth.sign(StandardClaims(sub: "a", nbf: Date() + 60))
        #expect(await rejection(token, by: auth) == "The token is not yet valid")
    }

    @Test func leewayAcceptsAJustExpiredOrAlmostValidToken() async throws {
        let lenient = JWTAuthenticator(keys: [try .hs256(secret: TestKeys.secret)], leeway: .seconds(30))
        let expired = try await auth.sign(StandardClaims(sub: "a", exp: Date() - 5))
        let early = try await auth.sign(StandardClaims(sub: "a", nbf: Date() + 5))
        #expect(await rejection(expired, by: auth) == "The token has expired")
        #expect(await rejection(early, by: auth) == "The token is not yet valid")
        #expect(try await lenient.verify(expired, as: StandardClaims.self).sub == "a")
        #expect(try await lenient.verify(early, as: StandardClaims.self).sub == "a")
        let longExpired = try await auth.sign(StandardClaims(sub: "a", exp: Date() - 120))
        #expect(await rejection(longExpired, by: lenient) == "The token has expired")
    }

    @Test func theConfiguredIssuerIsRequired() async throws {
        let strict = JWTAuthenticator(keys: [try .hs256(secret: TestKeys.secret)], issuer: "https://issuer.example")
        let right = try await auth.sign(StandardClaims(sub: "a", iss: "https://issuer.example"))
        let wrong = try await auth.sign(StandardClaims(sub: "a", iss: "https://evil.example"))
        let missing = try await auth.sign(StandardClaims(sub: "a"))
        #expect(try await strict.verify(right, as: StandardClaims.self).iss == "https://issuer.example")
        #expect(await rejection(wrong, by: strict) == "The token has the wrong issuer")
        #expect(await rejection(missing, by: strict) == "The token has no issuer")
        // Without a configured issuer any issuer is accepted.
        #expect(try await auth.verify(wrong, as: StandardClaims.self).iss == "https://evil.example")
    }

    @Test func issuersCompareByteForByte() async throws {
        // "é" precomposed and decomposed are equal Swift strings, but not equal StringOrURIs.
        let strict = JWTAuthenticator(keys: [try .hs256(secret: TestKeys.secret)], issuer: "caf\u{E9}")
        let token = try await auth.sign(StandardClaims(iss: "cafe\u{301}"))
        #expect(await rejection(token, by: strict) == "The token has the wrong issuer")
    }

    @Test func theConfiguredAudienceMustBeNamed() async throws {
        let strict = JWTAuthenticator(keys: [try .hs256(secret: TestKeys.secret)], audience: "api")
        let single = try await auth.sign(StandardClaims(aud: ["api"]))
        let among = try await auth.sign(StandardClaims(aud: ["web", "api"]))
        let wrong = try await auth.sign(StandardClaims(aud: ["web"]))
        let wrongList = try await auth.sign(StandardClaims(aud: ["web", "mobile"]))
        let missing = try await auth.sign(StandardClaims(sub: "a"))
        #expect(try await strict.verify(single, as: StandardClaims.self).aud == ["api"])
        #expect(try await strict.verify(among, as: StandardClaims.self).aud == ["web", "api"])
        #expect(await rejection(wrong, by: strict) == "The token has the wrong audience")
        #expect(await rejection(wrongList, by: strict) == "The token has the wrong audience")
        #expect(await rejection(missing, by: strict) == "The token has no audience")
    }

    @Test func anAudienceIsRefusedWhenNoneIsConfigured() async throws {
        let token = try await auth.sign(StandardClaims(sub: "a", aud: ["api"]))
        #expect(await rejection(token, by: auth) == "The token has an audience but none is accepted")
    }

    @Test func registeredClaimsOfTheWrongTypeAreRefused() async throws {
        for payload in [
            #"{"exp":"4000000000"}"#, #"{"exp":null}"#, #"{"nbf":true}"#, #"{"iss":42}"#, #"{"aud":[1]}"#,
            #"{"aud":{"x":1}}"#, "[1,2]", "not json",
        ] {
            let token = craftToken(header: #"{"alg":"HS256"}"#, payload: payload) {
                hmacSHA256($0, secret: Array(TestKeys.secret.utf8))
            }
            #expect(await rejection(token, by: auth) == "The token is malformed", "\(payload)")
        }
    }

    @Test func claimsThatDoNotFitTheRequestedTypeAreRefused() async throws {
        struct NeedsRole: JWTClaims { var role: String }
        let token = try await auth.sign(StandardClaims(sub: "a"))
        #expect(await rejection(token, by: auth, as: NeedsRole.self) == "The token claims are invalid")
    }

    @Test func theChallengeHeaderHasRFC6750Form() async throws {
        let token = try await auth.sign(StandardClaims(exp: Date() - 60))
        await #expect {
            try await auth.verify(token, as: StandardClaims.self)
        } throws: { error in
            guard let error = error as? HTTPError else { return false }
            return error.status == .unauthorized
                && error.headers["WWW-Authenticate"]
                    == #"Bearer error="invalid_token", error_description="The token has expired""#
                && error.response.status == .unauthorized
        }
    }
}

@Suite struct AttackTests {
    let auth: JWTAuthenticator

    init() throws { auth = JWTAuthenticator(keys: [try .hs256(secret: TestKeys.secret)]) }

    @Test func aTamperedPayloadIsRefused() async throws {
        for key in [
            try JWTSigningKey.hs256(secret: TestKeys.secret), try .rs256(pem: TestKeys.rsa.pemRepresentation),
            try .es256(pem: TestKeys.p256.pemRepresentation),
        ] {
            let auth = JWTAuthenticator(keys: [key])
            let token = try await auth.sign(StandardClaims(sub: "alice", scope: "read"))
            let parts = token.split(separator: ".")
            let forged = [String(parts[0]), base64URL(#"{"sub":"alice","scope":"read admin"}"#), String(parts[2])]
            #expect(await rejection(forged.joined(separator: "."), by: auth) == "The token signature is invalid")
        }
    }

    @Test func aTamperedSignatureIsRefused() async throws {
        for key in [
            try JWTSigningKey.hs256(secret: TestKeys.secret), try .rs256(pem: TestKeys.rsa.pemRepresentation),
            try .es256(pem: TestKeys.p256.pemRepresentation),
        ] {
            let auth = JWTAuthenticator(keys: [key])
            let token = try await auth.sign(StandardClaims(sub: "alice"))
            let parts = token.split(separator: ".")
            var signature = try #require(Data(base64Encoded: base64Padded(parts[2])))
            signature[signature.count / 2] ^= 0x01
            let flipped = "\(parts[0]).\(parts[1]).\(base64URL(signature))"
            let truncated = "\(parts[0]).\(parts[1]).\(base64URL(signature.dropLast()))"
            let empty = "\(parts[0]).\(parts[1])."
            for forged in [flipped, truncated, empty] {
                #expect(await rejection(forged, by: auth) == "The token signature is invalid", "\(key.algorithm)")
            }
        }
    }

    @Test func algNoneIsRefused() async throws {
        for alg in ["none", "None", "NONE", "nOnE"] {
            let token = craftToken(header: #"{"alg":"\#(alg)","typ":"JWT"}"#, payload: #"{"sub":"admin"}"#) { _ in [] }
            #expect(await rejection(token, by: auth) == "The token algorithm is not allowed")
            let signed = craftToken(header: #"{"alg":"\#(alg)"}"#, payload: #"{"sub":"admin"}"#) {
                hmacSHA256($0, secret: Array(TestKeys.secret.utf8))
            }
            #expect(await rejection(signed, by: auth) == "The token algorithm is not allowed")
        }
    }

    @Test func anHMACTokenKeyedWithThePublicKeyIsRefused() async throws {
        // The classic confusion: the attacker signs HS256 with the server's public key PEM as the secret.
        let publicPEM = TestKeys.rsa.publicKey.pemRepresentation
        let rsaOnly = JWTAuthenticator(keys: [try .rs256(pem: publicPEM, kid: "rsa")])
        for header in [#"{"alg":"HS256","typ":"JWT"}"#, #"{"alg":"HS256","kid":"rsa"}"#] {
            let forged = craftToken(header: header, payload: #"{"sub":"admin"}"#) {
                hmacSHA256($0, secret: Array(publicPEM.utf8))
            }
            #expect(await rejection(forged, by: rsaOnly) == "The token algorithm is not allowed")
        }
        let ecPEM = TestKeys.p256.publicKey.pemRepresentation
        let ecOnly = JWTAuthenticator(keys: [try .es256(pem: ecPEM)])
        let forged = craftToken(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"admin"}"#) {
            hmacSHA256($0, secret: Array(ecPEM.utf8))
        }
        #expect(await rejection(forged, by: ecOnly) == "The token algorithm is not allowed")
    }

    @Test func aKeyIsUsedOnlyWithItsOwnAlgorithm() async throws {
        // Both an HS256 and an RS256 key are configured: a token naming the RSA key's kid but
        // claiming HS256 (keyed with the public PEM) must not be checked with any HMAC key.
        let publicPEM = TestKeys.rsa.publicKey.pemRepresentation
        let mixed = JWTAuthenticator(keys: [
            try .hs256(secret: TestKeys.secret, kid: "hmac"), try .rs256(pem: publicPEM, kid: "rsa"),
        ])
        let forged = craftToken(header: #"{"alg":"HS256","kid":"rsa"}"#, payload: #"{"sub":"admin"}"#) {
            hmacSHA256($0, secret: Array(publicPEM.utf8))
        }
        #expect(await rejection(forged, by: mixed) == "The token algorithm is not allowed")

        // And the other way: an RS256 token is refused where only HMAC keys are configured.
        let rsaToken = try await JWTAuthenticator(keys: [try .rs256(pem: TestKeys.rsa.pemRepresentation)])
            .sign(StandardClaims(sub: "a"))
        #expect(await rejection(rsaToken, by: auth) == "The token algorithm is not allowed")
        let esToken = try await JWTAuthenticator(keys: [try .es256(pem: TestKeys.p256.pemRepresentation)])
            .sign(StandardClaims(sub: "a"))
        let rsaVerifier = JWTAuthenticator(keys: [try .rs256(pem: publicPEM)])
        #expect(await rejection(esToken, by: rsaVerifier) == "The token algorithm is not allowed")
    }

    @Test func anUnknownKidIsRefused() async throws {
        let signer = JWTAuthenticator(keys: [try .hs256(secret: TestKeys.secret, kid: "a")])
        let verifier = JWTAuthenticator(keys: [try .hs256(secret: TestKeys.secret, kid: "b")])
        let token = try await signer.sign(StandardClaims(sub: "x"))
        #expect(await rejection(token, by: verifier) == "The token key ID is unknown")
        // Key IDs are case-sensitive.
        let upper = try await JWTAuthenticator(keys: [try .hs256(secret: TestKeys.secret, kid: "B")]).sign(
            StandardClaims())
        #expect(await rejection(upper, by: verifier) == "The token key ID is unknown")
        // A key configured without an ID still checks tokens whose ID no key has.
        let unnamed = JWTAuthenticator(keys: [
            try .hs256(secret: TestKeys.secret, kid: "b"), try .hs256(secret: TestKeys.secret),
        ])
        #expect(try await unnamed.verify(token, as: StandardClaims.self).sub == "x")
        let otherSecret = JWTAuthenticator(keys: [try .hs256(secret: "a-different-secret-of-32-bytes-or-more")])
        #expect(await rejection(token, by: otherSecret) == "The token signature is invalid")
    }

    @Test func criticalHeadersAreRefused() async throws {
        let token = craftToken(header: #"{"alg":"HS256","crit":["b64"],"b64":false}"#, payload: #"{"sub":"a"}"#) {
            hmacSHA256($0, secret: Array(TestKeys.secret.utf8))
        }
        #expect(await rejection(token, by: auth) == "The token has a critical header that is not supported")
    }

    @Test func malformedTokensAreRefused() async throws {
        let valid = try await auth.sign(StandardClaims(sub: "a"))
        let parts = valid.split(separator: ".").map(String.init)
        let signed = { (header: String) in
            craftToken(header: header, payload: #"{"sub":"a"}"#) { hmacSHA256($0, secret: Array(TestKeys.secret.utf8)) }
        }
        let malformed = [
            "", ".", "..", "...", "abc", "\(parts[0]).\(parts[1])", "\(valid).\(parts[2])", "\(valid).",
            "\(parts[0])!.\(parts[1]).\(parts[2])",  // not base64url
            "\(parts[0]).\(parts[1])=.\(parts[2])",  // padding
            "\(parts[0]).\(parts[1]).\(parts[2])+",  // standard alphabet
            " \(valid)",
            "\(parts[0]).\(parts[1]).\(parts[2].dropLast(2))",  // a length no encoding has
            signed("not json"), signed("[]"), signed(#"{"typ":"JWT"}"#), signed(#"{"alg":256}"#),
            signed(#"{"alg":"HS256","kid":7}"#), signed(""),
        ]
        for token in malformed {
            #expect(await rejection(token, by: auth) == "The token is malformed", "\(token)")
        }
    }

    @Test func hmacSignaturesMustMatchExactly() async throws {
        // HS256 is checked by jwt-kit (a constant-time compare): it must agree with an HMAC made
        // directly with swift-crypto, and refuse a prefix, an extension or a changed byte of it.
        let header = base64URL(#"{"alg":"HS256"}"#)
        let payload = base64URL(#"{"sub":"a"}"#)
        let good = hmacSHA256("\(header).\(payload)", secret: Array(TestKeys.secret.utf8))
        let token = { (signature: [UInt8]) in "\(header).\(payload).\(base64URL(signature))" }
        #expect(try await auth.verify(token(good), as: StandardClaims.self).sub == "a")
        for bad in [Array(good.dropLast()), good + [0], good.map { $0 ^ 0x80 }, [UInt8](repeating: 0, count: 32)] {
            #expect(await rejection(token(bad), by: auth) == "The token signature is invalid")
        }
    }
}

@Suite struct KeyTests {
    @Test func signingNeedsASecretOrPrivateKey() async throws {
        let publicOnly = JWTAuthenticator(keys: [try .es256(pem: TestKeys.p256.publicKey.pemRepresentation, kid: "p")])
        await #expect(throws: JWTKeyError.noSigningKey) { try await publicOnly.sign(StandardClaims()) }
        await #expect(throws: JWTKeyError.cannotSign(kid: "p")) {
            try await publicOnly.sign(StandardClaims(), kid: "p")
        }
        await #expect(throws: JWTKeyError.unknownKeyID("q")) { try await publicOnly.sign(StandardClaims(), kid: "q") }
        await #expect(throws: JWTKeyError.noSigningKey) { try await JWTAuthenticator(keys: []).sign(StandardClaims()) }
    }

    @Test func signingSkipsPublicKeysToTheFirstThatCanSign() async throws {
        let auth = JWTAuthenticator(keys: [
            try .rs256(pem: TestKeys.rsa.publicKey.pemRepresentation, kid: "pub"),
            try .es256(pem: TestKeys.p256.pemRepresentation, kid: "ec"),
        ])
        let token = try await auth.sign(StandardClaims(sub: "a"))
        let header = try jsonObject(token.split(separator: ".")[0])
        #expect(header["alg"] as? String == "ES256")
        #expect(header["kid"] as? String == "ec")
        #expect(try await auth.verify(token, as: StandardClaims.self).sub == "a")
    }

    @Test func unusablePEMsAreRefused() throws {
        #expect(throws: JWTKeyError.invalidKey(algorithm: "RS256")) { try JWTSigningKey.rs256(pem: "not a key") }
        #expect(throws: JWTKeyError.invalidKey(algorithm: "ES256")) { try JWTSigningKey.es256(pem: "not a key") }
        #expect(throws: JWTKeyError.invalidKey(algorithm: "ES256")) {
            try JWTSigningKey.es256(pem: TestKeys.rsa.publicKey.pemRepresentation)
        }
        #expect(throws: JWTKeyError.invalidKey(algorithm: "RS256")) {
            try JWTSigningKey.rs256(pem: TestKeys.p256.pemRepresentation)
        }
        let small = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        #expect(throws: JWTKeyError.invalidKey(algorithm: "RS256")) {
            try JWTSigningKey.rs256(pem: small.publicKey.pemRepresentation)
        }
    }

    @Test func hs256SecretsShorterThan32BytesAreRefused() throws {
        // RFC 7518 §3.2 requires a key as long as the hash; jwt-kit only asserts it (in debug builds).
        for secret in ["", "s", String(repeating: "x", count: 31)] {
            #expect(throws: JWTKeyError.secretTooShort(minimumByteCount: 32)) {
                try JWTSigningKey.hs256(secret: secret)
            }
            #expect(throws: JWTKeyError.secretTooShort(minimumByteCount: 32)) {
                try JWTSigningKey.hs256(secret: Array(secret.utf8))
            }
        }
        // Bytes count, not characters: 16 two-byte characters are 32 bytes.
        #expect(try JWTSigningKey.hs256(secret: String(repeating: "\u{E9}", count: 16)).algorithm == "HS256")
        #expect(try JWTSigningKey.hs256(secret: [UInt8](repeating: 7, count: 32)).canSign)
        #expect(
            JWTKeyError.secretTooShort(minimumByteCount: 32).description
                == "An HS256 secret must be at least 32 bytes long (RFC 7518 §3.2)")
    }

    @Test func keysReportTheirAlgorithmAndKid() throws {
        let hmac = try JWTSigningKey.hs256(secret: TestKeys.secret, kid: "h")
        let rsa = try JWTSigningKey.rs256(pem: TestKeys.rsa.publicKey.pemRepresentation)
        let ec = try JWTSigningKey.es256(pem: TestKeys.p256.pemRepresentation)
        #expect([hmac.algorithm, rsa.algorithm, ec.algorithm] == ["HS256", "RS256", "ES256"])
        #expect(hmac.kid == "h" && rsa.kid == nil)
        #expect(hmac.canSign && !rsa.canSign && ec.canSign)
        #expect(JWTKeyError.cannotSign(kid: "h").description == #"The JWT key "h" is a public key and cannot sign"#)
    }
}

@Suite struct EncodingTests {
    @Test func base64URLMatchesFoundation() throws {
        var bytes: [UInt8] = []
        for length in 0..<70 {
            let encoded = Base64URL.encode(bytes)
            #expect(encoded == base64URL(bytes))
            #expect(Base64URL.decode(Array(encoded.utf8)) == bytes)
            bytes.append(UInt8(truncatingIfNeeded: length &* 97 &+ 13))
        }
    }

    @Test func base64URLRejectsNonCanonicalText() {
        #expect(Base64URL.decode(Array("QQ".utf8)) == [0x41])
        #expect(Base64URL.decode(Array("QR".utf8)) == nil)  // unused bits set
        #expect(Base64URL.decode(Array("QUI".utf8)) == [0x41, 0x42])
        #expect(Base64URL.decode(Array("QUJ".utf8)) == nil)
        #expect(Base64URL.decode(Array("QQ==".utf8)) == nil)
        #expect(Base64URL.decode(Array("Q".utf8)) == nil)
        #expect(Base64URL.decode(Array("Q+/A".utf8)) == nil)
        #expect(Base64URL.decode(Array("-_-_".utf8)) == [0xFB, 0xFF, 0xBF])
        #expect(Base64URL.decode([]) == [])
    }

    @Test func standardClaimsReadAudienceAsStringOrArray() throws {
        let decoder = JSONDecoder()
        let single = try decoder.decode(StandardClaims.self, from: Data(#"{"aud":"api","exp":1.5e9}"#.utf8))
        #expect(single.aud == ["api"])
        #expect(single.exp == Date(timeIntervalSince1970: 1.5e9))
        let many = try decoder.decode(StandardClaims.self, from: Data(#"{"aud":["a","b"],"extra":{"x":1}}"#.utf8))
        #expect(many.aud == ["a", "b"])
        #expect(many.scopes.isEmpty)
    }

    @Test func standardClaimsWriteWholeSecondsAndOmitAbsentClaims() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let claims = StandardClaims(
            sub: "a", exp: Date(timeIntervalSince1970: 1_700_000_000.75), aud: ["x", "y"], scope: "a  b")
        #expect(
            String(decoding: try encoder.encode(claims), as: UTF8.self)
                == #"{"aud":["x","y"],"exp":1700000000,"scope":"a  b","sub":"a"}"#)
        #expect(claims.scopes == ["a", "b"])
        #expect(String(decoding: try encoder.encode(StandardClaims()), as: UTF8.self) == "{}")
    }
}

/// Standard base64 with padding, from base64url text.
func base64Padded(_ part: Substring) -> String {
    var text = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    text += String(repeating: "=", count: (4 - text.count % 4) % 4)
    return text
}
