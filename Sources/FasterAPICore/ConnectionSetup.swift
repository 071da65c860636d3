import NIOCore
import NIOHTTP2
import NIOSSL
import NIOTLS

/// Builds a new connection's pipeline: TLS with ALPN choosing HTTP/2 or HTTP/1.1, or cleartext
/// HTTP/1.1 that switches to HTTP/2 on the prior-knowledge preface or `Upgrade: h2c`. Whatever
/// the protocol, requests reach the same responder. One per server, shared by its connections.
final class ConnectionSetup<Responder: HTTPResponder>: Sendable {
    let responder: Responder
    let configuration: ServerConfiguration
    let tls: TLSContextProvider?

    init(responder: Responder, configuration: ServerConfiguration, tls: TLSContextProvider?) {
        self.responder = responder
        self.configuration = configuration
        self.tls = tls
    }

    /// Configures `channel`; runs on its event loop.
    func configure(_ channel: any Channel, resources: LoopResources) throws {
        let connection = ConnectionInfo(remoteAddress: channel.remoteAddress, localAddress: channel.localAddress)
        guard let tls else {
            try addHTTP1(to: channel, resources: resources, connection: connection, cleartextHTTP2: true)
            return
        }
        // The handshake must finish in the time a request head is allowed.
        let handshakeTimeout = channel.eventLoop.assumeIsolated().scheduleTask(in: configuration.requestHeadTimeout) {
            channel.close(promise: nil)
        }
        let wantsPeerCertificate: Bool
        if case .none = tls.configuration.clientCertificates { wantsPeerCertificate = false } else { wantsPeerCertificate = true }
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(NIOSSLServerHandler(context: tls.context))
        try sync.addHandler(
            ApplicationProtocolNegotiationHandler { result, channel in
                handshakeTimeout.cancel()
                return channel.eventLoop.makeCompletedFuture {
                    var negotiated: String?
                    if case .negotiated(let name) = result { negotiated = name }
                    var connection = connection
                    connection.tls = TLSConnectionInfo(
                        applicationProtocol: negotiated,
                        peerCertificateDER: wantsPeerCertificate ? TLSContextProvider.peerCertificate(of: channel) : nil)
                    if negotiated == "h2", let http2 = self.configuration.http2 {
                        try self.addHTTP2(to: channel, http2, resources: resources, connection: connection)
                    } else {
                        try self.addHTTP1(to: channel, resources: resources, connection: connection, cleartextHTTP2: false)
                    }
                }
            })
    }

    /// The ALPN names offered over TLS, most preferred first.
    static func applicationProtocols(_ configuration: ServerConfiguration) -> [String] {
        configuration.http2 == nil ? ["http/1.1"] : ["h2", "http/1.1"]
    }

    private func addHTTP1(
        to channel: any Channel, resources: LoopResources, connection: ConnectionInfo, cleartextHTTP2: Bool
    ) throws {
        var switchToHTTP2: HTTP1ConnectionHandler<Responder>.SwitchToHTTP2?
        if cleartextHTTP2, let http2 = configuration.http2, http2.allowCleartext {
            switchToHTTP2 = { context, bytes, upgrade in
                try self.switchToHTTP2(context: context, http2, bytes: bytes, upgrade: upgrade, resources: resources,
                    connection: connection)
            }
        }
        try channel.pipeline.syncOperations.addHandler(
            HTTP1ConnectionHandler(
                responder: responder, configuration: configuration, resources: resources, connection: connection,
                switchToHTTP2: switchToHTTP2))
    }

    /// Replaces the HTTP/1.1 handler at `context` with HTTP/2 and hands it `bytes` (the
    /// client's preface onwards). For `Upgrade: h2c`, `upgrade` is the HEADERS frame of the
    /// request that becomes stream 1.
    private func switchToHTTP2(
        context: ChannelHandlerContext, _ http2: HTTP2Configuration, bytes: ByteBuffer, upgrade: ByteBuffer?,
        resources: LoopResources, connection: ConnectionInfo
    ) throws {
        let sync = context.pipeline.syncOperations
        let channel = context.channel
        // This handler is the pipeline's last, so what is added goes right after it.
        if let upgrade { try sync.addHandler(H2CUpgradeInjector(headersFrame: upgrade)) }
        try addHTTP2(to: channel, http2, resources: resources, connection: connection)
        if bytes.readableBytes > 0 { context.fireChannelRead(NIOAny(bytes)) }
        sync.removeHandler(context: context, promise: nil)
        channel.read()
    }

    /// Adds HTTP/2 at the end of the pipeline.
    private func addHTTP2(
        to channel: any Channel, _ http2: HTTP2Configuration, resources: LoopResources, connection: ConnectionInfo
    ) throws {
        // NIOHTTP2 closes the connection on a stream over its limit; it is given room above the
        // advertised limit, within which the stream handler refuses streams one by one.
        let enforcedStreamLimit = http2.maxConcurrentStreams + 100
        var settings: HTTP2Settings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: enforcedStreamLimit),
            HTTP2Setting(parameter: .initialWindowSize, value: http2.initialStreamWindowSize),
            HTTP2Setting(parameter: .maxFrameSize, value: http2.maxFrameSize),
            HTTP2Setting(parameter: .maxHeaderListSize, value: http2.maxHeaderListSize),
        ]
        if http2.enableExtendedConnect { settings.append(HTTP2Setting(parameter: .enableConnectProtocol, value: 1)) }
        var connectionSettings = NIOHTTP2Handler.ConnectionConfiguration()
        connectionSettings.initialSettings = settings
        connectionSettings.maximumSequentialContinuationFrames = http2.maxContinuationFrames
        connectionSettings.maximumBufferedControlFrames = http2.maxBufferedControlFrames
        connectionSettings.targetWindowSize = http2.connectionWindowSize
        connectionSettings.controlFrameRateLimit.maximumCount = http2.maxControlFramesPerWindow
        connectionSettings.controlFrameRateLimit.windowLength = http2.controlFrameWindow
        var streamSettings = NIOHTTP2Handler.StreamConfiguration()
        streamSettings.targetWindowSize = http2.initialStreamWindowSize
        streamSettings.streamResetFrameRateLimit.maximumCount = http2.maxResetsPerWindow
        streamSettings.streamResetFrameRateLimit.windowLength = http2.resetWindow

        let responder = self.responder
        let configuration = self.configuration
        let sync = channel.pipeline.syncOperations
        let manager = HTTP2ConnectionManager(
            idleTimeout: configuration.idleTimeout, goAwayGracePeriod: http2.goAwayGracePeriod)
        let managerOnLoop = NIOLoopBound(manager, eventLoop: channel.eventLoop)
        try sync.addHandler(
            HTTP2ConnectionWriter(
                enforcedStreamLimit: enforcedStreamLimit, advertisedStreamLimit: http2.maxConcurrentStreams))
        _ = try sync.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connectionSettings, streamConfiguration: streamSettings
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(
                    HTTP2StreamHandler(
                        responder: responder, configuration: configuration, resources: resources, connection: connection,
                        manager: managerOnLoop))
            }
        }
        try sync.addHandler(manager)
    }
}
