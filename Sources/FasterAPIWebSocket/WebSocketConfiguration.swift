import NIOCore

/// Limits, keep-alive and compression of WebSocket connections (server and client alike).
public struct WebSocketConfiguration: Sendable {
    /// The largest frame payload accepted; a bigger frame fails the connection with 1009.
    public var maxFrameSize: Int
    /// The largest message accepted (after reassembly and decompression); 1009 beyond it.
    public var maxMessageSize: Int
    /// Messages sent are cut into frames of at most this many payload bytes (nil: one frame).
    public var outgoingFragmentSize: Int?
    /// How long the connection may be silent before we ping it; nil for no keep-alive pings.
    public var pingInterval: TimeAmount?
    /// How long to wait for any frame after a keep-alive ping before the peer counts as dead
    /// and the connection is dropped.
    public var deadPeerTimeout: TimeAmount
    /// How long to wait for the peer's close frame (and the client's TCP close) after ours.
    public var closeTimeout: TimeAmount
    /// Received messages buffered for a slow consumer before reading stops (TCP back-pressure
    /// then holds the peer).
    public var maxBufferedMessages: Int
    /// permessage-deflate: nil to neither offer nor accept compression.
    public var compression: PerMessageDeflateConfiguration?

    /// Defaults: 16 MiB messages and frames, a ping after 30 s of silence with 30 s to answer,
    /// 5 s for the close handshake, 16 buffered messages, compression on.
    public init(
        maxFrameSize: Int = 16 << 20, maxMessageSize: Int = 16 << 20, outgoingFragmentSize: Int? = nil,
        pingInterval: TimeAmount? = .seconds(30), deadPeerTimeout: TimeAmount = .seconds(30),
        closeTimeout: TimeAmount = .seconds(5), maxBufferedMessages: Int = 16,
        compression: PerMessageDeflateConfiguration? = PerMessageDeflateConfiguration()
    ) {
        self.maxFrameSize = maxFrameSize
        self.maxMessageSize = maxMessageSize
        self.outgoingFragmentSize = outgoingFragmentSize
        self.pingInterval = pingInterval
        self.deadPeerTimeout = deadPeerTimeout
        self.closeTimeout = closeTimeout
        self.maxBufferedMessages = maxBufferedMessages
        self.compression = compression
    }
}
