import Crypto
import Foundation
import NIOCore
import PeerSupport
import Testing

@testable import QUIC

/// What the test servers do with a connection: hq-interop answers from `files`; an h3 one
/// (HTTP/3 is not served yet) is closed cleanly with H3_NO_ERROR.
func serving(_ files: @escaping @Sendable (String) -> [UInt8]?) -> @Sendable (QUICSession) async -> Void {
    { session in
        if session.applicationProtocol == "h3" {
            await session.close(errorCode: 0x100, reason: "HTTP/3 is not served yet")
        } else {
            await HQInterop.serve(session) { path in files(path).map { ByteBuffer(bytes: $0) } }
        }
    }
}

/// aioquic (PyPI) and ngtcp2's gtlsclient (Debian ngtcp2-client) against our endpoint over real UDP on 127.0.0.1.
@Suite("QUIC interop with independent stacks (aioquic, ngtcp2)")
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
            parameters: parameters, onSession: serving({ files[$0] }))
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

    @Test("ngtcp2's gtlsclient (GnuTLS) completes a handshake with ALPN h3 and sees a clean close")
    func gtlsclient() async throws {
        let (certificate, key) = try makeCertificate("ec")
        var parameters = QUICTransportParameters()
        parameters.maxIdleTimeout = 30_000
        parameters.initialMaxData = 1 << 20
        parameters.initialMaxStreamsBidi = 100
        parameters.initialMaxStreamsUni = 3
        parameters.initialMaxStreamDataBidiRemote = 1 << 16
        parameters.initialMaxStreamDataUni = 1 << 16
        let endpoint = try await QUICServerEndpoint.bind(
            host: "127.0.0.1", port: 0,
            configuration: QUICTLSConfiguration(applicationProtocols: ["h3", "hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key),
            parameters: parameters, onSession: serving { _ in nil })
        let port = try #require(endpoint.localAddress?.port)
        let output = try await Peers.run(
            "/usr/bin/gtlsclient",
            ["--exit-on-all-streams-close", "--no-quic-dump", "--no-http-dump", "127.0.0.1", String(port), "https://127.0.0.1:\(port)/"],
            timeout: 20)
        try await endpoint.close()
        let log = output.stdout + output.stderr
        #expect(log.contains("QUIC handshake has completed"), "\(log)")
        #expect(log.contains("Negotiated ALPN is h3"), "\(log)")
        #expect(log.contains("1RTT CONNECTION_CLOSE(0x1d) error_code=(unknown)(0x100)"), "\(log.suffix(2000))")
        #expect(log.contains("reason=[HTTP/3 is not served yet]"))
    }

    @Test("Our client fetches files from aioquic's server (hq-interop), a 300 KB one included; also after a Retry", arguments: [false, true])
    func ourClient(retry: Bool) async throws {
        let (certificate, key) = try makeCertificate("ec")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quic-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (certificatePath, keyPath, ready) = (directory.appendingPathComponent("cert.pem"), directory.appendingPathComponent("key.pem"), directory.appendingPathComponent("port"))
        try certificate.write(to: certificatePath, atomically: true, encoding: .utf8)
        try key.write(to: keyPath, atomically: true, encoding: .utf8)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Peers.python)
        server.environment = ProcessInfo.processInfo.environment.merging(["QUIC_RETRY": retry ? "1" : "0"]) { $1 }
        server.arguments = [Peers.interopScript("quic_server.py", suite: "QUICTests"), certificatePath.path, keyPath.path, ready.path]
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { kill(server.processIdentifier, SIGKILL) }
        var port: Int?
        for _ in 0..<200 where port == nil {
            try await Task.sleep(for: .milliseconds(50))
            port = (try? String(contentsOf: ready, encoding: .utf8)).flatMap { Int($0) }
        }
        let client = try await QUICClient.connect(
            host: "127.0.0.1", port: try #require(port), serverName: "localhost",
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], trustRootsPEM: certificate))
        let small = try await client.get("/small")
        #expect(small == Array("hello".utf8))
        let large = try await client.get("/large")
        #expect(large == (0..<300_000).map { UInt8(($0 * 7) % 253) })
        try await client.close()
    }

    @Test("A client starting with QUIC version 2 gets Version Negotiation and completes with version 1")
    func versionNegotiation() async throws {
        let (certificate, key) = try makeCertificate("ec")
        var parameters = QUICTransportParameters()
        parameters.maxIdleTimeout = 30_000
        let endpoint = try await QUICServerEndpoint.bind(
            host: "127.0.0.1", port: 0,
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key),
            parameters: parameters, onSession: serving { _ in nil })
        let port = try #require(endpoint.localAddress?.port)
        let output = try await Peers.run(
            "/usr/bin/env", ["QUIC_VERSION2_FIRST=1", Peers.python, Peers.interopScript("quic_client.py", suite: "QUICTests"), "127.0.0.1", String(port), "aes128"],
            timeout: 30)
        try await endpoint.close()
        try #require(output.status == 0, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        #expect(seen?["version"] as? Int == 1)
        #expect(seen?["alpn"] as? String == "hq-interop")
    }

    @Test("aioquic updates its keys mid-connection; our server follows and the fetch succeeds under the new keys")
    func keyUpdateFromPeer() async throws {
        let (certificate, key) = try makeCertificate("ec")
        var parameters = QUICTransportParameters()
        parameters.maxIdleTimeout = 30_000
        parameters.initialMaxData = 1 << 20
        parameters.initialMaxStreamsBidi = 10
        parameters.initialMaxStreamDataBidiRemote = 1 << 16
        let body = (0..<20_000).map { UInt8($0 % 241) }
        let endpoint = try await QUICServerEndpoint.bind(
            host: "127.0.0.1", port: 0,
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key),
            parameters: parameters, onSession: serving({ $0 == "/file" ? body : nil }))
        let port = try #require(endpoint.localAddress?.port)
        let output = try await Peers.run(
            "/usr/bin/env",
            ["QUIC_KEY_UPDATE=1", Peers.python, Peers.interopScript("quic_client.py", suite: "QUICTests"), "127.0.0.1", String(port), "chacha20", "/file"],
            timeout: 30)
        try await endpoint.close()
        try #require(output.status == 0, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        #expect(seen?["key_phase"] as? Int == 1)
        #expect((seen?["fetched"] as? [String: [String: Any]])?["/file"]?["length"] as? Int == body.count)
    }

    @Test("A server requiring Retry: aioquic answers it with the token, and the connection is authenticated end to end")
    func retryRequired() async throws {
        let (certificate, key) = try makeCertificate("ec")
        var parameters = QUICTransportParameters()
        parameters.maxIdleTimeout = 30_000
        parameters.initialMaxData = 1 << 20
        parameters.initialMaxStreamsBidi = 10
        parameters.initialMaxStreamDataBidiRemote = 1 << 16
        let endpoint = try await QUICServerEndpoint.bind(
            host: "127.0.0.1", port: 0,
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key),
            parameters: parameters, requireRetry: true, onSession: serving({ $0 == "/ok" ? Array("retried".utf8) : nil }))
        let port = try #require(endpoint.localAddress?.port)
        let output = try await Peers.python(script: "quic_client.py", ["127.0.0.1", String(port), "aes128", "/ok"], suite: "QUICTests", timeout: 30)
        try await endpoint.close()
        try #require(output.status == 0, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        #expect((seen?["fetched"] as? [String: [String: Any]])?["/ok"]?["length"] as? Int == 7)
    }

    @Test("A 2 MB transfer through a relay that drops 5 %, reorders and repeats datagrams arrives intact", arguments: [1, 2, 3])
    func lossyRelay(seed: Int) async throws {
        let (certificate, key) = try makeCertificate("ec")
        var parameters = QUICTransportParameters()
        parameters.maxIdleTimeout = 30_000
        parameters.initialMaxData = 1 << 24
        parameters.initialMaxStreamsBidi = 10
        parameters.initialMaxStreamDataBidiRemote = 1 << 16
        let body = (0..<2_000_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let endpoint = try await QUICServerEndpoint.bind(
            host: "127.0.0.1", port: 0,
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key),
            parameters: parameters, onSession: serving({ $0 == "/file" ? body : nil }))
        let serverPort = try #require(endpoint.localAddress?.port)
        let ready = FileManager.default.temporaryDirectory.appendingPathComponent("relay-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: ready) }
        let relay = Process()
        relay.executableURL = URL(fileURLWithPath: Peers.python)
        relay.arguments = [Peers.interopScript("lossy_relay.py", suite: "QUICTests"), String(serverPort), ready.path, "0.05", "0.05", "0.02", String(seed)]
        try relay.run()
        defer { kill(relay.processIdentifier, SIGKILL) }
        var port: Int?
        for _ in 0..<200 where port == nil {
            try await Task.sleep(for: .milliseconds(50))
            port = (try? String(contentsOf: ready, encoding: .utf8)).flatMap { Int($0) }
        }
        let client = try await QUICClient.connect(
            host: "127.0.0.1", port: try #require(port), serverName: "localhost",
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], trustRootsPEM: certificate), timeout: .seconds(30))
        let received = try await client.get("/file")
        #expect(received.count == body.count)
        #expect(received == body)
        try await client.close()
        try await endpoint.close()
    }

    @Test("curl (curl_cffi: libcurl with ngtcp2 + nghttp3) completes a handshake with ALPN h3 and sees the clean H3_NO_ERROR close")
    func curlHTTP3() async throws {
        let (certificate, key) = try makeCertificate("ec")
        var parameters = QUICTransportParameters()
        parameters.maxIdleTimeout = 30_000
        parameters.initialMaxData = 1 << 20
        parameters.initialMaxStreamsBidi = 100
        parameters.initialMaxStreamsUni = 3  // curl refuses HTTP/3 with fewer ("lacks 3 uni streams")
        parameters.initialMaxStreamDataBidiRemote = 1 << 16
        parameters.initialMaxStreamDataUni = 1 << 16
        let endpoint = try await QUICServerEndpoint.bind(
            host: "127.0.0.1", port: 0,
            configuration: QUICTLSConfiguration(applicationProtocols: ["h3", "hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key),
            parameters: parameters, onSession: serving { _ in nil })
        let port = try #require(endpoint.localAddress?.port)
        let output = try await Peers.python(script: "curl_h3.py", ["127.0.0.1", String(port)], suite: "QUICTests", timeout: 30)
        try await endpoint.close()
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
