import NIOCore

/// Sits under HTTP/2 (NIOHTTP2's handler) on the connection's bytes and does three things there:
///
/// - Merges the flushes of one event-loop turn: every stream that finishes a response flushes,
///   and without this each would be its own `writev` (and TLS record). The merged flush runs
///   after the work already queued on the loop, so responses answered together leave together.
/// - Closes the connection once a GOAWAY carrying an error has been written: after a connection
///   error the TCP connection must close (RFC 9113 §5.4.1); NIOHTTP2 sends the GOAWAY but leaves
///   the socket open.
/// - Advertises the real concurrent-stream limit in the first SETTINGS frame while NIOHTTP2
///   enforces a looser one: NIOHTTP2 treats a stream over its limit as a connection error, where
///   RFC 9113 §5.1.2 wants the stream refused; ``HTTP2StreamHandler`` refuses streams over the
///   advertised limit with REFUSED_STREAM, and only a client far over it loses the connection.
final class HTTP2ConnectionWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// The value NIOHTTP2 is configured with, and the one the client is told.
    private let enforcedStreamLimit: UInt32
    private let advertisedStreamLimit: UInt32
    private var settingsSeen = false
    private var flushScheduled = false
    private var closeAfterFlush = false

    init(enforcedStreamLimit: Int, advertisedStreamLimit: Int) {
        self.enforcedStreamLimit = UInt32(enforcedStreamLimit)
        self.advertisedStreamLimit = UInt32(advertisedStreamLimit)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(var buffer) = unwrapOutboundIn(data), buffer.readableBytes >= 9,
            let type = buffer.getInteger(at: buffer.readerIndex + 3, as: UInt8.self)
        else {
            context.write(data, promise: promise)
            return
        }
        if type == 4 && !settingsSeen {
            settingsSeen = true
            advertiseStreamLimit(in: &buffer)
            context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
            return
        }
        if type == 7, let code = buffer.getInteger(at: buffer.readerIndex + 13, as: UInt32.self), code != 0 {
            closeAfterFlush = true
        }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        if closeAfterFlush {
            // Close once the GOAWAY is on the wire.
            flushScheduled = false
            let written = context.eventLoop.makePromise(of: Void.self)
            context.write(wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: written)
            context.flush()
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
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

    /// Rewrites SETTINGS_MAX_CONCURRENT_STREAMS from the enforced to the advertised value.
    private func advertiseStreamLimit(in buffer: inout ByteBuffer) {
        let start = buffer.readerIndex
        guard let header = buffer.getInteger(at: start, as: UInt32.self) else { return }
        let length = Int(header >> 8)
        guard buffer.readableBytes >= 9 + length else { return }
        var offset = start + 9
        while offset + 6 <= start + 9 + length {
            if buffer.getInteger(at: offset, as: UInt16.self) == 3,
                buffer.getInteger(at: offset + 2, as: UInt32.self) == enforcedStreamLimit
            {
                buffer.setInteger(advertisedStreamLimit, at: offset + 2)
            }
            offset += 6
        }
    }
}
