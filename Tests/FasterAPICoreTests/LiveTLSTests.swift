import Foundation
import NIOCore
import Testing

@testable import FasterAPICore

/// TLS over real sockets, with curl and openssl as the peers: certificates made by openssl the
/// way an operator would (ECDSA and RSA), ALPN choosing HTTP/2 or HTTP/1.1 on one port, TLS
/// versions, SNI, reload without restart, client certificates, and the development certificate.
@Suite("TLS", .serialized)
struct LiveTLSTests {
    enum KeyType: String, CaseIterable, Sendable {
        case ecdsa, rsa
    }

    /// Makes a self-signed server certificate for `host` (and 127.0.0.1) with openssl.
    static func makeCertificate(_ key: KeyType, host: String, in directory: TemporaryDirectory, name: String) async throws
        -> (certificate: String, key: String)
    {
        let certificate = directory.file("\(name).pem")
        let keyFile = directory.file("\(name)-key.pem")
        let keyArguments =
            key == .rsa ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        let result = try await CommandLineTool.run(
            "openssl",
            ["req", "-x509", "-nodes", "-days", "2"] + keyArguments + [
                "-keyout", keyFile, "-out", certificate, "-subj", "/CN=\(host)",
                "-addext", "subjectAltName=DNS:\(host),IP:127.0.0.1",
            ])
        try #require(result.status == 0, "\(result.stderr)")
        return (certificate, keyFile)
    }

    /// A responder that describes the connection its request came over.
    static let describing = ClosureResponder { request in
        let tls = request.connection.tls
        let subject = tls?.peerCertificate.map { "\($0.subject)" } ?? "none"
        return Response(
            body: ResponseBody(
                string:
                    "\(request.head.version) secure=\(request.connection.isSecure) alpn=\(tls?.applicationProtocol ?? "-") client=\(subject)"
            ))
    }

    /// `curl` against the live server, trusting `ca`, naming `host` (resolved to 127.0.0.1).
    static func curl(
        port: Int, ca: String, host: String = "localhost", path: String = "/", _ extra: [String] = []
    ) async throws -> CommandLineTool.Output {
        try await CommandLineTool.run(
            "curl",
            ["-sS", "--max-time", "10", "--cacert", ca, "--resolve", "\(host):\(port):127.0.0.1"] + extra
                + ["https://\(host):\(port)\(path)"])
    }

