import Crypto
import Foundation
import NIOCore
import PeerSupport
import Testing

@testable import QUIC

/// Many streams both ways, connection-ID changes, NAT rebinding and 50 MB transfers, against
/// aioquic and through a lossy relay (the 50 MB ones between release-built `fasterapi` tools).
@Suite("QUIC interop: many streams, connection IDs, rebinding, 50 MB transfers")
struct QUICInteropTransferTests {
    @Test("aioquic's client fetches 100 files at once, each on its own stream, from our server")
    func manyStreamsFromAioquic() async throws {
        let files = Dictionary(uniqueKeysWithValues: (0..<100).map { index in
            ("/f\(index)", (0..<(index * 997)).map { UInt8(truncatingIfNeeded: $0 &* (index + 3)) })
        })
        var parameters = ConnectionPair.parameters
        parameters.initialMaxStreamsBidi = 100
        let server = try await TestServer.start(files: { files[$0] })
        let port = server.port
        let output = try await Peers.python(
            script: "quic_client.py", ["127.0.0.1", String(port), "aes128"] + files.keys.sorted(), suite: "QUICTests", timeout: 60)
        try await server.endpoint.close()
        try #require(output.status == 0, "\(output.stderr)")
        let fetched = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        let results = fetched?["fetched"] as? [String: [String: Any]]
        #expect(results?.count == 100)
        for (path, body) in files {
            #expect(results?[path]?["sha256"] as? String == sha256(body), "\(path)")
        }
    }

