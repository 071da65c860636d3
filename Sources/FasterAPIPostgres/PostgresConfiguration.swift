import Foundation
import NIOCore
import NIOSSL
import PostgresNIO

/// Where PostgreSQL is, how to log in, and how the pool behaves.
///
/// From a URL in libpq's form (`sslmode`, `sslrootcert`, `application_name`, `connect_timeout`
/// and `host=/socket/dir` are understood, plus `statement_timeout` in milliseconds and the pool's
/// `pool_min` and `pool_max`):
///
/// ```swift
/// let config = try PostgresConfiguration(url: "postgres://app:secret@db:5432/shop?sslmode=verify-full&pool_max=32")
/// ```
/// or field by field. Passwords are sent with SCRAM-SHA-256 when the server asks for it.
public struct PostgresConfiguration: Sendable {
    /// How the server is reached.
    public enum Endpoint: Sendable, Equatable {
        /// A TCP host and port.
        case tcp(host: String, port: Int)
        /// A unix-domain socket file (`/run/postgresql/.s.PGSQL.5432`).
        case unixSocket(path: String)
    }

    /// Whether the connection is encrypted, and how the server's certificate is checked.
    public struct TLS: Sendable {
        /// Whether TLS is used.
        public enum Mode: Sendable { case disable, prefer, require }
        /// How much of the server's certificate is checked.
        public enum Verification: Sendable {
            /// Encrypted, but the certificate is not checked (libpq's `require`).
            case none
            /// The certificate must chain to a trusted root (`verify-ca`).
            case certificate
            /// As `.certificate`, and it must name the host (`verify-full`).
            case full
        }

        /// Whether TLS is used.
        public var mode: Mode
        /// How the certificate is checked.
        public var verification: Verification
        /// A PEM file of trusted roots; nil trusts the system's roots.
        public var rootCertificatePath: String?

        /// No TLS.
        public static let disable = TLS(mode: .disable, verification: .none)
        /// TLS if the server offers it, without checking its certificate (libpq's default).
        public static let prefer = TLS(mode: .prefer, verification: .none)

        /// TLS required, checked as `verification` says, against `rootCertificatePath` or the
        /// system's roots.
        public static func require(verification: Verification = .full, rootCertificatePath: String? = nil) -> TLS {
            TLS(mode: .require, verification: verification, rootCertificatePath: rootCertificatePath)
        }

        /// A TLS setting.
        public init(mode: Mode, verification: Verification, rootCertificatePath: String? = nil) {
            self.mode = mode
            self.verification = verification
            self.rootCertificatePath = rootCertificatePath
        }
    }

    /// How result columns meet a `Decodable` type's keys.
    public enum ColumnNaming: Sendable {
        /// Keys match column names exactly.
        case exact
        /// `unit_price` also fills `unitPrice` (exact matches still work).
        case snakeCaseToCamelCase
    }

    /// Where the server is.
    public var endpoint: Endpoint
    /// The role to log in as.
    public var username: String
    /// Its password (nil for trust or peer authentication).
    public var password: String?
    /// The database; nil uses the server's default (the user's name).
    public var database: String?
    /// TLS; `.prefer` by default, like libpq.
    public var tls = TLS.prefer
    /// Reported to the server as `application_name` (seen in `pg_stat_activity`).
    public var applicationName: String?
    /// The server cancels statements running longer than this (`statement_timeout`).
    public var statementTimeout: Duration?
    /// How long opening a connection may take.
    public var connectTimeout: Duration = .seconds(10)
    /// Connections the pool keeps open even when idle.
    public var minimumConnections = 0
    /// The most connections the pool opens.
    public var maximumConnections = 16
    /// Idle connections above the minimum are closed after this long.
    public var idleTimeout: Duration = .seconds(60)
    /// How long a caller waits for a free connection before getting an error.
    public var acquireTimeout: Duration = .seconds(10)
    /// While the server cannot be reached, callers wait at most this long instead (they fail
    /// fast, and succeed again as soon as a connection opens).
    public var unavailableTimeout: Duration = .milliseconds(250)
    /// Idle connections are checked with `SELECT 1` this often (nil: never).
    public var keepAliveInterval: Duration? = .seconds(30)
    /// Prepared statements kept per connection (at least 1), least recently used dropped first.
    public var statementCacheCapacity = 128
    /// How result columns meet `Decodable` keys.
    public var columnNaming = ColumnNaming.snakeCaseToCamelCase

