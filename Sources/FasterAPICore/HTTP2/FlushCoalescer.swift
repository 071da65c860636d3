import NIOCore

/// Sits under HTTP/2 and merges the flushes of one event-loop turn into one: every stream that
/// finishes a response flushes, and without this each would be its own `writev` (and its own
/// TLS record). The merged flush runs after the work already queued on the loop, so responses
/// answered together leave together. A close flushes first, so nothing written is lost.
final class FlushCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData

    private var flushScheduled = false

    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            guard flushScheduled else { return }
            flushScheduled = false
            context.flush()
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if flushScheduled {
            flushScheduled = false
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }
}