    @Test("Our client fetches 100 files at once from aioquic's server")
    func manyStreamsToAioquic() async throws {
        let (directory, certificate, _) = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (server, port) = try await PeerProcess.aioquicServer(in: directory)
        let client = try await QUICClient.connect(
            host: "127.0.0.1", port: port, serverName: "localhost",
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], trustRootsPEM: certificate))
        let large = (0..<300_000).map { UInt8(($0 * 7) % 253) }
        let correct = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<100 {
                group.addTask { index % 2 == 0 ? try await client.get("/small") == Array("hello".utf8) : try await client.get("/large") == large }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(correct == 100)
        try await client.close()
        withExtendedLifetime(server) {}
    }

    @Test("Our client with aioquic's server under each cipher suite: a fetch, a key update we start, and a fetch under the new keys", arguments: ["aes128", "aes256", "chacha20"])
    func cipherSuitesAndKeyUpdateToAioquic(cipher: String) async throws {
        let (directory, certificate, _) = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (server, port) = try await PeerProcess.aioquicServer(in: directory, environment: ["QUIC_CIPHER": cipher])
        let client = try await QUICClient.connect(
            host: "127.0.0.1", port: port, serverName: "localhost",
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], trustRootsPEM: certificate))
        let large = (0..<300_000).map { UInt8(($0 * 7) % 253) }
        #expect(try await client.get("/large") == large)
        let driver = client.session.driver
        let suite = try await client.session.eventLoop.submit { driver.value.connection.spaces[2].write?.keys.suite }.get()
        #expect(suite == ["aes128": .aes128GCMSHA256, "aes256": .aes256GCMSHA384, "chacha20": .chacha20Poly1305SHA256][cipher])
        #expect(try await client.session.updateKeys())
        #expect(try await client.get("/large") == large)
        let generations = try await client.session.eventLoop.submit {
            (driver.value.connection.spaces[2].writeGeneration, driver.value.connection.spaces[2].readGeneration)
        }.get()
        #expect(generations == (1, 1))  // aioquic answered in the new key phase
        try await client.close()
        withExtendedLifetime(server) {}
    }

    @Test("aioquic's client moves to another of our connection IDs mid-connection; the fetch goes on")
    func aioquicChangesConnectionID() async throws {
        let body = (0..<500_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let server = try await TestServer.start(files: { $0 == "/file" ? body : nil })
        let port = server.port
        let output = try await Peers.run(
            "/usr/bin/env", ["QUIC_CHANGE_CID=1", Peers.python, Peers.interopScript("quic_client.py", suite: "QUICTests"), "127.0.0.1", String(port), "aes128", "/file"],
            timeout: 30)
        try await server.endpoint.close()
        try #require(output.status == 0, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        #expect((seen?["peer_cid_sequence"] as? Int ?? 0) >= 1)
        #expect((seen?["fetched"] as? [String: [String: Any]])?["/file"]?["sha256"] as? String == sha256(body))
    }

    @Test("NAT rebinding: aioquic's datagrams reach our server from a new port mid-transfer; it validates the path and goes on")
    func rebinding() async throws {
        let body = (0..<2_000_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 11) }
        let server = try await TestServer.start(files: { $0 == "/file" ? body : nil })
        let serverPort = server.port
        let (relay, port) = try await PeerProcess.relay(to: serverPort, drop: 0, reorder: 0, duplicate: 0, environment: ["REBIND_AFTER": "40"])
        let output = try await Peers.python(script: "quic_client.py", ["127.0.0.1", String(port), "aes128", "/file"], suite: "QUICTests", timeout: 30)
        try await server.endpoint.close()
        try #require(output.status == 0, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        #expect((seen?["fetched"] as? [String: [String: Any]])?["/file"]?["sha256"] as? String == sha256(body))
        withExtendedLifetime(relay) {}
    }

    @Test("50 MB from our server (release quic-serve) to aioquic's client, verified by hash")
    func fiftyMegabytesToAioquic() async throws {
        let (directory, _, _) = try scratch(files: ["big": 50_000_000])
        defer { try? FileManager.default.removeItem(at: directory) }
        let (server, port) = try await PeerProcess.quicServe(in: directory)
        let output = try await Peers.run(
            "/usr/bin/env", ["QUIC_TIMEOUT=150", Peers.python, Peers.interopScript("quic_client.py", suite: "QUICTests"), "127.0.0.1", String(port), "aes128", "/big"],
            timeout: 160)
        try #require(output.status == 0, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        let expected = sha256(try Data(contentsOf: directory.appendingPathComponent("root/big")))
        #expect((seen?["fetched"] as? [String: [String: Any]])?["/big"]?["sha256"] as? String == expected)
        withExtendedLifetime(server) {}
    }

    @Test("50 MB from aioquic's server to our client (release quic-get), verified by hash")
    func fiftyMegabytesFromAioquic() async throws {
        let (directory, _, _) = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (server, port) = try await PeerProcess.aioquicServer(in: directory, environment: ["QUIC_BIG_BYTES": "50000000"])
        let result = try await Peers.run(
            try releaseTool(), ["quic-get", "https://127.0.0.1:\(port)/big", "--insecure", "--output", directory.path], timeout: 150)
        try #require(result.status == 0, "\(result.stderr)")
        let expected = try String(contentsOf: directory.appendingPathComponent("ready.sha256"), encoding: .utf8)
        #expect(sha256(try Data(contentsOf: directory.appendingPathComponent("big"))) == expected)
        withExtendedLifetime(server) {}
    }

    @Test("50 MB through a relay that drops 5 %, reorders and repeats (release quic-get → relay → release quic-serve), intact")
    func fiftyMegabytesUnderLoss() async throws {
        let (directory, _, _) = try scratch(files: ["big": 50_000_000])
        defer { try? FileManager.default.removeItem(at: directory) }
        let (server, serverPort) = try await PeerProcess.quicServe(in: directory)
        let (relay, port) = try await PeerProcess.relay(to: serverPort)
        let output = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let result = try await Peers.run(
            try releaseTool(), ["quic-get", "https://127.0.0.1:\(port)/big", "--insecure", "--output", output.path], timeout: 240)
        try #require(result.status == 0, "\(result.stderr)")
        #expect(try Data(contentsOf: output.appendingPathComponent("big")) == Data(contentsOf: directory.appendingPathComponent("root/big")))
        withExtendedLifetime((server, relay)) {}
    }
}
