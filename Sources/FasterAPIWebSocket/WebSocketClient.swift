import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Opens WebSockets to servers: `ws://` and `wss://`, with the same ``WebSocket`` API as the
/// server side.
///
/// ```swift
/// let ws = try await WebSocketClient.connect(to: "wss://example.com/chat")
/// try await ws.send("hello")
/// for try await message in ws.messages { print(message) }
/// ```
public enum WebSocketClient {
    /// Connects to `url` and completes the opening handshake: offers `subprotocols` (the server
    /// picks one, see ``WebSocket/subprotocol``) and compression per `configuration`, with extra
    /// request `headers`. `tls` configures `wss://` (the system's trust roots by default).
    /// Throws ``WebSocketError/handshakeFailed(_:)`` when the server does not switch protocols
    /// as RFC 6455 requires.
    public static func connect(
        to url: String, subprotocols: [String] = [], headers: [(String, String)] = [],
        configuration: WebSocketConfiguration = WebSocketConfiguration(),
        tls: TLSConfiguration = .makeClientConfiguration(), timeout: TimeAmount = .seconds(10),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> WebSocket {
        guard let destination = ClientTarget(url: url, plain: "ws", secure: "wss") else {
            throw WebSocketError.handshakeFailed("not a ws:// or wss:// URL: \(url)")
        }
        let key = Base64.encode((0..<16).map { _ in UInt8.random(in: 0...255) })
        var request = "GET \(destination.target) HTTP/1.1\r\nHost: \(destination.hostField)\r\n"
        request += "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if !subprotocols.isEmpty { request += "Sec-WebSocket-Protocol: \(subprotocols.joined(separator: ", "))\r\n" }
        if let compression = configuration.compression {
            request += "Sec-WebSocket-Extensions: \(PerMessageDeflateNegotiation.offer(compression))\r\n"
        }
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"

        let sslContext = destination.secure ? try NIOSSLContext(configuration: tls) : nil
        let eventLoop = eventLoopGroup.next()
        let promise = eventLoop.makePromise(of: WebSocket.self)
        let handshake = ClientHandshake(
            request: request, key: key, subprotocols: subprotocols, configuration: configuration, promise: promise)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: sslContext, serverHostname: destination.serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(handshake)
                }
            }
        let channel = try await bootstrap.connect(host: destination.host, port: destination.port).get()
        let deadline = eventLoop.scheduleTask(in: timeout) {
            promise.fail(WebSocketError.handshakeFailed("no answer within \(timeout)"))
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        return try await promise.futureResult.get()
    }
}

/// Sends the opening handshake, reads the server's answer and, if it switches protocols as
/// asked, hands the channel to a ``WebSocket``.
private final class ClientHandshake: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let request: String
    let key: String
    let subprotocols: [String]
    let configuration: WebSocketConfiguration
    let promise: EventLoopPromise<WebSocket>
    private var received = ByteBuffer()

    init(
        request: String, key: String, subprotocols: [String], configuration: WebSocketConfiguration,
        promise: EventLoopPromise<WebSocket>
    ) {
        self.request = request
        self.key = key
        self.subprotocols = subprotocols
        self.configuration = configuration
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: request)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received.writeBuffer(&buffer)
        guard let end = received.readableBytesView.firstRange(of: [13, 10, 13, 10]) else {
            if received.readableBytes > 16 * 1024 { fail(context, "response head over 16 KiB") }
            return
        }
        let headLength = end.upperBound - received.readableBytesView.startIndex
        let head = received.readString(length: headLength) ?? ""
        do {
            let (agreement, extensions, subprotocol) = try validate(head)
            let socket = try WebSocket(
                channel: context.channel, role: .client, configuration: configuration, agreement: agreement,
                extensions: extensions, subprotocol: subprotocol)
            let rest = received
            received = ByteBuffer()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            try socket.start(buffered: rest)
            promise.succeed(socket)
        } catch let error as WebSocketError {
            promise.fail(error)
            context.close(promise: nil)
        } catch {
            promise.fail(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(WebSocketError.handshakeFailed("connection closed during the handshake"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    private func fail(_ context: ChannelHandlerContext, _ reason: String) {
        promise.fail(WebSocketError.handshakeFailed(reason))
        context.close(promise: nil)
    }

    /// Checks the answer (RFC 6455 §4.1): 101, `Upgrade: websocket`, `Connection: Upgrade`, the
    /// right `Sec-WebSocket-Accept`, a subprotocol we offered, and extensions we offered.
    private func validate(_ head: String) throws(WebSocketError) -> (DeflateAgreement?, String?, String?) {
        guard let response = ClientResponseHead(head) else { throw .handshakeFailed("not an HTTP response") }
        guard response.status == 101 else {
            throw .handshakeFailed("server answered \(response.status) \(response.reason)")
        }
        let values = response.values, tokens = response.tokens
        guard tokens("upgrade").contains("websocket") else { throw .handshakeFailed("missing Upgrade: websocket") }
        guard tokens("connection").contains("upgrade") else { throw .handshakeFailed("missing Connection: Upgrade") }
        guard values("sec-websocket-accept") == [WebSocketUpgrade.acceptValue(for: key)] else {
            throw .handshakeFailed("wrong Sec-WebSocket-Accept")
        }
        let chosen = values("sec-websocket-protocol")
        guard chosen.count <= 1, chosen.allSatisfy(subprotocols.contains) else {
            throw .handshakeFailed("server chose a subprotocol we did not offer: \(chosen.joined(separator: ", "))")
        }
        let extensionValues = values("sec-websocket-extensions")
        var agreement: DeflateAgreement? = nil
        if !extensionValues.isEmpty {
            guard let compression = configuration.compression else {
                throw .handshakeFailed("server answered with extensions we did not offer")
            }
            agreement = try PerMessageDeflateNegotiation.agreement(fromResponse: extensionValues, configuration: compression)
        }
        return (agreement, extensionValues.isEmpty ? nil : extensionValues.joined(separator: ", "), chosen.first)
    }
}
