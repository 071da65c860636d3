import FasterAPICore
import NIOCore

/// Runs one WebSocket connection on its channel: cuts frames, feeds the state machine, hands
/// messages to the application's ``WebSocketMessages`` with back-pressure (reading stops while
/// the consumer has `maxBufferedMessages` unread), answers pings and closes, keeps the
/// connection alive with pings, and writes what the application sends.
final class WebSocketHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Role { case server, client }

    typealias Producer = NIOThrowingAsyncSequenceProducer<
        WebSocketMessage, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark,
        WebSocketMessages.Delegate
    >

    let role: Role
    let configuration: WebSocketConfiguration
    private var machine: WebSocketStateMachine
    private let deflater: MessageDeflater?
    private var unread = ByteBuffer()
    private let source: Producer.Source
    private var context: ChannelHandlerContext?
    /// The consumer wants more messages.
    private var demand = true
    private var consumerGone = false
    private var readPending = false
    /// The peer ended its side (an HTTP/2 stream's END_STREAM).
    private var peerInputClosed = false
    /// Bytes arrived since the last keep-alive check.
    private var heardFromPeer = false
    private var pingOutstanding = false
    private var keepAliveTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?
    /// Bytes queued by ``enqueue(_:payload:limit:)`` and not yet written to the socket.
    private var queuedBytes = 0
    /// The peer's close code and reason, once its close frame has arrived.
    private(set) var peerClose: (code: WebSocketCloseCode?, reason: String)?
    /// Set when the connection ended with an error rather than a close handshake.
    private var failure: WebSocketError?

    init(
        role: Role, configuration: WebSocketConfiguration, agreement: DeflateAgreement?, source: Producer.Source
    ) throws {
        self.role = role
        self.configuration = configuration
        self.machine = WebSocketStateMachine(
            expectMasked: role == .server, maxFrameSize: configuration.maxFrameSize,
            maxMessageSize: configuration.maxMessageSize, compression: agreement != nil)
        self.deflater = try agreement.map(MessageDeflater.init)
        self.source = source
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        scheduleKeepAlive()
        if context.channel.isActive { context.read() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        keepAliveTimer?.cancel()
        closeTimer?.cancel()
        self.context = nil
    }

    /// Bytes the upgrade read before this handler took over.
    func receive(buffered: ByteBuffer) {
        guard buffered.readableBytes > 0 else { return }
        unread = buffered
        process()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        heardFromPeer = true
        if unread.readableBytes == 0 {
            unread = buffer
        } else {
            unread.discardReadBytes()
            unread.writeBuffer(&buffer)
        }
        process()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        machine.closed()
        keepAliveTimer?.cancel()
        closeTimer?.cancel()
        if peerClose == nil && failure == nil { failure = .connectionLost }
        if let failure {
            source.finish(failure)
        } else {
            source.finish()
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if failure == nil && peerClose == nil { failure = .connectionLost }
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            close(code: .goingAway, reason: "server shutting down")
            return
        }
        if case .inputClosed? = event as? ChannelEvent {
            // The peer will send nothing more (an HTTP/2 stream it ended): what it sent is still
            // read (its close frame may be behind unread messages), then the connection ends.
            peerInputClosed = true
            process()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if demand || consumerGone || machine.state != .open {
            context.read()
        } else {
            readPending = true
        }
    }

    // MARK: - Receiving

    private func process() {
        guard let context else { return }
        while demand || consumerGone || machine.state != .open {
            guard let action = machine.next(&unread, deflater: deflater, allocator: context.channel.allocator) else {
                if peerInputClosed && machine.state != .closed {
                    // All the peer sent is read, and no close handshake: the connection is lost.
                    if failure == nil && peerClose == nil { failure = .connectionLost }
                    context.close(promise: nil)
                }
                break
            }
            perform(action, context: context)
        }
        if unread.readableBytes == 0 && unread.capacity > 0 { unread = releasedBuffer }  // idle sockets hold no buffer
    }

    private func perform(_ action: WebSocketStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .deliver(let message):
            guard !consumerGone else { return }
            if case .stopProducing = source.yield(message) { demand = false }
        case .sendPong(let payload):
            writeFrame(.pong, payload: payload, context: context)
        case .pongReceived, .none:
            break
        case .answerClose(let code, let reason, let echo):
            peerClose = (code, reason)
            var payload = context.channel.allocator.buffer(capacity: 2)
            if code != nil, let echo { payload.writeInteger(echo.rawValue) }
            writeFrame(.close, payload: payload, context: context)
            finishAfterClose(context: context)
        case .closeHandshakeDone(let code, let reason):
            peerClose = (code, reason)
            finishAfterClose(context: context)
        case .fail(let violation):
            failure = .failed(code: violation.code, reason: violation.reason)
            writeFrame(.close, payload: Self.closePayload(violation.code, violation.reason, allocator: context.channel.allocator), context: context)
            unread.clear()
            context.flush()
            context.close(promise: nil)
        }
    }

    /// Both close frames have passed: the server closes TCP now; the client gives the server a
    /// moment to close first (RFC 6455 §7.1.1), then closes itself.
    private func finishAfterClose(context: ChannelHandlerContext) {
        context.flush()
        switch role {
        case .server:
            context.close(promise: nil)
        case .client:
            scheduleCloseTimer(after: .milliseconds(200))
        }
    }

    // MARK: - Sending (on the event loop)

    /// Sends a message (compressed if agreed and worth it, fragmented if configured). Returns a
    /// future to wait on when the channel is not writable, so a fast sender is held back.
    @discardableResult
    func send(_ opcode: WebSocketOpcode, payload: ByteBuffer, sent: (() -> Void)? = nil) throws -> EventLoopFuture<Void>? {
        guard let context, machine.state == .open, context.channel.isActive else { throw WebSocketError.closed }
        var payload = payload
        var compressed = false
        if let deflater, let settings = configuration.compression, payload.readableBytes >= settings.minimumSize {
            payload = try deflater.compress(payload, allocator: context.channel.allocator)
            compressed = true
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        if let sent { promise.futureResult.assumeIsolated().whenComplete { _ in sent() } }
        if let size = configuration.outgoingFragmentSize, payload.readableBytes > size {
            var first = true
            while payload.readableBytes > size {
                let piece = payload.readSlice(length: size)!
                writeFrame(first ? opcode : .continuation, fin: false, compressed: first && compressed, payload: piece, context: context)
                first = false
            }
            writeFrame(.continuation, payload: payload, context: context, promise: promise)
        } else {
            writeFrame(opcode, compressed: compressed, payload: payload, context: context, promise: promise)
        }
        context.flush()
        return context.channel.isWritable ? nil : promise.futureResult
    }

    /// Queues a message without waiting, for fan-out: a peer that has more than `limit` bytes
    /// of earlier such messages still unsent is too slow to keep up and is closed with 1008.
    func enqueue(_ opcode: WebSocketOpcode, payload: ByteBuffer, limit: Int) {
        guard let context, machine.state == .open else { return }
        let size = payload.readableBytes
        guard queuedBytes + size <= limit else {
            close(code: .policyViolation, reason: "too slow to keep up")
            return
        }
        queuedBytes += size
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        do {
            try send(opcode, payload: payload, sent: { loopBound.value.queuedBytes -= size })
        } catch {
            queuedBytes -= size
        }
    }

    /// Sends a ping.
    func ping(_ payload: ByteBuffer) throws {
        guard let context, machine.state == .open else { throw WebSocketError.closed }
        writeFrame(.ping, payload: payload, context: context)
        context.flush()
    }

    /// Starts the close handshake (nothing if it has started). The connection is closed when
    /// the peer answers, or after the close timeout.
    func close(code: WebSocketCloseCode, reason: String) {
        guard let context, machine.state == .open else { return }
        machine.closeSent()
        writeFrame(.close, payload: Self.closePayload(code, reason, allocator: context.channel.allocator), context: context)
        context.flush()
        scheduleCloseTimer(after: configuration.closeTimeout)
        // The peer's close frame must be read even if the application stopped reading.
        if readPending {
            readPending = false
            context.read()
        }
        process()
    }

    /// The peer's close frame, for ``WebSocket/closeCode``.
    var outcome: (code: WebSocketCloseCode?, reason: String) {
        (peerClose?.code, peerClose?.reason ?? "")
    }

    private func writeFrame(
        _ opcode: WebSocketOpcode, fin: Bool = true, compressed: Bool = false, payload: ByteBuffer,
        context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil
    ) {
        let maskKey: UInt32? = role == .client ? UInt32.random(in: .min ... .max) : nil
        let length = payload.readableBytes
        if maskKey == nil && length > 16 * 1024 {
            // A large payload goes out as its own buffer, not copied behind the header.
            var header = context.channel.allocator.buffer(capacity: 10)
            WebSocketFrameEncoder.write(opcode: opcode, fin: fin, compressed: compressed, payload: ByteBuffer(), maskKey: nil, to: &header)
            Self.patchLength(&header, length: length)
            context.write(wrapOutboundOut(header), promise: nil)
            context.write(wrapOutboundOut(payload), promise: promise)
            return
        }
        var frame = context.channel.allocator.buffer(
            capacity: WebSocketFrameEncoder.headerSize(length: length, masked: maskKey != nil) + length)
        WebSocketFrameEncoder.write(opcode: opcode, fin: fin, compressed: compressed, payload: payload, maskKey: maskKey, to: &frame)
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    /// Rewrites the length of a header written for an empty payload to `length` (> 16 KiB).
    private static func patchLength(_ header: inout ByteBuffer, length: Int) {
        let first = header.getInteger(at: header.readerIndex, as: UInt8.self)!
        header.clear()
        header.writeInteger(first)
        if length <= 0xFFFF {
            header.writeInteger(UInt8(126))
            header.writeInteger(UInt16(length))
        } else {
            header.writeInteger(UInt8(127))
            header.writeInteger(UInt64(length))
        }
    }

    static func closePayload(_ code: WebSocketCloseCode, _ reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var payload = allocator.buffer(capacity: 2 + reason.utf8.count)
        payload.writeInteger(code.rawValue)
        // A close frame's payload is at most 125 bytes; cut the reason on a character boundary.
        var reasonBytes = 0
        for scalar in reason.unicodeScalars {
            let size = String(scalar).utf8.count
            guard reasonBytes + size <= 123 else { break }
            reasonBytes += size
        }
        payload.writeBytes(reason.utf8.prefix(reasonBytes))
        return payload
    }

    // MARK: - Consumer demand (called on the event loop)

    func consumerWantsMore() {
        guard !demand else { return }
        demand = true
        process()
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    func consumerTerminated() {
        consumerGone = true
        demand = true
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    // MARK: - Timers

    private func scheduleKeepAlive() {
        guard let interval = configuration.pingInterval, let context else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        keepAliveTimer = context.eventLoop.assumeIsolated().scheduleTask(in: pingOutstanding ? configuration.deadPeerTimeout : interval) {
            loopBound.value.keepAliveFired()
        }
    }

    private func keepAliveFired() {
        guard let context, machine.state == .open else { return }
        if heardFromPeer || readPending {
            // Frames came in, or we stopped reading for a slow consumer: not a dead peer.
            heardFromPeer = false
            pingOutstanding = false
        } else if pingOutstanding {
            // No frame at all since our ping: the peer (or the path to it) is dead.
            failure = .connectionLost
            context.close(promise: nil)
            return
        } else {
            pingOutstanding = true
            writeFrame(.ping, payload: ByteBuffer(), context: context)
            context.flush()
        }
        scheduleKeepAlive()
    }

    private func scheduleCloseTimer(after delay: TimeAmount) {
        guard let context, closeTimer == nil else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            loopBound.value.context?.close(promise: nil)
        }
    }
}
