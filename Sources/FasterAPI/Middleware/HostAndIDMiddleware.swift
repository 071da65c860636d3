import FasterAPICore
import Foundation

/// Refuses requests whose `Host` is not one of the allowed names (400), against DNS rebinding
/// and host-header attacks. Patterns are exact names or `*.example.com` for subdomains; ports
/// are ignored.
public struct TrustedHostMiddleware: Middleware {
    /// Allowed host names and `*.`-prefixed wildcards.
    public var allowedHosts: [String]

    /// Allows only `allowedHosts`, compared case-insensitively.
    public init(allowedHosts: [String]) {
        self.allowedHosts = allowedHosts.map { $0.lowercased() }
    }

    /// Passes the request on if its `Host` is allowed; fails with 400 otherwise.
    public func handle(_ request: Request, next: Next) async throws -> Response {
        guard let host = request.headers["host"].map(Self.hostName), isAllowed(host) else {
            throw HTTPError(.badRequest, detail: "Invalid host header")
        }
        return try await next(request)
    }

    /// The host without its port (IPv6 literals keep their brackets).
    static func hostName(_ value: String) -> String {
        let value = value.lowercased()
        if value.hasPrefix("[") { return value.split(separator: "]").first.map { $0 + "]" } ?? value }
        return value.split(separator: ":").first.map(String.init) ?? value
    }

    private func isAllowed(_ host: String) -> Bool {
        allowedHosts.contains { pattern in
            if pattern == "*" { return true }
            if pattern.hasPrefix("*.") { return host.hasSuffix(pattern.dropFirst(1)) }
            return host == pattern
        }
    }
}

/// The request's ID, stored in ``Request/storage`` by ``RequestIDMiddleware``.
public struct RequestID: Sendable, Hashable, CustomStringConvertible {
    /// The ID text.
    public let value: String
    /// The ID text.
    public var description: String { value }
}

/// Gives every request an ID: the client's `X-Request-ID` if it is sane (1–128 letters, digits,
/// `-`, `_`, `.`), otherwise a new UUID. The ID is stored as ``RequestID`` in the request's
/// storage and echoed in the response header.
public struct RequestIDMiddleware: Middleware {
    /// The header to read and write.
    public var headerName: String

    /// Reads and echoes the ID in `headerName`.
    public init(headerName: String = "X-Request-ID") { self.headerName = headerName }

    /// Gives the request its ID, passes it on, and echoes the ID in the response.
    public func handle(_ request: Request, next: Next) async throws -> Response {
        var request = request
        let id: String
        if let sent = request.headers[headerName], Self.isAcceptable(sent) {
            id = sent
        } else {
            id = UUID().uuidString.lowercased()
        }
        request.storage[RequestID.self] = RequestID(value: id)
        var response = try await next(request)
        response.headers.replaceOrAdd(name: headerName, value: id)
        return response
    }

    static func isAcceptable(_ value: String) -> Bool {
        (1...128).contains(value.utf8.count)
            && value.utf8.allSatisfy { byte in
                (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            }
    }
}
