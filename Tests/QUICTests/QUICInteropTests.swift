import Foundation
import PeerSupport
import Testing

@testable import QUIC

/// aioquic (PyPI) against our endpoint over real UDP on 127.0.0.1.
@Suite("QUIC interop with aioquic")
struct QUICInteropTests {
    @Test("aioquic's client completes a handshake with our server and gets a PING answered", arguments: ["aes128", "aes256", "chacha20"])
    func aioquicClient(cipher: String) async throws {
        let (certificate, key) = try makeCertificate("ec")
        var parameters = QUICTransportParameters()
        parameters.maxIdleTimeout = 30_000
        parameters.initialMaxData = 1 << 20
        let endpoint = try await QUICServerEndpoint.bind(
            host: "127.0.0.1", port: 0,
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key),
            parameters: parameters)
        let port = try #require(endpoint.localAddress?.port)
        let output = try await Peers.python(script: "quic_client.py", ["127.0.0.1", String(port), cipher], suite: "QUICTests", timeout: 30)
        try await endpoint.close()
        try #require(output.status == 0, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: String]
        #expect(seen?["alpn"] == "hq-interop")
        #expect(seen?["cipher"]?.contains(cipher == "aes128" ? "AES_128" : cipher == "aes256" ? "AES_256" : "CHACHA20") == true)
    }
}
