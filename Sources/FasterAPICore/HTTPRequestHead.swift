/// The HTTP protocol version of a message.
public struct HTTPVersion: Hashable, Sendable, CustomStringConvertible {
    /// The major version number.
    public var major: Int
    /// The minor version number.
    public var minor: Int
    /// A version from its numbers.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }
    /// HTTP/1.0.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// HTTP/1.1.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)
    /// HTTP/2.
    public static let http2 = HTTPVersion(major: 2, minor: 0)
    /// The version as written in messages, such as `HTTP/1.1` or `HTTP/2`.
    public var description: String { minor == 0 && major > 1 ? "HTTP/\(major)" : "HTTP/\(major).\(minor)" }
}

/// What every protocol codec produces for a request before its body: the same for HTTP/1.1,
/// HTTP/2 and HTTP/3.
public struct HTTPRequestHead: Sendable {
    /// The request method.
    public var method: HTTPMethod
    /// The request target as sent: the path with its query, still percent-encoded.
    public var target: String
    /// The protocol version the request arrived with.
    public var version: HTTPVersion
    /// The request's header fields.
    public var headers: HTTPHeaders
    /// The protocol an HTTP/2 extended CONNECT asks for (`:protocol`, RFC 8441), such as
    /// `websocket`; nil for every other request. The router sends such a request to the path's
    /// `GET` route when it has no `CONNECT` route, as HTTP/1.1 sends an upgrade as a `GET`.
    public var connectProtocol: String?

    /// A request head from its parts.
    public init(
        method: HTTPMethod, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = HTTPHeaders()
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }
}
