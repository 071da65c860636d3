import CNIOBoringSSL

/// QUIC's encryption levels (RFC 9001 §4), as the TLS handshake moves through them.
public enum QUICEncryptionLevel: Int, Sendable, Comparable, CaseIterable {
    case initial = 0, earlyData = 1, handshake = 2, application = 3

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What the TLS handshake asks the QUIC connection to do.
public enum QUICTLSEvent: Sendable, Equatable {
    /// Keys for reading (`write` false) or writing at `level` are ready.
    case secret(level: QUICEncryptionLevel, write: Bool, suite: QUICCipherSuite, secret: [UInt8])
    /// Send these handshake bytes in CRYPTO frames at `level`.
    case handshakeData(level: QUICEncryptionLevel, bytes: [UInt8])
    /// The handshake is complete (ALPN and the peer's transport parameters are known).
    case complete
}

/// How an endpoint runs TLS 1.3 for QUIC.
public struct QUICTLSConfiguration: Sendable {
    /// The application protocols (ALPN) offered (client) or accepted, in preference order (server).
    public var applicationProtocols: [String]
    /// The server's certificate chain and private key (PEM).
    public var certificateChainPEM: String?
    public var privateKeyPEM: String?
    /// Certificates the client trusts (PEM); nil: the system's.
    public var trustRootsPEM: String?
    /// Skip the server certificate check (tests only).
    public var insecureSkipVerification = false

    public init(
        applicationProtocols: [String], certificateChainPEM: String? = nil, privateKeyPEM: String? = nil,
        trustRootsPEM: String? = nil, insecureSkipVerification: Bool = false
    ) {
        self.applicationProtocols = applicationProtocols
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
        self.trustRootsPEM = trustRootsPEM
        self.insecureSkipVerification = insecureSkipVerification
    }
}

/// Why TLS failed: a configuration problem, or the handshake ending with an alert (sent as
/// CRYPTO_ERROR 0x100 + alert).
public enum QUICTLSError: Error, Sendable, Equatable {
    case configuration(String)
    case handshakeFailed(alert: UInt8?, reason: String)
}

/// A TLS configuration made ready once — certificate chain and key parsed, trust roots loaded,
/// TLS 1.3 only — and shared by every connection of an endpoint.
public final class QUICTLSContext: @unchecked Sendable {
    // Unchecked: the SSL_CTX is fully configured in `init` and only read afterwards; BoringSSL
    // allows SSL_new on one SSL_CTX from several threads at once.
    let context: OpaquePointer
    let configuration: QUICTLSConfiguration
    let isServer: Bool

    /// Prepares `configuration` for a server (it needs a certificate chain and key) or a client.
    public init(_ configuration: QUICTLSConfiguration, server: Bool) throws {
        guard let context = SSL_CTX_new(TLS_method()) else { throw QUICTLSError.configuration("SSL_CTX_new failed") }
        self.context = context
        self.configuration = configuration
        self.isServer = server
        SSL_CTX_set_min_proto_version(context, UInt16(TLS1_3_VERSION))
        SSL_CTX_set_max_proto_version(context, UInt16(TLS1_3_VERSION))
        if server { try configureServer() } else { try configureClient() }
    }

    deinit { SSL_CTX_free(context) }

    private func configureClient() throws {
        if configuration.insecureSkipVerification {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            return
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let roots = configuration.trustRootsPEM {
            let store = SSL_CTX_get_cert_store(context)
            for certificate in try QUICTLS.certificates(roots) {
                X509_STORE_add_cert(store, certificate)
                X509_free(certificate)
            }
        } else {
            SSL_CTX_set_default_verify_paths(context)
        }
    }

    private func configureServer() throws {
        guard let chainPEM = configuration.certificateChainPEM, let keyPEM = configuration.privateKeyPEM else {
            throw QUICTLSError.configuration("a server needs a certificate chain and a private key")
        }
        let chain = try QUICTLS.certificates(chainPEM)
        defer { for certificate in chain { X509_free(certificate) } }
        guard let leaf = chain.first, SSL_CTX_use_certificate(context, leaf) == 1 else {
            throw QUICTLSError.configuration("the certificate chain holds no usable certificate")
        }
        for intermediate in chain.dropFirst() { SSL_CTX_add1_chain_cert(context, intermediate) }
        let key = try keyPEM.withCString { text -> OpaquePointer in
            let bio = BIO_new_mem_buf(text, -1)
            defer { BIO_free(bio) }
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
                throw QUICTLSError.configuration("the private key is not PEM")
            }
            return key
        }
        defer { EVP_PKEY_free(key) }
        guard SSL_CTX_use_PrivateKey(context, key) == 1, SSL_CTX_check_private_key(context) == 1 else {
            throw QUICTLSError.configuration("the private key does not match the certificate")
        }
        SSL_CTX_set_alpn_select_cb(context, QUICTLS.selectProtocol, nil)
    }
}

/// TLS 1.3 through BoringSSL's QUIC API (RFC 9001 §4): handshake bytes go in and out per
/// encryption level, and the traffic secrets come out as events — no records, no I/O. The only
/// file that talks to BoringSSL.
public final class QUICTLS {
    private let shared: QUICTLSContext
    private let ssl: OpaquePointer
    private var events: [QUICTLSEvent] = []
    private var alert: UInt8?
    private var applicationProtocols: [String] { shared.configuration.applicationProtocols }
    public private(set) var isComplete = false

