import Foundation

/// Where a client connects, from a URL: host, port, TLS, the request target and `Host` value.
struct ClientTarget {
    let host: String
    let port: Int
    let secure: Bool
    /// The path and query, percent-encoded as given.
    let target: String
    /// The `Host` field: the host (bracketed if IPv6) and the port if the URL named one.
    let hostField: String
    /// The name to send by SNI and verify the certificate against: nil for an IP address.
    var serverName: String? {
        host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : host
    }

    /// Reads `url`, whose scheme must be `plain` or `secure` (`ws`/`wss`, `http`/`https`).
    init?(url: String, plain: String, secure: String) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == plain || scheme == secure, let host = components.host, !host.isEmpty
        else { return nil }
        self.host = host
        self.secure = scheme == secure
        self.port = components.port ?? (self.secure ? 443 : 80)
        var target = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { target += "?" + query }
        self.target = target
        let bracketed = host.contains(":") ? "[\(host)]" : host
        self.hostField = components.port.map { "\(bracketed):\($0)" } ?? bracketed
    }
}

/// An HTTP/1.1 response head as a client reads it.
struct ClientResponseHead {
    let status: Int
    /// The status line after the code ("Unauthorized").
    let reason: String
    /// Fields with lowercased names, in order.
    let fields: [(name: String, value: String)]

    /// Parses the text up to (and including) the blank line; nil if it is not an HTTP/1.x head.
    init?(_ text: String) {
        var lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        guard !lines.isEmpty else { return nil }
        let parts = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else { return nil }
        var fields: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            fields.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        self.status = status
        self.reason = parts.count > 2 ? String(parts[2]) : ""
        self.fields = fields
    }

    /// The values of the field `name` (lowercase).
    func values(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }

    /// The comma-separated tokens of the field `name`, lowercased.
    func tokens(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }
}
