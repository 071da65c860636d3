/// TLS for a listener: the certificates it presents (one per host name, chosen by SNI), the
/// protocol versions it accepts, and whether clients must present certificates.
///
/// Over TLS the listener offers HTTP/2 and HTTP/1.1 by ALPN (`h2`, `http/1.1`), so one port
/// serves both.
public struct ServerTLSConfiguration: Sendable {
    /// The certificates. The first is presented when the client names no host (or one no
    /// certificate is for); the others when the client's SNI name matches their ``TLSCertificate/serverNames``.
    public var certificates: [TLSCertificate]
    /// The oldest TLS version accepted; TLS 1.2 by default (TLS 1.3 is always offered).
    public var minimumVersion: TLSProtocolVersion = .tls1_2
    /// Whether clients present certificates, and which authorities they must chain to.
    public var clientCertificates: ClientCertificatePolicy = .none

    /// Presents `certificates` (the first is the default).
    public init(certificates: [TLSCertificate]) {
        precondition(!certificates.isEmpty, "TLS needs at least one certificate")
        self.certificates = certificates
    }

    /// Presents the certificate chain and private key in these PEM files.
    public init(certificateChainFile: String, privateKeyFile: String) {
        self.init(certificates: [.files(chain: certificateChainFile, privateKey: privateKeyFile)])
    }
}

/// A TLS protocol version.
public enum TLSProtocolVersion: Sendable {
    /// TLS 1.2 (RFC 5246).
    case tls1_2
    /// TLS 1.3 (RFC 8446).
    case tls1_3
}

/// A certificate chain and its private key (ECDSA or RSA), in PEM, with the host names it serves.
public struct TLSCertificate: Sendable {
    /// Where the PEM text comes from.
    public enum Source: Sendable {
        /// Files, read when the server starts and again on every reload.
        case files(chain: String, privateKey: String)
        /// PEM text held in memory.
        case pem(chain: String, privateKey: String)
    }

    /// Where the chain and key come from.
    public var source: Source
    /// Host names this certificate is presented for when a client asks for them by SNI
    /// (`api.example.com`, or `*.example.com` for any one label). Empty: only as the default.
    public var serverNames: [String]

    /// A certificate from `source` for `serverNames`.
    public init(source: Source, serverNames: [String] = []) {
        self.source = source
        self.serverNames = serverNames
    }

    /// A chain and key read from PEM files.
    public static func files(chain: String, privateKey: String, serverNames: [String] = []) -> TLSCertificate {
        TLSCertificate(source: .files(chain: chain, privateKey: privateKey), serverNames: serverNames)
    }

    /// A chain and key given as PEM text.
    public static func pem(chain: String, privateKey: String, serverNames: [String] = []) -> TLSCertificate {
        TLSCertificate(source: .pem(chain: chain, privateKey: privateKey), serverNames: serverNames)
    }
}

/// Whether clients authenticate with certificates (mutual TLS).
public enum ClientCertificatePolicy: Sendable {
    /// Clients are not asked for a certificate.
    case none
    /// Clients may present a certificate; one that is presented must chain to `trustRoots`.
    case optional(trustRoots: TLSTrustRoots)
    /// Clients must present a certificate that chains to `trustRoots`; others fail the handshake.
    case required(trustRoots: TLSTrustRoots)
}

/// Certificate authorities, in PEM.
public enum TLSTrustRoots: Sendable {
    /// A PEM file of one or more CA certificates.
    case file(String)
    /// PEM text of one or more CA certificates.
    case pem(String)
}

/// Errors in TLS material.
public struct TLSConfigurationError: Error, CustomStringConvertible {
    /// What is wrong, naming the file or certificate.
    public let description: String
}
