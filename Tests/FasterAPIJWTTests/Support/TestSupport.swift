import Crypto
import CryptoExtras
import FasterAPI
import Foundation
import Testing

@testable import FasterAPIJWT

/// Keys shared by the tests (an RSA key takes a moment to generate, so it is made once).
enum TestKeys {
    static let secret = "a-test-secret-that-is-32-bytes-or-more"
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let p256 = P256.Signing.PrivateKey()
}

/// Base64url written with Foundation, independently of the module's own encoder.
func base64URL(_ bytes: some Sequence<UInt8>) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

/// Base64url of a string's UTF-8 bytes.
func base64URL(_ text: String) -> String { base64URL(Array(text.utf8)) }

/// A token built by hand from raw header and payload JSON, signed by `sign` over the signing input.
func craftToken(header: String, payload: String, sign: (String) -> [UInt8]) -> String {
    let input = base64URL(header) + "." + base64URL(payload)
    return input + "." + base64URL(sign(input))
}

/// An HS256 signature of `input` with `secret`, made directly with swift-crypto.
func hmacSHA256(_ input: String, secret: some DataProtocol) -> [UInt8] {
    Array(HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Array(secret))))
}

/// The `error_description` of the 401 that `auth` answers `token` with, or `nil` (after recording
/// an issue) when the token is accepted or the error has another shape.
func rejection<Claims: JWTClaims>(
    _ token: String, by auth: JWTAuthenticator, as type: Claims.Type = StandardClaims.self,
    sourceLocation: SourceLocation = #_sourceLocation
) async -> String? {
    do {
        _ = try await auth.verify(token, as: type)
        Issue.record("token was accepted", sourceLocation: sourceLocation)
        return nil
    } catch let error as HTTPError {
        #expect(error.status.code == 401, sourceLocation: sourceLocation)
        #expect(error.detail == #""Could not validate credentials""#, sourceLocation: sourceLocation)
        let challenge = error.headers["WWW-Authenticate"] ?? ""
        let prefix = #"Bearer error="invalid_token", error_description=""#
        guard challenge.hasPrefix(prefix), challenge.hasSuffix("\"") else {
            Issue.record("unexpected WWW-Authenticate: \(challenge)", sourceLocation: sourceLocation)
            return nil
        }
        return String(challenge.dropFirst(prefix.count).dropLast())
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Runs `Interop/pyjwt_peer.py` with PyJWT: `FASTERAPI_PYTHON`, or the repository's `.venv`.
enum PyJWTPeer {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var python: String {
        ProcessInfo.processInfo.environment["FASTERAPI_PYTHON"]
            ?? repositoryRoot.appendingPathComponent(".venv/bin/python").path
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Interop/pyjwt_peer.py").path

    /// Sends `requests` to the peer and returns its results, in order.
    static func run(_ requests: [[String: Any]], timeout: Duration = .seconds(60)) async throws -> [[String: Any]] {
        try #require(
            FileManager.default.isExecutableFile(atPath: python),
            "no Python with PyJWT at \(python): run scripts/test.sh or set FASTERAPI_PYTHON")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let request = try JSONSerialization.data(withJSONObject: requests)
        // Each pipe is read on a thread of its own, not on one of Swift's few cooperative threads.
        async let stdout = withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: output.fileHandleForReading.readDataToEndOfFile()) }.start()
        }
        async let stderr = withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: errors.fileHandleForReading.readDataToEndOfFile()) }.start()
        }
        try input.fileHandleForWriting.write(contentsOf: request)
        try input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { process.terminate() }
            try await Task.sleep(for: .milliseconds(10))
        }
        let (out, err) = await (stdout, stderr)
        try #require(
            process.terminationStatus == 0,
            "pyjwt_peer.py failed (\(process.terminationStatus)): \(String(decoding: err, as: UTF8.self))")
        let results = try #require(try JSONSerialization.jsonObject(with: out) as? [[String: Any]])
        try #require(results.count == requests.count)
        return results
    }
}
