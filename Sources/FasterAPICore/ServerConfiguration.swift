import NIOCore

/// Where and how a server listens, and the limits it enforces. Every limit has a default.
public struct ServerConfiguration: Sendable {
    /// Address to bind; `127.0.0.1` by default.
    public var host: String
    /// Port to bind; 0 picks a free port (read it back from ``HTTPServer/localAddress``).
    public var port: Int
    /// Listen backlog.
    public var backlog: Int32 = 256
    /// HTTP/1.1 head limits (request line 414, head size and field count 431).
    public var parserLimits = HTTP1ParserLimits()
    /// Largest request body the server reads; larger gets 413 (up front from Content-Length, or
    /// while streaming).
    public var maxRequestBodyBytes: Int = 8 * 1024 * 1024
    /// Time allowed from the first byte of a request head to its end; slower gets 408 and close.
    public var requestHeadTimeout: TimeAmount = .seconds(10)
    /// How long an idle keep-alive connection stays open.
    public var idleTimeout: TimeAmount = .seconds(60)
    /// How long a handler may wait for the next piece of a request body; then 408 and close.
    public var bodyReadTimeout: TimeAmount = .seconds(30)
    /// How long the client may take no bytes of our response before the connection is closed.
    public var writeTimeout: TimeAmount = .seconds(30)
    /// After an error answer, how long what the client still sends is read and dropped before
    /// closing (so the answer is not lost to a reset).
    public var lingerTimeout: TimeAmount = .seconds(2)
    /// Most connections open at once; more are answered 503 and closed.
    public var maxConnections: Int = 10_000
    /// How long graceful shutdown waits for in-flight requests before closing connections.
    public var shutdownGracePeriod: TimeAmount = .seconds(10)
    /// Most pipelined bytes buffered while a response is in progress.
    public var maxPipelinedBytes: Int = 64 * 1024
    /// TLS; nil serves cleartext. With TLS, ALPN chooses HTTP/2 or HTTP/1.1 on the one port.
    public var tls: ServerTLSConfiguration?
    /// HTTP/2; nil serves HTTP/1.1 only.
    public var http2: HTTP2Configuration? = HTTP2Configuration()
    /// An `Alt-Svc` field value (RFC 7838) added to every response, such as `h3=":443"; ma=86400`
    /// to announce HTTP/3; nil adds none.
    public var altSvc: String?

    /// Settings for `host`:`port` with every limit at its default.
    public init(host: String = "127.0.0.1", port: Int = 8000) {
        self.host = host
        self.port = port
    }
}
