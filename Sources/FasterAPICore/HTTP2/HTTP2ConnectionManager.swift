import NIOCore
import NIOHTTP2

/// Watches one HTTP/2 connection's streams: closes it after the idle timeout with no open
/// stream, and shuts it down gracefully in two steps (RFC 9113 §6.8) when the server stops —
/// a GOAWAY naming the largest stream ID with a PING, then, once the PING comes back (or after a
/// grace period), a GOAWAY with the last stream actually opened; streams in flight finish,
/// then the connection closes.
final class HTTP2ConnectionManager: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    enum State {
        case active
        /// The first GOAWAY and its PING are out.
        case quiescing
        /// The final GOAWAY is out; the connection closes when its last stream does.
        case closing
    }

    /// The PING payload that marks the graceful-shutdown round trip.
    static let shutdownPing = HTTP2PingData(withInteger: 0x4641_5354_4552_4150)  // "FASTERAP"

    let idleTimeout: TimeAmount
    let goAwayGracePeriod: TimeAmount
    var state = State.active
    /// Streams open now, counted by their handlers.
    private(set) var openStreams = 0
    var lastStreamID = HTTP2StreamID.rootStream
    var idleTimer: Scheduled<Void>?
    var graceTimer: Scheduled<Void>?
    var context: ChannelHandlerContext!

    init(idleTimeout: TimeAmount, goAwayGracePeriod: TimeAmount) {
        self.idleTimeout = idleTimeout
        self.goAwayGracePeriod = goAwayGracePeriod
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        scheduleIdleTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        graceTimer?.cancel()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .ping(let ping, ack: true) = frame.payload, ping == Self.shutdownPing, state == .quiescing {
            sendFinalGoAway()
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { beginShutdown() }
        context.fireUserInboundEventTriggered(event)
    }

    /// A stream's handler was added: the stream is open. Called by ``HTTP2StreamHandler`` as
    /// its stream starts, so the count is exact when the stream's first frame is read.
    func streamOpened(_ id: HTTP2StreamID) {
        openStreams += 1
        if id > lastStreamID { lastStreamID = id }
        idleTimer?.cancel()
        idleTimer = nil
    }

    /// A stream's handler was removed: the stream is closed.
    func streamClosed() {
        openStreams -= 1
        guard openStreams == 0, let context else { return }
        if state == .closing {
            context.close(promise: nil)
        } else {
            scheduleIdleTimer()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        graceTimer?.cancel()
        context.fireChannelInactive()
    }

    private func beginShutdown() {
        guard state == .active else { return }
        state = .quiescing
        context.write(
            wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil))),
            promise: nil)
        context.writeAndFlush(
            wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .ping(Self.shutdownPing, ack: false))), promise: nil)
        graceTimer = context.eventLoop.assumeIsolated().scheduleTask(in: goAwayGracePeriod) { [self] in
            if state == .quiescing { sendFinalGoAway() }
        }
    }

    private func sendFinalGoAway() {
        guard context != nil else { return }
        state = .closing
        graceTimer?.cancel()
        context.writeAndFlush(
            wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))),
            promise: nil)
        if openStreams == 0 { context.close(promise: nil) }
    }

    private func scheduleIdleTimer() {
        idleTimer?.cancel()
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: idleTimeout) { [self] in
            guard context != nil, openStreams == 0 else { return }
            state = .closing
            context.writeAndFlush(
                wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))),
                promise: nil)
            context.close(promise: nil)
        }
    }
}