    /// A handshake for a client (connecting to `serverName`) or a server (as `context` says),
    /// sending `transportParameters` (the encoded RFC 9000 §18 parameters).
    public init(context: QUICTLSContext, serverName: String? = nil, transportParameters: [UInt8]) throws {
        shared = context
        guard let ssl = SSL_new(context.context) else { throw QUICTLSError.configuration("SSL_new failed") }
        self.ssl = ssl
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
        SSL_set_quic_method(ssl, &Self.method)
        SSL_set_quic_use_legacy_codepoint(ssl, 0)
        _ = transportParameters.withUnsafeBufferPointer { SSL_set_quic_transport_params(ssl, $0.baseAddress, $0.count) }
        if context.isServer {
            SSL_set_accept_state(ssl)
        } else {
            try configureClient(serverName: serverName)
            SSL_set_connect_state(ssl)
        }
    }

    /// A handshake with a configuration of its own (see `QUICTLSContext` to share one).
    public convenience init(client: Bool, serverName: String? = nil, transportParameters: [UInt8], configuration: QUICTLSConfiguration) throws {
        try self.init(context: QUICTLSContext(configuration, server: !client), serverName: serverName, transportParameters: transportParameters)
    }

    deinit { SSL_free(ssl) }

    private func configureClient(serverName: String?) throws {
        var wire: [UInt8] = []
        for name in applicationProtocols {
            wire.append(UInt8(name.utf8.count))
            wire += name.utf8
        }
        guard wire.withUnsafeBufferPointer({ SSL_set_alpn_protos(ssl, $0.baseAddress, $0.count) }) == 0 else {
            throw QUICTLSError.configuration("bad ALPN list")
        }
        if let serverName {
            SSL_set_tlsext_host_name(ssl, serverName)
            if !shared.configuration.insecureSkipVerification {
                _ = serverName.withCString { X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), $0, serverName.utf8.count) }
            }
        }
    }

    /// Every certificate in a PEM text.
    static func certificates(_ pem: String) throws -> [OpaquePointer] {
        try pem.withCString { text in
            let bio = BIO_new_mem_buf(text, -1)
            defer { BIO_free(bio) }
            var certificates: [OpaquePointer] = []
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) { certificates.append(certificate) }
            ERR_clear_error()
            guard !certificates.isEmpty else { throw QUICTLSError.configuration("no PEM certificate") }
            return certificates
        }
    }

    /// Starts the handshake (a client's first flight).
    public func start() throws -> [QUICTLSEvent] {
        try advance()
    }

    /// Hands TLS the CRYPTO bytes received at `level` (in order); returns what it asks for.
    public func receive(_ bytes: [UInt8], at level: QUICEncryptionLevel) throws -> [QUICTLSEvent] {
        let level = ssl_encryption_level_t(rawValue: UInt32(level.rawValue))
        guard bytes.withUnsafeBufferPointer({ SSL_provide_quic_data(ssl, level, $0.baseAddress, $0.count) }) == 1 else {
            throw QUICTLSError.handshakeFailed(alert: alert, reason: Self.lastError())
        }
        if isComplete {
            guard SSL_process_quic_post_handshake(ssl) == 1 else {
                throw QUICTLSError.handshakeFailed(alert: alert, reason: Self.lastError())
            }
            return take()
        }
        return try advance()
    }

    private func advance() throws -> [QUICTLSEvent] {
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            if !isComplete {
                isComplete = true
                events.append(.complete)
            }
        } else if SSL_get_error(ssl, result) != SSL_ERROR_WANT_READ {
            throw QUICTLSError.handshakeFailed(alert: alert, reason: Self.lastError())
        }
        return take()
    }

    private func take() -> [QUICTLSEvent] {
        defer { events = [] }
        return events
    }

    /// The negotiated application protocol, once complete.
    public var applicationProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The peer's encoded transport parameters, once received.
    public var peerTransportParameters: [UInt8] {
        var data: UnsafePointer<UInt8>?
        var length = 0
        SSL_get_peer_quic_transport_params(ssl, &data, &length)
        guard let data else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: length))
    }

    private static func lastError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "the TLS handshake failed" }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: BoringSSL's callbacks

    private static func instance(_ ssl: OpaquePointer?) -> QUICTLS {
        Unmanaged<QUICTLS>.fromOpaque(SSL_get_ex_data(ssl, 0)!).takeUnretainedValue()
    }

    private static func suite(_ cipher: OpaquePointer?) -> QUICCipherSuite? {
        switch SSL_CIPHER_get_protocol_id(cipher) {
        case 0x1301: .aes128GCMSHA256
        case 0x1302: .aes256GCMSHA384
        case 0x1303: .chacha20Poly1305SHA256
        default: nil
        }
    }

    private static func secret(
        _ ssl: OpaquePointer?, _ level: ssl_encryption_level_t, _ cipher: OpaquePointer?, _ secret: UnsafePointer<UInt8>?, _ length: Int,
        write: Bool
    ) -> Int32 {
        guard let suite = suite(cipher), let secret, let level = QUICEncryptionLevel(rawValue: Int(level.rawValue)) else { return 0 }
        instance(ssl).events.append(.secret(level: level, write: write, suite: suite, secret: Array(UnsafeBufferPointer(start: secret, count: length))))
        return 1
    }

    /// The QUIC hooks (BoringSSL keeps a pointer to them; never written after start-up).
    nonisolated(unsafe) private static var method = ssl_quic_method_st(
        set_read_secret: { ssl, level, cipher, secret, length in QUICTLS.secret(ssl, level, cipher, secret, length, write: false) },
        set_write_secret: { ssl, level, cipher, secret, length in QUICTLS.secret(ssl, level, cipher, secret, length, write: true) },
        add_handshake_data: { ssl, level, data, length in
            guard let data, let level = QUICEncryptionLevel(rawValue: Int(level.rawValue)) else { return 0 }
            instance(ssl).events.append(.handshakeData(level: level, bytes: Array(UnsafeBufferPointer(start: data, count: length))))
            return 1
        },
        flush_flight: { _ in 1 },
        send_alert: { ssl, _, alert in
            instance(ssl).alert = alert
            return 1
        })

    /// The server's ALPN choice: its first protocol the client offers; none → no_application_protocol.
    static let selectProtocol:
        @convention(c) (
            OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?, UnsafePointer<UInt8>?,
            UInt32, UnsafeMutableRawPointer?
        ) -> Int32 = { ssl, out, outLength, offered, offeredLength, _ in
            guard let offered else { return SSL_TLSEXT_ERR_ALERT_FATAL }
            let list = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
            var index = 0
            var candidates: [(String, Int)] = []
            while index < list.count {
                let length = Int(list[index])
                guard index + 1 + length <= list.count else { break }
                candidates.append((String(decoding: list[(index + 1)..<(index + 1 + length)], as: UTF8.self), index + 1))
                index += 1 + length
            }
            for wanted in instance(ssl).applicationProtocols {
                if let match = candidates.first(where: { $0.0 == wanted }) {
                    out?.pointee = offered + match.1
                    outLength?.pointee = UInt8(wanted.utf8.count)
                    return SSL_TLSEXT_ERR_OK
                }
            }
            return SSL_TLSEXT_ERR_ALERT_FATAL
        }
}

