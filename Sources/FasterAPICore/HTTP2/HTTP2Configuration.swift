import NIOCore

/// HTTP/2 settings and protections (RFC 9113). HTTP/2 is served over TLS when the client
/// offers `h2` by ALPN, and in cleartext (h2c) with prior knowledge or by `Upgrade: h2c`.
public struct HTTP2Configuration: Sendable {
    /// Most streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); more are
    /// refused with RST_STREAM REFUSED_STREAM.
    public var maxConcurrentStreams: Int = 100
    /// Flow-control window each stream starts with, in bytes (SETTINGS_INITIAL_WINDOW_SIZE):
    /// what a client may send on a stream before the handler reads it.
    public var initialStreamWindowSize: Int = 1024 * 1024
    /// The connection's receive window in bytes: what a client may send on all streams together
    /// before handlers read it.
    public var connectionWindowSize: Int = 4 * 1024 * 1024
    /// Largest frame payload accepted (SETTINGS_MAX_FRAME_SIZE), 16 KiB to 16 MiB.
    public var maxFrameSize: Int = 16 * 1024
    /// Largest decoded header list accepted (SETTINGS_MAX_HEADER_LIST_SIZE); larger is a
    /// connection error. Field-count and path-length limits answer 431 and 414 as in HTTP/1.1.
    public var maxHeaderListSize: Int = 64 * 1024
    /// Most CONTINUATION frames one header block may span.
    public var maxContinuationFrames: Int = 5
    /// Most streams a client may reset within ``resetWindow`` before the connection is closed
    /// with ENHANCE_YOUR_CALM (the rapid-reset attack, CVE-2023-44487).
    public var maxResetsPerWindow: Int = 200
    /// The window for ``maxResetsPerWindow``.
    public var resetWindow: TimeAmount = .seconds(30)
    /// Most PING, SETTINGS and other control frames a client may send within
    /// ``controlFrameWindow`` before the connection is closed with ENHANCE_YOUR_CALM.
    public var maxControlFramesPerWindow: Int = 1000
    /// The window for ``maxControlFramesPerWindow``.
    public var controlFrameWindow: TimeAmount = .seconds(30)
    /// Most control frames (PING and SETTINGS acknowledgements) queued for a client that does
    /// not read them, before the connection is closed.
    public var maxBufferedControlFrames: Int = 1000
    /// How long graceful shutdown waits for the client to acknowledge the first GOAWAY's PING
    /// before sending the final GOAWAY.
    public var goAwayGracePeriod: TimeAmount = .seconds(1)
    /// Advertise RFC 8441 extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL), so WebSocket
    /// routes can be reached over HTTP/2.
    public var enableExtendedConnect: Bool = true
    /// Accept cleartext HTTP/2 (prior knowledge and `Upgrade: h2c`) on a listener without TLS.
    public var allowCleartext: Bool = true

    /// The default settings.
    public init() {}
}
