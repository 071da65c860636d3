import Crypto
import Foundation
import SwiftASN1
import X509

/// A self-signed ECDSA P-256 certificate for local development and tests: valid for
/// `localhost`, `127.0.0.1` and `::1` (or the hosts you name), never for production.
///
/// ```swift
/// let certificate = try DevelopmentCertificate.loadOrCreate(in: ".fasterapi/tls")
/// configuration.server.tls = certificate.tlsConfiguration
/// ```
///
/// Clients trust it by its PEM (`curl --cacert cert.pem`), or Chromium by its SPKI hash.
public struct DevelopmentCertificate: Sendable {
    /// The certificate, PEM.
    public let certificatePEM: String
    /// The private key, PEM (PKCS#8).
    public let privateKeyPEM: String

    /// Makes a new certificate for `hosts` (DNS names or IP addresses), valid from an hour ago
    /// for `days` days.
    public init(hosts: [String] = Self.localHosts, days: Int = 90) throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("FasterAPI development")
            CommonName(hosts.first ?? "localhost")
        }
        let names = hosts.map { host -> GeneralName in
            if let address = Self.ipAddressBytes(host) { return .ipAddress(ASN1OctetString(contentBytes: address[...])) }
            return .dnsName(host)
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(Double(days) * 86400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(key))
        self.certificatePEM = try certificate.serializeAsPEM().pemString + "\n"
        self.privateKeyPEM = key.pemRepresentation + "\n"
    }

    private init(certificatePEM: String, privateKeyPEM: String) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// The hosts a development certificate is for by default.
    public static let localHosts = ["localhost", "127.0.0.1", "::1"]

    /// The certificate in `directory` (`cert.pem`, `key.pem`), or a new one written there if
    /// they are missing, expire within a day, or do not cover `hosts`. The key file is private
    /// to the user.
    public static func loadOrCreate(in directory: String, hosts: [String] = localHosts) throws -> DevelopmentCertificate {
        let certificatePath = directory + "/cert.pem"
        let keyPath = directory + "/key.pem"
        if let certificatePEM = try? String(contentsOfFile: certificatePath, encoding: .utf8),
            let keyPEM = try? String(contentsOfFile: keyPath, encoding: .utf8),
            isUsable(certificatePEM, hosts: hosts)
        {
            return DevelopmentCertificate(certificatePEM: certificatePEM, privateKeyPEM: keyPEM)
        }
        let made = try DevelopmentCertificate(hosts: hosts)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(made.privateKeyPEM.utf8).write(to: URL(fileURLWithPath: keyPath))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyPath)
        try Data(made.certificatePEM.utf8).write(to: URL(fileURLWithPath: certificatePath))
        return made
    }

    /// TLS settings presenting this certificate.
    public var tlsConfiguration: ServerTLSConfiguration {
        ServerTLSConfiguration(certificates: [.pem(chain: certificatePEM, privateKey: privateKeyPEM)])
    }

    /// Base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo: what Chromium's
    /// `--ignore-certificate-errors-spki-list` takes.
    public var spkiHash: String {
        get throws {
            let certificate = try Certificate(pemEncoded: certificatePEM)
            var serializer = DER.Serializer()
            try serializer.serialize(certificate.publicKey)
            return Data(SHA256.hash(data: serializer.serializedBytes)).base64EncodedString()
        }
    }

    private static func isUsable(_ pem: String, hosts: [String]) -> Bool {
        guard let certificate = try? Certificate(pemEncoded: pem),
            certificate.notValidAfter > Date().addingTimeInterval(86400),
            let names = try? certificate.extensions.subjectAlternativeNames
        else { return false }
        return hosts.allSatisfy { host in
            if let address = ipAddressBytes(host) {
                return names.contains(.ipAddress(ASN1OctetString(contentBytes: address[...])))
            }
            return names.contains(.dnsName(host))
        }
    }

    /// The bytes of an IPv4 or IPv6 address literal; nil for a host name.
    private static func ipAddressBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
