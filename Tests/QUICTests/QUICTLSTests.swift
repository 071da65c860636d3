import Foundation
import Testing

@testable import QUIC

/// A throw-away certificate and key made with `openssl` (`ec` or `rsa`) for localhost and 127.0.0.1.
func makeCertificate(_ kind: String) throws -> (certificate: String, key: String) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quic-cert-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments =
        ["req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", directory.appendingPathComponent("key.pem").path, "-out", directory.appendingPathComponent("cert.pem").path]
        + (kind == "ec" ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] : ["-newkey", "rsa:2048"])
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return (
        try String(contentsOf: directory.appendingPathComponent("cert.pem"), encoding: .utf8),
        try String(contentsOf: directory.appendingPathComponent("key.pem"), encoding: .utf8)
    )
}

/// Runs a handshake in memory: each side's handshake bytes go to the other at the same level.
/// Returns every event each side produced.
func handshake(_ client: QUICTLS, _ server: QUICTLS) throws -> (client: [QUICTLSEvent], server: [QUICTLSEvent]) {
    var clientEvents = try client.start()
    var serverEvents: [QUICTLSEvent] = []
    var toServer = clientEvents
    var rounds = 0
    while !(client.isComplete && server.isComplete), rounds < 10 {
        rounds += 1
        var toClient: [QUICTLSEvent] = []
        for case .handshakeData(let level, let bytes) in toServer {
            let produced = try server.receive(bytes, at: level)
            serverEvents += produced
            toClient += produced
        }
        toServer = []
        for case .handshakeData(let level, let bytes) in toClient {
            let produced = try client.receive(bytes, at: level)
            clientEvents += produced
            toServer += produced
        }
    }
    return (clientEvents, serverEvents)
}

@Suite("QUIC TLS 1.3 through BoringSSL's QUIC API")
struct QUICTLSTests {
    @Test("Client and server complete a handshake: ALPN, transport parameters both ways, matching secrets at every level", arguments: ["ec", "rsa"])
    func completes(kind: String) throws {
        let (certificate, key) = try makeCertificate(kind)
        let server = try QUICTLS(
            client: false, transportParameters: [0x0F, 0x01, 0x07],
            configuration: QUICTLSConfiguration(applicationProtocols: ["h3", "hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key))
        let client = try QUICTLS(
            client: true, serverName: "localhost", transportParameters: [0x0F, 0x02, 0x01, 0x02],
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], trustRootsPEM: certificate))
        let (clientEvents, serverEvents) = try handshake(client, server)
        #expect(client.isComplete && server.isComplete)
        #expect(client.applicationProtocol == "hq-interop")
        #expect(server.applicationProtocol == "hq-interop")
        #expect(client.peerTransportParameters == [0x0F, 0x01, 0x07])
        #expect(server.peerTransportParameters == [0x0F, 0x02, 0x01, 0x02])
        func secrets(_ events: [QUICTLSEvent], write: Bool) -> [QUICEncryptionLevel: [UInt8]] {
            var found: [QUICEncryptionLevel: [UInt8]] = [:]
            for case .secret(let level, write, _, let secret) in events { found[level] = secret }
            return found
        }
        for level in [QUICEncryptionLevel.handshake, .application] {
            #expect(secrets(clientEvents, write: true)[level] == secrets(serverEvents, write: false)[level])
            #expect(secrets(serverEvents, write: true)[level] == secrets(clientEvents, write: false)[level])
            #expect(secrets(clientEvents, write: true)[level] != nil)
        }
    }

    @Test("An untrusted certificate, a wrong host name or no common ALPN fail the handshake")
    func failures() throws {
        let (certificate, key) = try makeCertificate("ec")
        let (other, _) = try makeCertificate("ec")
        func attempt(serverName: String, roots: String, protocols: [String]) throws {
            let server = try QUICTLS(
                client: false, transportParameters: [0x0F, 0x01, 0x07],
                configuration: QUICTLSConfiguration(applicationProtocols: ["h3"], certificateChainPEM: certificate, privateKeyPEM: key))
            let client = try QUICTLS(
                client: true, serverName: serverName, transportParameters: [0x0F, 0x01, 0x07],
                configuration: QUICTLSConfiguration(applicationProtocols: protocols, trustRootsPEM: roots))
            _ = try handshake(client, server)
        }
        #expect(throws: QUICTLSError.self) { try attempt(serverName: "localhost", roots: other, protocols: ["h3"]) }
        #expect(throws: QUICTLSError.self) { try attempt(serverName: "example.com", roots: certificate, protocols: ["h3"]) }
        #expect(throws: QUICTLSError.self) { try attempt(serverName: "localhost", roots: certificate, protocols: ["spdy/3"]) }
        try attempt(serverName: "localhost", roots: certificate, protocols: ["h3"])
        #expect(throws: QUICTLSError.self) {
            try QUICTLS(client: false, transportParameters: [0x0F, 0x01, 0x07], configuration: QUICTLSConfiguration(applicationProtocols: ["h3"]))
        }
    }
}