/// Packet and header protection with BoringSSL's primitives (RFC 9001 §5.3, §5.4): the AEAD's
/// and the header cipher's key schedules are set up once per key, and packets are sealed and
/// opened in place.
final class QUICPacketCipher: @unchecked Sendable {
    // Unchecked: both contexts are written only in `init`; BoringSSL's seal, open and block
    // functions only read them.
    private let aead: UnsafeMutablePointer<EVP_AEAD_CTX>
    private let headerKey: [UInt8]
    private let aesHeaderKey: UnsafeMutablePointer<AES_KEY>?

    /// Keys of the suite's lengths (as `QUICPacketKeys` derives them).
    init(suite: QUICCipherSuite, key: [UInt8], headerKey: [UInt8]) {
        let algorithm: OpaquePointer? =
            switch suite {
            case .aes128GCMSHA256: EVP_aead_aes_128_gcm()
            case .aes256GCMSHA384: EVP_aead_aes_256_gcm()
            case .chacha20Poly1305SHA256: EVP_aead_chacha20_poly1305()
            }
        let aead = UnsafeMutablePointer<EVP_AEAD_CTX>.allocate(capacity: 1)
        self.aead = aead
        let initialized = key.withUnsafeBufferPointer { EVP_AEAD_CTX_init(aead, algorithm, $0.baseAddress, $0.count, 16, nil) }
        precondition(initialized == 1, "a \(key.count)-byte key for \(suite)")
        self.headerKey = headerKey
        if suite == .chacha20Poly1305SHA256 {
            aesHeaderKey = nil
        } else {
            let schedule = UnsafeMutablePointer<AES_KEY>.allocate(capacity: 1)
            _ = headerKey.withUnsafeBufferPointer { AES_set_encrypt_key($0.baseAddress, UInt32($0.count * 8), schedule) }
            aesHeaderKey = schedule
        }
    }

