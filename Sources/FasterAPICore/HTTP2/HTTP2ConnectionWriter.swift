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
        guard case .byteBuffer(var buffer) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        inspectFrames(in: &buffer)
        context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
    }

    /// Bytes of the current frame's payload still to come (DATA payloads are separate writes).
    private var payloadRemaining = 0
    /// A frame header split across writes, gathered until whole.
    private var partialHeader: [UInt8] = []

    /// Walks the frames in `buffer`: notes a GOAWAY with an error, and advertises the stream
    /// limit in the first SETTINGS frame (which NIOHTTP2 writes whole, in one buffer).
    private func inspectFrames(in buffer: inout ByteBuffer) {
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        while index < end {
            if payloadRemaining > 0 {
                let skipped = min(payloadRemaining, end - index)
                payloadRemaining -= skipped
                index += skipped
                continue
            }
            let headerStart: Int
            if partialHeader.isEmpty && end - index >= 9 {
                headerStart = index
            } else {
                let taken = min(9 - partialHeader.count, end - index)
                partialHeader += buffer.getBytes(at: index, length: taken) ?? []
                index += taken
                guard partialHeader.count == 9 else { return }
                let length = Int(partialHeader[0]) << 16 | Int(partialHeader[1]) << 8 | Int(partialHeader[2])
                frameStarted(type: partialHeader[3], payloadAt: nil, in: &buffer)
                partialHeader = []
                payloadRemaining = length
                continue
            }
            let length = Int(buffer.getInteger(at: headerStart, as: UInt32.self)! >> 8)
            let type = buffer.getInteger(at: headerStart + 3, as: UInt8.self)!
            index = headerStart + 9
            frameStarted(type: type, payloadAt: end - index >= length ? index : nil, in: &buffer)
            payloadRemaining = length
        }
    }

    /// A frame of `type` starts; `payloadAt` is where its whole payload is in `buffer`, if it is.
    private func frameStarted(type: UInt8, payloadAt payload: Int?, in buffer: inout ByteBuffer) {
        switch type {
        case 4 where !settingsSeen:
            settingsSeen = true
            if let payload { advertiseStreamLimit(in: &buffer, payloadAt: payload) }
        case 7:
            // GOAWAY: last stream ID (4 bytes), then the error code.
            if let payload, let code = buffer.getInteger(at: payload + 4, as: UInt32.self), code != 0 {
                closeAfterFlush = true
            }
        default:
            break
        }
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
    private func advertiseStreamLimit(in buffer: inout ByteBuffer, payloadAt payload: Int) {
        let length = Int(buffer.getInteger(at: payload - 9, as: UInt32.self)! >> 8)
        var offset = payload
        while offset + 6 <= payload + length {
            if buffer.getInteger(at: offset, as: UInt16.self) == 3,
                buffer.getInteger(at: offset + 2, as: UInt32.self) == enforcedStreamLimit
            {
                buffer.setInteger(advertisedStreamLimit, at: offset + 2)
            }
            offset += 6
        }
    }
}
