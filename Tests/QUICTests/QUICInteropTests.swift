import Crypto
import Foundation
import NIOCore
import PeerSupport
import Testing

@testable import QUIC

/// aioquic (PyPI) and ngtcp2's gtlsclient (Debian ngtcp2-client) against our endpoint over real UDP on 127.0.0.1.
@Suite("QUIC interop with independent stacks (aioquic, ngtcp2)")
struct QUICInteropTests {
    @Test("aioquic's client completes a handshake with each cipher suite and fetches files of every size over hq-interop streams", arguments: ["aes128", "aes256", "chacha20"])
    func aioquicClient(cipher: String) async throws {
        // Files of every size from empty to several datagrams, with bytes that show misordering.
        let files: [String: [UInt8]] = [
            "/empty": [], "/small": Array("hello, QUIC\n".utf8), "/medium": (0..<5000).map { UInt8($0 % 251) },
            "/large": (0..<60_000).map { UInt8(($0 * 7) % 253) },
        ]
        let server = try await TestServer.start(files: { files[$0] })
        let port = server.port
        let paths = files.keys.sorted()
        let output = try await Peers.python(
            script: "quic_client.py", ["127.0.0.1", String(port), cipher] + paths, suite: "QUICTests", timeout: 30)
        try await server.endpoint.close()
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

    @Test("ngtcp2's gtlsclient (GnuTLS) completes a handshake with ALPN h3 and sees a clean close")
    func gtlsclient() async throws {
        let server = try await TestServer.start(protocols: ["h3", "hq-interop"])
        let port = server.port
        let output = try await Peers.run(
            "/usr/bin/gtlsclient",
            ["--exit-on-all-streams-close", "--no-quic-dump", "--no-http-dump", "127.0.0.1", String(port), "https://127.0.0.1:\(port)/"],
            timeout: 20)
        try await server.endpoint.close()
        let log = output.stdout + output.stderr
        #expect(log.contains("QUIC handshake has completed"), "\(log)")
        #expect(log.contains("Negotiated ALPN is h3"), "\(log)")
        #expect(log.contains("1RTT CONNECTION_CLOSE(0x1d) error_code=(unknown)(0x100)"), "\(log.suffix(2000))")
        #expect(log.contains("reason=[HTTP/3 is not served yet]"))
    }

    @Test("Our client fetches files from aioquic's server (hq-interop), a 300 KB one included; also after a Retry", arguments: [false, true])
    func ourClient(retry: Bool) async throws {
        let (directory, certificate, _) = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (server, port) = try await PeerProcess.aioquicServer(in: directory, environment: ["QUIC_RETRY": retry ? "1" : "0"])
        let client = try await QUICClient.connect(
            host: "127.0.0.1", port: port, serverName: "localhost",
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], trustRootsPEM: certificate))
        let small = try await client.get("/small")
        #expect(small == Array("hello".utf8))
        let large = try await client.get("/large")
        #expect(large == (0..<300_000).map { UInt8(($0 * 7) % 253) })
        try await client.close()
        withExtendedLifetime(server) {}
    }

    @Test("A client starting with QUIC version 2 gets Version Negotiation and completes with version 1")
    func versionNegotiation() async throws {
        let server = try await TestServer.start()
        let port = server.port
        let output = try await Peers.run(
            "/usr/bin/env", ["QUIC_VERSION2_FIRST=1", Peers.python, Peers.interopScript("quic_client.py", suite: "QUICTests"), "127.0.0.1", String(port), "aes128"],
            timeout: 30)
        try await server.endpoint.close()
        try #require(output.status == 0, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        #expect(seen?["version"] as? Int == 1)
        #expect(seen?["alpn"] as? String == "hq-interop")
    }

    @Test("aioquic updates its keys mid-connection; our server follows and the fetch succeeds under the new keys")
    func keyUpdateFromPeer() async throws {
        let body = (0..<20_000).map { UInt8($0 % 241) }
        let server = try await TestServer.start(files: { $0 == "/file" ? body : nil })
        let port = server.port
        let output = try await Peers.run(
            "/usr/bin/env",
            ["QUIC_KEY_UPDATE=1", Peers.python, Peers.interopScript("quic_client.py", suite: "QUICTests"), "127.0.0.1", String(port), "chacha20", "/file"],
            timeout: 30)
        try await server.endpoint.close()
        try #require(output.status == 0, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        #expect(seen?["key_phase"] as? Int == 1)
        #expect((seen?["fetched"] as? [String: [String: Any]])?["/file"]?["length"] as? Int == body.count)
    }

    @Test("A server requiring Retry: aioquic answers it with the token, and the connection is authenticated end to end")
    func retryRequired() async throws {
        let server = try await TestServer.start(requireRetry: true, files: { $0 == "/ok" ? Array("retried".utf8) : nil })
        let port = server.port
        let output = try await Peers.python(script: "quic_client.py", ["127.0.0.1", String(port), "aes128", "/ok"], suite: "QUICTests", timeout: 30)
        try await server.endpoint.close()
        try #require(output.status == 0, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        #expect((seen?["fetched"] as? [String: [String: Any]])?["/ok"]?["length"] as? Int == 7)
    }

    @Test("A 2 MB transfer through a relay that drops 5 %, reorders and repeats datagrams arrives intact", arguments: [1, 2, 3])
    func lossyRelay(seed: Int) async throws {
        let body = (0..<2_000_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let server = try await TestServer.start(files: { $0 == "/file" ? body : nil })
        let serverPort = server.port
        let (relay, port) = try await PeerProcess.relay(to: serverPort, seed: seed)
        let client = try await QUICClient.connect(
            host: "127.0.0.1", port: port, serverName: "localhost",
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], trustRootsPEM: server.certificate), timeout: .seconds(30))
        let received = try await client.get("/file")
        #expect(received.count == body.count)
        #expect(received == body)
        try await client.close()
        try await server.endpoint.close()
        withExtendedLifetime(relay) {}
    }

    @Test("curl (curl_cffi: libcurl with ngtcp2 + nghttp3) completes a handshake with ALPN h3 and sees the clean H3_NO_ERROR close")
    func curlHTTP3() async throws {
        let server = try await TestServer.start(protocols: ["h3", "hq-interop"])
        let port = server.port
        let output = try await Peers.python(script: "curl_h3.py", ["127.0.0.1", String(port)], suite: "QUICTests", timeout: 30)
        try await server.endpoint.close()
        try #require(output.status == 0, "\(output.stdout)\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        #expect(seen?["handshake"] as? Bool == true)
        #expect(seen?["handshake_done"] as? Bool == true)
        #expect(seen?["alpn"] as? String == "h3")
        // The request fails after the handshake (curl error 56, a receive error), not in it (7, 35, 60).
        #expect((seen?["error"] as? [String: Any])?["code"] as? Int == 56)
        let close = seen?["close"] as? [String: Any]
        #expect(close?["space"] as? String == "application")
        #expect(close?["code"] as? Int == 0x100)
    }
}
