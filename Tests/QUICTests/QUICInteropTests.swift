import Crypto
import Foundation
import PeerSupport
import Testing

@testable import QUIC

/// aioquic (PyPI) against our endpoint over real UDP on 127.0.0.1.
@Suite("QUIC interop with aioquic")
struct QUICInteropTests {
    @Test("aioquic's client completes a handshake with each cipher suite and fetches files of every size over hq-interop streams", arguments: ["aes128", "aes256", "chacha20"])
    func aioquicClient(cipher: String) async throws {
        let (certificate, key) = try makeCertificate("ec")
        var parameters = QUICTransportParameters()
        parameters.maxIdleTimeout = 30_000
        parameters.initialMaxData = 1 << 24
        parameters.initialMaxStreamsBidi = 100
        parameters.initialMaxStreamDataBidiRemote = 1 << 20
        // Files of every size from empty to several datagrams, with bytes that show misordering.
        let files: [String: [UInt8]] = [
            "/empty": [], "/small": Array("hello, QUIC\n".utf8), "/medium": (0..<5000).map { UInt8($0 % 251) },
            "/large": (0..<60_000).map { UInt8(($0 * 7) % 253) },
        ]
        let endpoint = try await QUICServerEndpoint.bind(
            host: "127.0.0.1", port: 0,
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key),
            parameters: parameters, respond: { files[$0] })
        let port = try #require(endpoint.localAddress?.port)
        let paths = files.keys.sorted()
        let output = try await Peers.python(
            script: "quic_client.py", ["127.0.0.1", String(port), cipher] + paths, suite: "QUICTests", timeout: 30)
        try await endpoint.close()
        try #require(output.status == 0, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        #expect(seen?["alpn"] as? String == "hq-interop")
        let suite = seen?["cipher"] as? String
        #expect(suite?.contains(cipher == "aes128" ? "AES_128" : cipher == "aes256" ? "AES_256" : "CHACHA20") == true)
        let fetched = seen?["fetched"] as? [String: [String: Any]]
        for (path, body) in files {
            #expect(fetched?[path]?["length"] as? Int == body.count, "\(path)")
            let digest = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
            #expect(fetched?[path]?["sha256"] as? String == digest, "\(path)")
        }
    }
}