    /// A configuration from fields.
    public init(
        endpoint: Endpoint, username: String, password: String? = nil, database: String? = nil, tls: TLS = .prefer
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// A configuration from a `postgres://` or `postgresql://` URL.
    public init(url: String) throws {
        let parsed = try PostgresURL(url)
        self.init(endpoint: parsed.endpoint, username: parsed.username, password: parsed.password, database: parsed.database)
        for (name, value) in parsed.parameters {
            try apply(name, value)
        }
    }

    private mutating func apply(_ name: String, _ value: String) throws {
        func integer() throws -> Int {
            guard let number = Int(value), number >= 0 else {
                throw PostgresConfigurationError("'\(name)' must be a non-negative integer, not '\(value)'")
            }
            return number
        }
        switch name {
        case "sslmode":
            let path = tls.rootCertificatePath
            switch value {
            case "disable": tls = .disable
            case "allow", "prefer": tls = .prefer
            case "require": tls = .require(verification: path == nil ? .none : .certificate, rootCertificatePath: path)
            case "verify-ca": tls = .require(verification: .certificate, rootCertificatePath: path)
            case "verify-full": tls = .require(verification: .full, rootCertificatePath: path)
            default: throw PostgresConfigurationError("unknown sslmode '\(value)'")
            }
        case "sslrootcert":
            tls.rootCertificatePath = value
            if tls.mode == .require, tls.verification == .none { tls.verification = .certificate }
        case "application_name": applicationName = value
        case "statement_timeout": statementTimeout = .milliseconds(try integer())
        case "connect_timeout":
            let seconds = try integer()
            connectTimeout = seconds == 0 ? .seconds(86_400) : .seconds(seconds)  // 0: no limit, as in libpq
        case "pool_min": minimumConnections = try integer()
        case "pool_max": maximumConnections = max(1, try integer())
        case "host", "port", "user", "password", "dbname": break  // taken by PostgresURL
        case "channel_binding", "gssencmode", "target_session_attrs": break  // libpq's, not needed here
        default: throw PostgresConfigurationError("unknown URL parameter '\(name)'")
        }
    }

    /// The settings of one connection, as PostgresNIO takes them.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch endpoint {
        case .tcp(let host, let port):
            configuration = PostgresConnection.Configuration(
                host: host, port: port, username: username, password: password, database: database,
                tls: try connectionTLS())
        case .unixSocket(let path):
            configuration = PostgresConnection.Configuration(
                unixSocketPath: path, username: username, password: password, database: database)
        }
        configuration.options.connectTimeout = TimeAmount(connectTimeout)
        if let applicationName {
            configuration.options.additionalStartupParameters.append(("application_name", applicationName))
        }
        if let statementTimeout {
            // Rounded up: 0 would turn the timeout off.
            let milliseconds = Int((statementTimeout / .milliseconds(1)).rounded(.up))
            configuration.options.additionalStartupParameters.append(("statement_timeout", "\(max(1, milliseconds))"))
        }
        return configuration
    }

    private func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        guard tls.mode != .disable else { return .disable }
        var client = NIOSSL.TLSConfiguration.makeClientConfiguration()
        switch tls.verification {
        case .none: client.certificateVerification = .none
        case .certificate: client.certificateVerification = .noHostnameVerification
        case .full: client.certificateVerification = .fullVerification
        }
        if let path = tls.rootCertificatePath {
            client.trustRoots = .file(path)
        }
        let context = try NIOSSLContext(configuration: client)
        return tls.mode == .prefer ? .prefer(context) : .require(context)
    }
}

/// A configuration that cannot be used, and why.
public struct PostgresConfigurationError: Error, CustomStringConvertible {
    /// What is wrong.
    public let description: String

    init(_ description: String) { self.description = description }
}

/// The parts of a libpq connection URL.
struct PostgresURL {
    var endpoint: PostgresConfiguration.Endpoint
    var username: String
    var password: String?
    var database: String?
    var parameters: [(String, String)] = []

    init(_ url: String) throws {
        guard let schemeEnd = url.range(of: "://"),
            ["postgres", "postgresql"].contains(url[..<schemeEnd.lowerBound].lowercased())
        else {
            throw PostgresConfigurationError("a database URL starts with postgres:// or postgresql://")
        }
        var rest = url[schemeEnd.upperBound...]
        if let question = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: question)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                parameters.append((try Self.decode(parts[0]), try Self.decode(parts.count > 1 ? parts[1] : "")))
            }
            rest = rest[..<question]
        }
        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let name = try Self.decode(rest[rest.index(after: slash)...])
            database = name.isEmpty ? nil : name
        }
        username = ""
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                username = try Self.decode(userInfo[..<colon])
                password = try Self.decode(userInfo[userInfo.index(after: colon)...])
            } else {
                username = try Self.decode(userInfo)
            }
        }
        var host = "localhost"
        var port = 5432
        if !authority.isEmpty {
            var hostPart = authority
            var portPart: Substring?
            if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
                hostPart = authority[authority.index(after: authority.startIndex)..<close]
                let after = authority[authority.index(after: close)...]
                if after.hasPrefix(":") { portPart = after.dropFirst() }
            } else if let colon = authority.lastIndex(of: ":") {
                hostPart = authority[..<colon]
                portPart = authority[authority.index(after: colon)...]
            }
            if !hostPart.isEmpty { host = try Self.decode(hostPart) }
            if let portPart {
                guard let number = Int(portPart), (1...65535).contains(number) else {
                    throw PostgresConfigurationError("'\(portPart)' is not a port number")
                }
                port = number
            }
        }
        for (name, value) in parameters {
            switch name {
            case "host": host = value
            case "port":
                guard let number = Int(value), (1...65535).contains(number) else {
                    throw PostgresConfigurationError("'\(value)' is not a port number")
                }
                port = number
            case "user": username = value
            case "password": password = value
            case "dbname": database = value
            default: break
            }
        }
        guard !username.isEmpty else { throw PostgresConfigurationError("the database URL names no user") }
        // libpq's convention: a host starting with "/" is the directory of the server's socket.
        endpoint = host.hasPrefix("/") ? .unixSocket(path: "\(host)/.s.PGSQL.\(port)") : .tcp(host: host, port: port)
    }

    private static func decode(_ text: Substring) throws -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw PostgresConfigurationError("bad percent-encoding in '\(text)'")
        }
        return decoded
    }
}
