import NIOCore
import NIOHTTP2

/// Carries an upgraded protocol's bytes on an HTTP/2 stream (RFC 8441): DATA frames in become
/// bytes, bytes out become DATA frames, and closing ends our side with END_STREAM (the peer's
/// END_STREAM or RST_STREAM is the end of the tunnel, as a TCP close would be). It reports the
/// stream's end to the connection manager.
final class HTTP2StreamBytesHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    let manager: NIOLoopBound<HTTP2ConnectionManager>
    private var ended = false

    init(manager: NIOLoopBound<HTTP2ConnectionManager>) { self.manager = manager }

    func handlerRemoved(context: ChannelHandlerContext) {
        manager.value.streamClosed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .data(let frame):
            if case .byteBuffer(let buffer) = frame.data, buffer.readableBytes > 0 {
                context.fireChannelRead(wrapInboundOut(buffer))
            }
            // The peer ended its side, as a TCP half-close would: the protocol above decides
            // (answering a close handshake ends our side, which closes the stream).
            if frame.endStream { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        case .headers(let headers) where headers.endStream:
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)  // trailers end the peer's side
        case .rstStream:
            context.close(promise: nil)
        default:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(buffer)))), promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard context.channel.isActive else {
            context.close(mode: mode, promise: promise)
            return
        }
        guard !ended else {
            // Already ending: the stream closes once the END_STREAM is out and the peer's is in.
            promise?.completeWith(context.channel.closeFuture)
            return
        }
        // An orderly close is END_STREAM (RFC 8441 §6; RST_STREAM would be an abort): the stream
        // closes when the peer ends its side too, or after a grace period.
        ended = true
        context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))), promise: nil)
        promise?.completeWith(context.channel.closeFuture)
        let grace = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(5)) { context.close(promise: nil) }
        context.channel.closeFuture.whenComplete { _ in grace.cancel() }
    }
}