    @Test(arguments: KeyType.allCases)
    func alpnServesHTTP2AndHTTP1OnOnePort(_ key: KeyType) async throws {
        let directory = try TemporaryDirectory()
        let pem = try await Self.makeCertificate(key, host: "localhost", in: directory, name: "server")
        try await withLiveServer(Self.describing, configure: {
            $0.tls = ServerTLSConfiguration(certificateChainFile: pem.certificate, privateKeyFile: pem.key)
        }) { live throws in
            let h2 = try await Self.curl(port: live.port, ca: pem.certificate, ["--http2"])
            #expect(h2.stdout == "HTTP/2 secure=true alpn=h2 client=none", "\(h2.stderr)")
            let h1 = try await Self.curl(port: live.port, ca: pem.certificate, ["--http1.1"])
            #expect(h1.stdout == "HTTP/1.1 secure=true alpn=http/1.1 client=none", "\(h1.stderr)")
            // Cleartext on a TLS port is not answered as HTTP.
            let plain = try await CommandLineTool.run(
                "curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(live.port)/"])
            #expect(plain.status != 0)
        }
    }

    @Test func tlsVersionsFollowTheMinimum() async throws {
        let directory = try TemporaryDirectory()
        let pem = try await Self.makeCertificate(.ecdsa, host: "localhost", in: directory, name: "server")
        try await withLiveServer(Self.describing, configure: {
            $0.tls = ServerTLSConfiguration(certificateChainFile: pem.certificate, privateKeyFile: pem.key)
        }) { live throws in
            let v12 = try await Self.curl(port: live.port, ca: pem.certificate, ["--tlsv1.2", "--tls-max", "1.2", "-w", " %{ssl_version}"])
            #expect(v12.status == 0, "\(v12.stderr)")
            let v13 = try await Self.curl(port: live.port, ca: pem.certificate, ["--tlsv1.3"])
            #expect(v13.status == 0, "\(v13.stderr)")
        }
        try await withLiveServer(Self.describing, configure: {
            var tls = ServerTLSConfiguration(certificateChainFile: pem.certificate, privateKeyFile: pem.key)
            tls.minimumVersion = .tls1_3
            $0.tls = tls
        }) { live throws in
            let v12 = try await Self.curl(port: live.port, ca: pem.certificate, ["--tls-max", "1.2"])
            #expect(v12.status != 0)
            let v13 = try await Self.curl(port: live.port, ca: pem.certificate, ["--tlsv1.3"])
            #expect(v13.status == 0, "\(v13.stderr)")
        }
    }

    @Test func sniChoosesTheCertificateForTheHost() async throws {
        let directory = try TemporaryDirectory()
        let fallback = try await Self.makeCertificate(.ecdsa, host: "localhost", in: directory, name: "default")
        let api = try await Self.makeCertificate(.rsa, host: "api.example.test", in: directory, name: "api")
        let wildcard = try await Self.makeCertificate(.ecdsa, host: "www.example.test", in: directory, name: "www")
        try await withLiveServer(Self.describing, configure: {
            $0.tls = ServerTLSConfiguration(certificates: [
                .files(chain: fallback.certificate, privateKey: fallback.key),
                .files(chain: api.certificate, privateKey: api.key, serverNames: ["api.example.test"]),
                .files(chain: wildcard.certificate, privateKey: wildcard.key, serverNames: ["*.example.test"]),
            ])
        }) { live throws in
            // Each host is only verifiable with its own certificate as the trust anchor.
            #expect(try await Self.curl(port: live.port, ca: api.certificate, host: "api.example.test").status == 0)
            #expect(try await Self.curl(port: live.port, ca: wildcard.certificate, host: "www.example.test").status == 0)
            #expect(try await Self.curl(port: live.port, ca: fallback.certificate, host: "localhost").status == 0)
            #expect(try await Self.curl(port: live.port, ca: fallback.certificate, host: "api.example.test").status != 0)
        }
    }

    @Test func reloadPresentsNewCertificatesToNewConnections() async throws {
        let directory = try TemporaryDirectory()
        let first = try await Self.makeCertificate(.ecdsa, host: "localhost", in: directory, name: "first")
        let second = try await Self.makeCertificate(.rsa, host: "localhost", in: directory, name: "second")
        let live = directory.file("live.pem")
        let liveKey = directory.file("live-key.pem")
        func install(_ pem: (certificate: String, key: String)) throws {
            try? FileManager.default.removeItem(atPath: live)
            try? FileManager.default.removeItem(atPath: liveKey)
            try FileManager.default.copyItem(atPath: pem.certificate, toPath: live)
            try FileManager.default.copyItem(atPath: pem.key, toPath: liveKey)
        }
        try install(first)
        try await withLiveServer(Self.describing, configure: {
            $0.tls = ServerTLSConfiguration(certificateChainFile: live, privateKeyFile: liveKey)
        }) { server throws in
            #expect(try await Self.curl(port: server.port, ca: first.certificate).status == 0)
            try install(second)
            #expect(try await Self.curl(port: server.port, ca: first.certificate).status == 0, "not reloaded yet")
            try server.server.reloadTLS()
            #expect(try await Self.curl(port: server.port, ca: second.certificate).status == 0)
            #expect(try await Self.curl(port: server.port, ca: first.certificate).status != 0)

            // A broken key is refused and the working certificate stays.
            try Data("not a key".utf8).write(to: URL(fileURLWithPath: liveKey))
            #expect(throws: TLSConfigurationError.self) { try server.server.reloadTLS() }
            #expect(try await Self.curl(port: server.port, ca: second.certificate).status == 0)
        }
    }

    /// A CA, and a client certificate it signed, made with openssl.
    static func makeClientCertificate(in directory: TemporaryDirectory) async throws
        -> (ca: String, certificate: String, key: String)
    {
        let ca = directory.file("ca.pem")
        let caKey = directory.file("ca-key.pem")
        var result = try await CommandLineTool.run(
            "openssl",
            ["req", "-x509", "-nodes", "-days", "2", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-keyout", caKey, "-out", ca, "-subj", "/CN=Test Client CA"])
        try #require(result.status == 0, "\(result.stderr)")
        let key = directory.file("client-key.pem")
        let request = directory.file("client.csr")
        result = try await CommandLineTool.run(
            "openssl",
            ["req", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout", key, "-out",
             request, "-subj", "/CN=alice"])
        try #require(result.status == 0, "\(result.stderr)")
        let certificate = directory.file("client.pem")
        result = try await CommandLineTool.run(
            "openssl",
            ["x509", "-req", "-in", request, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "2", "-out",
             certificate])
        try #require(result.status == 0, "\(result.stderr)")
        return (ca, certificate, key)
    }

    @Test func requiredClientCertificatesAreVerified() async throws {
        let directory = try TemporaryDirectory()
        let server = try await Self.makeCertificate(.ecdsa, host: "localhost", in: directory, name: "server")
        let client = try await Self.makeClientCertificate(in: directory)
        let stranger = try await Self.makeCertificate(.ecdsa, host: "mallory", in: directory, name: "stranger")
        try await withLiveServer(Self.describing, configure: {
            var tls = ServerTLSConfiguration(certificateChainFile: server.certificate, privateKeyFile: server.key)
            tls.clientCertificates = .required(trustRoots: .file(client.ca))
            $0.tls = tls
        }) { live throws in
            for version in ["--http2", "--http1.1"] {
                let signed = try await Self.curl(
                    port: live.port, ca: server.certificate, [version, "--cert", client.certificate, "--key", client.key])
                #expect(signed.stdout.hasSuffix("client=CN=alice"), "\(signed.stdout) \(signed.stderr)")
            }
            let without = try await Self.curl(port: live.port, ca: server.certificate)
            #expect(without.status != 0 && without.stdout.isEmpty)
            let unsigned = try await Self.curl(
                port: live.port, ca: server.certificate, ["--cert", stranger.certificate, "--key", stranger.key])
            #expect(unsigned.status != 0 && unsigned.stdout.isEmpty)
        }
    }

    @Test func optionalClientCertificates() async throws {
        let directory = try TemporaryDirectory()
        let server = try await Self.makeCertificate(.rsa, host: "localhost", in: directory, name: "server")
        let client = try await Self.makeClientCertificate(in: directory)
        try await withLiveServer(Self.describing, configure: {
            var tls = ServerTLSConfiguration(certificateChainFile: server.certificate, privateKeyFile: server.key)
            tls.clientCertificates = .optional(trustRoots: .file(client.ca))
            $0.tls = tls
        }) { live throws in
            let anonymous = try await Self.curl(port: live.port, ca: server.certificate)
            #expect(anonymous.stdout.hasSuffix("client=none"), "\(anonymous.stderr)")
            let signed = try await Self.curl(
                port: live.port, ca: server.certificate, ["--cert", client.certificate, "--key", client.key])
            #expect(signed.stdout.hasSuffix("client=CN=alice"), "\(signed.stderr)")
        }
    }

    @Test func developmentCertificateIsMadeOnceAndTrusted() async throws {
        let directory = try TemporaryDirectory()
        let made = try DevelopmentCertificate.loadOrCreate(in: directory.path)
        let again = try DevelopmentCertificate.loadOrCreate(in: directory.path)
        #expect(made.certificatePEM == again.certificatePEM)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.file("key.pem"))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        // openssl computes the same SPKI hash Chromium is given.
        let pipeline = try await CommandLineTool.run(
            "bash",
            ["-c",
             "openssl x509 -in \(directory.file("cert.pem")) -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"])
        #expect(pipeline.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == (try made.spkiHash))

        try await withLiveServer(Self.describing, configure: { $0.tls = made.tlsConfiguration }) { live throws in
            for host in ["localhost", "127.0.0.1"] {
                let result = try await CommandLineTool.run(
                    "curl",
                    ["-sS", "--max-time", "10", "--cacert", directory.file("cert.pem"),
                     host == "localhost" ? "https://localhost:\(live.port)/" : "https://127.0.0.1:\(live.port)/"])
                #expect(result.stdout.hasPrefix("HTTP/2 secure=true"), "\(host): \(result.stderr)")
            }
        }
    }

    @Test func altSvcIsAnnouncedOnBothProtocols() async throws {
        let certificate = try DevelopmentCertificate()
        try await withLiveServer(Self.describing, configure: {
            $0.tls = certificate.tlsConfiguration
            $0.altSvc = "h3=\":443\"; ma=86400"
        }) { live throws in
            let directory = try TemporaryDirectory()
            try Data(certificate.certificatePEM.utf8).write(to: URL(fileURLWithPath: directory.file("cert.pem")))
            for version in ["--http2", "--http1.1"] {
                let head = try await Self.curl(port: live.port, ca: directory.file("cert.pem"), [version, "-sI"])
                #expect(head.stdout.lowercased().contains("alt-svc: h3=\":443\"; ma=86400"), "\(head.stdout)")
            }
        }
    }

    @Test func aSilentClientIsDroppedBeforeTheHandshake() async throws {
        try await withLiveServer(Self.describing, configure: {
            $0.tls = try? DevelopmentCertificate().tlsConfiguration
            $0.requestHeadTimeout = .milliseconds(300)
        }) { live throws in
            let connection = try await RawConnection.connect(port: live.port)
            let state = await connection.readUntilClosed(timeout: .seconds(3))
            #expect(state.closed)
        }
    }
}
