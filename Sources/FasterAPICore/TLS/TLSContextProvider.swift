import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// The TLS state a listener gives each new connection: the current context, and the
/// certificates by host name for SNI. ``reload()`` reads the material again and swaps it in;
/// connections already open keep what they started with.
final class TLSContextProvider: Sendable {
    let configuration: ServerTLSConfiguration
    private let applicationProtocols: [String]
    private let current: NIOLockedValueBox<NIOSSLContext>
    /// Certificates by SNI name; read by the context's callback, so it is shared with it
    /// (not through `self`, which would make a cycle).
    private let byName: NIOLockedValueBox<CertificatesByName>

    /// Loads the material. `applicationProtocols` are offered by ALPN, most preferred first.
    init(_ configuration: ServerTLSConfiguration, applicationProtocols: [String]) throws {
        self.configuration = configuration
        self.applicationProtocols = applicationProtocols
        let names = NIOLockedValueBox(CertificatesByName())
        let context = try Self.load(configuration, applicationProtocols: applicationProtocols, names: names)
        self.byName = names
        self.current = NIOLockedValueBox(context)
    }

    /// The context for a new connection.
    var context: NIOSSLContext { current.withLockedValue { $0 } }

    /// Reads the certificates and keys again (from their files) and uses them for new
    /// connections. On failure nothing changes.
    func reload() throws {
        let names = NIOLockedValueBox(CertificatesByName())
        let context = try Self.load(configuration, applicationProtocols: applicationProtocols, names: names)
        byName.withLockedValue { $0 = names.withLockedValue { $0 } }
        current.withLockedValue { $0 = context }
    }

    private static func load(
        _ configuration: ServerTLSConfiguration, applicationProtocols: [String],
        names: NIOLockedValueBox<CertificatesByName>
    ) throws -> NIOSSLContext {
        let materials = try configuration.certificates.map(Material.init)
        var tls = try makeTLSConfiguration(configuration, material: materials[0], applicationProtocols: applicationProtocols)
        var table = CertificatesByName()
        for (material, certificate) in zip(materials, configuration.certificates) {
            // A key that does not match its chain fails here, not in a client's handshake.
            var check = tls
            check.certificateChain = material.chain.map { .certificate($0) }
            check.privateKey = .privateKey(material.key)
            check.sslContextCallback = nil
            do {
                _ = try NIOSSLContext(configuration: check)
            } catch {
                throw TLSConfigurationError(description: "\(material.origin): \(error)")
            }
            for name in certificate.serverNames { table.add(name, material) }
        }
        if !table.isEmpty {
            names.withLockedValue { $0 = table }
            let shared = names
            tls.sslContextCallback = { values, promise in
                var override = NIOSSLContextConfigurationOverride()
                if let host = values.serverHostname, let material = shared.withLockedValue({ $0.material(for: host) }) {
                    override.certificateChain = material.chain.map { .certificate($0) }
                    override.privateKey = .privateKey(material.key)
                }
                promise.succeed(override)
            }
        }
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw TLSConfigurationError(description: "TLS configuration: \(error)")
        }
    }

    private static func makeTLSConfiguration(
        _ configuration: ServerTLSConfiguration, material: Material, applicationProtocols: [String]
    ) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: material.chain.map { .certificate($0) }, privateKey: .privateKey(material.key))
        tls.minimumTLSVersion = configuration.minimumVersion == .tls1_3 ? .tlsv13 : .tlsv12
        tls.applicationProtocols = applicationProtocols
        switch configuration.clientCertificates {
        case .none:
            break
        case .optional(let roots):
            tls.certificateVerification = .optionalVerification
            tls.trustRoots = try trustRoots(roots)
            tls.sendCANameList = true
        case .required(let roots):
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = try trustRoots(roots)
            tls.sendCANameList = true
        }
        return tls
    }

    private static func trustRoots(_ roots: TLSTrustRoots) throws -> NIOSSLTrustRoots {
        switch roots {
        case .file(let path):
            do {
                return .certificates(try NIOSSLCertificate.fromPEMFile(path))
            } catch {
                throw TLSConfigurationError(description: "trust roots \(path): \(error)")
            }
        case .pem(let text):
            do {
                return .certificates(try NIOSSLCertificate.fromPEMBytes(Array(text.utf8)))
            } catch {
                throw TLSConfigurationError(description: "trust roots: \(error)")
            }
        }
    }

    /// The peer's certificate (DER) on a TLS connection whose handshake is done, if it sent one.
    static func peerCertificate(of channel: any Channel) -> [UInt8]? {
        guard let handler = try? channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self) else {
            return nil
        }
        return try? handler.peerCertificate?.toDERBytes()
    }
}

/// A chain and key, parsed.
private struct Material: Sendable {
    let chain: [NIOSSLCertificate]
    let key: NIOSSLPrivateKey
    /// Where it came from, for error messages.
    let origin: String

    init(_ certificate: TLSCertificate) throws {
        switch certificate.source {
        case .files(let chainPath, let keyPath):
            origin = chainPath
            do {
                chain = try NIOSSLCertificate.fromPEMFile(chainPath)
            } catch {
                throw TLSConfigurationError(description: "certificate chain \(chainPath): \(error)")
            }
            do {
                key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            } catch {
                throw TLSConfigurationError(description: "private key \(keyPath): \(error)")
            }
        case .pem(let chainText, let keyText):
            origin = "PEM certificate for \(certificate.serverNames.first ?? "the default host")"
            do {
                chain = try NIOSSLCertificate.fromPEMBytes(Array(chainText.utf8))
                key = try NIOSSLPrivateKey(bytes: Array(keyText.utf8), format: .pem)
            } catch {
                throw TLSConfigurationError(description: "\(origin): \(error)")
            }
        }
        guard !chain.isEmpty else { throw TLSConfigurationError(description: "\(origin): no certificate in the PEM") }
    }
}

/// SNI names to certificates: exact names, and `*.example.com` wildcards for one label.
private struct CertificatesByName: Sendable {
    private var exact: [String: Material] = [:]
    private var wildcards: [String: Material] = [:]

    var isEmpty: Bool { exact.isEmpty && wildcards.isEmpty }

    mutating func add(_ name: String, _ material: Material) {
        let name = name.lowercased()
        if name.hasPrefix("*.") {
            wildcards[String(name.dropFirst(2))] = material
        } else {
            exact[name] = material
        }
    }

    func material(for host: String) -> Material? {
        let host = host.lowercased()
        if let material = exact[host] { return material }
        guard let dot = host.firstIndex(of: ".") else { return nil }
        return wildcards[String(host[host.index(after: dot)...])]
    }
}