    deinit {
        EVP_AEAD_CTX_cleanup(aead)
        aead.deallocate()
        aesHeaderKey?.deallocate()
    }

    /// Seals `packet[payloadStart..<packet.count - 16]` in place (the last 16 bytes receive the
    /// tag), authenticating `packet[..<payloadStart]`.
    func seal(_ packet: inout [UInt8], payloadStart: Int, nonce: [UInt8]) -> Bool {
        let payloadLength = packet.count - 16 - payloadStart
        return packet.withUnsafeMutableBufferPointer { bytes in
            nonce.withUnsafeBufferPointer { nonce in
                var written = 0
                let base = bytes.baseAddress!
                return EVP_AEAD_CTX_seal(
                    aead, base + payloadStart, &written, payloadLength + 16, nonce.baseAddress, nonce.count, base + payloadStart, payloadLength,
                    base, payloadStart) == 1
            }
        }
    }

    /// Opens `packet[payloadStart...]` (ciphertext and tag) in place, authenticating the header
    /// before it; the plaintext's length, or nil when it does not authenticate.
    func open(_ packet: inout [UInt8], payloadStart: Int, nonce: [UInt8]) -> Int? {
        let sealedLength = packet.count - payloadStart
        return packet.withUnsafeMutableBufferPointer { bytes in
            nonce.withUnsafeBufferPointer { nonce in
                var written = 0
                let base = bytes.baseAddress!
                let opened = EVP_AEAD_CTX_open(
                    aead, base + payloadStart, &written, sealedLength, nonce.baseAddress, nonce.count, base + payloadStart, sealedLength,
                    base, payloadStart)
                ERR_clear_error()
                return opened == 1 ? written : nil
            }
        }
    }

    /// The header-protection mask (5 bytes) from the 16-byte sample at `sampleStart`.
    func mask(_ packet: [UInt8], sampleStart: Int) -> (UInt8, UInt8, UInt8, UInt8, UInt8) {
        var block = [UInt8](repeating: 0, count: 16)
        packet.withUnsafeBufferPointer { bytes in
            let sample = bytes.baseAddress! + sampleStart
            if let aesHeaderKey {
                AES_encrypt(sample, &block, aesHeaderKey)
            } else {
                // ChaCha20: the sample's first 4 bytes are the counter (little-endian), the rest the nonce.
                let counter = UInt32(sample[0]) | UInt32(sample[1]) << 8 | UInt32(sample[2]) << 16 | UInt32(sample[3]) << 24
                let zeros = [UInt8](repeating: 0, count: 5)
                headerKey.withUnsafeBufferPointer { key in CRYPTO_chacha_20(&block, zeros, 5, key.baseAddress, sample + 4, counter) }
            }
        }
        return (block[0], block[1], block[2], block[3], block[4])
    }
}
