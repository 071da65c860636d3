import NIOCore
import X509

/// An error that carries the HTTP status a server should answer with.
///
/// Errors thrown by responders that conform are answered with their status; all others become
/// 500 without their text reaching the client.
public protocol HTTPStatusError: Error {
    /// The response status.
    var status: HTTPStatus { get }
    /// A client-safe explanation.
    var detail: String { get }
}

extension HTTPParseError: HTTPStatusError {
    /// The parse error's reason.
    public var detail: String { reason }
}

/// Errors from reading a request body.
public enum HTTPBodyError: HTTPStatusError, Hashable {
    /// The body is larger than the limit that applies (the server's or the caller's).
    case tooLarge(limit: Int)
    /// The body could not be framed (a bad chunk, for example); the connection will close.
    case malformed(HTTPParseError)
    /// The client went away before the body was complete.
    case connectionClosed
    /// The client sent no more of the body within the server's body read timeout.
    case timeout
    /// A streamed body was iterated a second time (it can be read once; buffer it to reuse it).
    case alreadyConsumed

    /// The status the error is answered with.
    public var status: HTTPStatus {
        switch self {
        case .tooLarge: .contentTooLarge
        case .malformed(let error): error.status
        case .connectionClosed: .badRequest
        case .timeout: .requestTimeout
        case .alreadyConsumed: .internalServerError
        }
    }

    /// A client-safe explanation.
    public var detail: String {
        switch self {
        case .tooLarge(let limit): "Request body is larger than \(limit) bytes"
        case .malformed(let error): error.reason
        case .connectionClosed: "Connection closed before the body was complete"
        case .timeout: "Request body not received in time"
        case .alreadyConsumed: "Internal Server Error"
        }
    }
}

/// Facts about the connection a request arrived on.
public struct ConnectionInfo: Sendable {
    /// The peer's address, if known.
    public var remoteAddress: SocketAddress?
    /// The local address the connection was accepted on.
    public var localAddress: SocketAddress?
    /// Whether the connection is encrypted.
    public var isSecure: Bool { tls != nil }
    /// The TLS session's facts; nil in cleartext.
    public var tls: TLSConnectionInfo?

    /// Connection facts; all unknown by default.
    public init(remoteAddress: SocketAddress? = nil, localAddress: SocketAddress? = nil, tls: TLSConnectionInfo? = nil) {
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        self.tls = tls
    }
}

/// Facts about a TLS connection.
public struct TLSConnectionInfo: Sendable {
    /// The protocol chosen by ALPN (`h2`, `http/1.1`), if the client offered any.
    public var applicationProtocol: String?
    /// The client's certificate (DER), verified against the trust roots, when the server asks
    /// for client certificates and the client presented one. Kept as bytes: requests are
    /// copied along the handler chain, and a parsed certificate is large.
    public var peerCertificateDER: [UInt8]?

    /// The client's certificate, parsed from ``peerCertificateDER``.
    public var peerCertificate: Certificate? {
        peerCertificateDER.flatMap { try? Certificate(derEncoded: $0) }
    }

    /// TLS facts from their parts.
    public init(applicationProtocol: String? = nil, peerCertificateDER: [UInt8]? = nil) {
        self.applicationProtocol = applicationProtocol
        self.peerCertificateDER = peerCertificateDER
    }
}

/// A request as every protocol codec delivers it: head, body and connection facts.
public struct HTTPRequest: Sendable {
    /// Method, target, version and header fields.
    public var head: HTTPRequestHead
    /// The body, buffered or streamed.
    public var body: RequestBody
    /// The connection it arrived on.
    public var connection: ConnectionInfo

    /// A request from its parts.
    public init(head: HTTPRequestHead, body: RequestBody = .empty, connection: ConnectionInfo = ConnectionInfo()) {
        self.head = head
        self.body = body
        self.connection = connection
    }
}

/// Something that answers requests: the one interface between protocol codecs and the framework.
public protocol HTTPResponder: Sendable {
    /// Produces the response for `request`. Errors conforming to ``HTTPStatusError`` are answered
    /// with their status; any other error with 500.
    func respond(to request: consuming HTTPRequest) async throws -> Response
}
