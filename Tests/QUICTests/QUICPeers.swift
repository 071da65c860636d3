import Crypto
import Foundation
import NIOCore
import PeerSupport
import Testing

@testable import QUIC

/// A peer process started for a test, killed when the test ends.
final class PeerProcess {
    let process = Process()
    private let errors = Pipe()

    /// Starts `executable` with `arguments` (and `environment` added to ours).
    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    deinit { kill(process.processIdentifier, SIGKILL) }

    /// The port a peer wrote to `file` (waiting up to 10 s).
    static func port(in file: URL) async throws -> Int {
        for _ in 0..<200 {
            if let port = (try? String(contentsOf: file, encoding: .utf8)).flatMap({ Int($0) }) { return port }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw QUICTransportError(.internalError, "no port in \(file.path)")
    }

    /// The port `fasterapi quic-serve` says it listens on (its first line on stderr).
    func listeningPort() async throws -> Int {
        let handle = errors.fileHandleForReading
        let line = try await Task.detached { () -> String in
            var bytes: [UInt8] = []
            while let byte = try handle.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") { bytes.append(byte) }
            return String(decoding: bytes, as: UTF8.self)
        }.value
        guard let port = line.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw QUICTransportError(.internalError, "quic-serve said: \(line)")
        }
        return port
    }
}

/// The release-built `fasterapi` tool (built by scripts/test.sh; its path in FASTERAPI_RELEASE_BIN).
func releaseTool() throws -> String {
    let path = ProcessInfo.processInfo.environment["FASTERAPI_RELEASE_BIN"]
        ?? Peers.repositoryRoot.appendingPathComponent(".build/release/fasterapi").path
    try #require(FileManager.default.isExecutableFile(atPath: path), "build it: swift build -c release --product fasterapi")
    return path
}

func sha256(_ bytes: some DataProtocol) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

/// A scratch directory with a certificate and key (`cert.pem`, `key.pem`) and, under `root/`,
/// `files` (name → size, random bytes).
func scratch(files: [String: Int] = [:]) throws -> (directory: URL, certificate: String, key: String) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quic-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory.appendingPathComponent("root"), withIntermediateDirectories: true)
    let (certificate, key) = try makeCertificate("ec")
    try certificate.write(to: directory.appendingPathComponent("cert.pem"), atomically: true, encoding: .utf8)
    try key.write(to: directory.appendingPathComponent("key.pem"), atomically: true, encoding: .utf8)
    for (name, size) in files {
        var generator = SystemRandomNumberGenerator()
        let bytes = Data((0..<size / 8).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } })
        try bytes.write(to: directory.appendingPathComponent("root/\(name)"))
    }
    return (directory, certificate, key)
}

extension PeerProcess {
    /// aioquic's hq-interop server (`Interop/quic_server.py`) with `directory`'s certificate; and its port.
    static func aioquicServer(in directory: URL, environment: [String: String] = [:]) async throws -> (PeerProcess, Int) {
        let ready = directory.appendingPathComponent("ready")
        let server = try PeerProcess(
            Peers.python,
            [Peers.interopScript("quic_server.py", suite: "QUICTests"), directory.appendingPathComponent("cert.pem").path,
             directory.appendingPathComponent("key.pem").path, ready.path],
            environment: environment)
        return (server, try await port(in: ready))
    }

    /// The UDP relay (`Interop/lossy_relay.py`) in front of 127.0.0.1:`serverPort`, losing,
    /// reordering and repeating datagrams as asked (REBIND_AFTER in `environment`); and its port.
    static func relay(
        to serverPort: Int, drop: Double = 0.05, reorder: Double = 0.05, duplicate: Double = 0.02, seed: Int = 1,
        environment: [String: String] = [:]
    ) async throws -> (PeerProcess, Int) {
        let ready = FileManager.default.temporaryDirectory.appendingPathComponent("relay-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: ready) }
        let relay = try PeerProcess(
            Peers.python,
            [Peers.interopScript("lossy_relay.py", suite: "QUICTests"), String(serverPort), ready.path, String(drop), String(reorder),
             String(duplicate), String(seed)],
            environment: environment)
        return (relay, try await port(in: ready))
    }

    /// The release `fasterapi quic-serve` over `directory`'s `root/`; and its port.
    static func quicServe(in directory: URL) async throws -> (PeerProcess, Int) {
        let server = try PeerProcess(
            try releaseTool(),
            ["quic-serve", "--port", "0", "--root", directory.appendingPathComponent("root").path, "--cert",
             directory.appendingPathComponent("cert.pem").path, "--key", directory.appendingPathComponent("key.pem").path])
        return (server, try await server.listeningPort())
    }
}

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

/// Our endpoint on 127.0.0.1 (a free port) with a fresh EC certificate and the recommended
/// limits, offering `protocols`, doing what `serving(files)` says with each connection.
struct TestServer {
    let endpoint: QUICServerEndpoint
    let port: Int
    let certificate: String

    static func start(
        protocols: [String] = ["hq-interop"], requireRetry: Bool = false, files: @escaping @Sendable (String) -> [UInt8]? = { _ in nil }
    ) async throws -> TestServer {
        let (certificate, key) = try makeCertificate("ec")
        let endpoint = try await QUICServerEndpoint.bind(
            host: "127.0.0.1", port: 0,
            configuration: QUICTLSConfiguration(applicationProtocols: protocols, certificateChainPEM: certificate, privateKeyPEM: key),
            requireRetry: requireRetry, onSession: serving(files))
        return TestServer(endpoint: endpoint, port: try #require(endpoint.localAddress?.port), certificate: certificate)
    }
}
