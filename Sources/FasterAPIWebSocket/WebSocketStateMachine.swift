import NIOCore

/// One WebSocket connection's protocol state, without I/O: it takes received frames and returns
/// what to do (deliver a message, answer a ping, echo a close, fail the connection), and tracks
/// the close handshake (RFC 6455 §5.4–5.5, §7).
struct WebSocketStateMachine {
    enum State: Equatable {
        case open
        /// We sent a close frame and wait for the peer's.
        case closeSent
        /// Both close frames have passed, or the connection failed.
        case closed
    }

    enum Action: Equatable {
        /// A whole message for the application.
        case deliver(WebSocketMessage)
        /// Answer a ping with this pong payload.
        case sendPong(ByteBuffer)
        /// A pong arrived (the peer is alive).
        case pongReceived
        /// The peer sent a close frame while we had not: answer it with `echo`, then close.
        case answerClose(received: WebSocketCloseCode?, reason: String, echo: WebSocketCloseCode?)
        /// The peer answered our close: the handshake is complete; close the connection.
        case closeHandshakeDone(received: WebSocketCloseCode?, reason: String)
        /// The peer broke the protocol: send a close frame with this code and reason, then close.
        case fail(WebSocketViolation)
        /// Nothing to do (a fragment kept, or a frame ignored while closing).
        case none
    }

    private(set) var state: State = .open
    var decoder: WebSocketFrameDecoder
    let maxMessageSize: Int
    /// The message being reassembled from fragments.
    private var partial: (opcode: WebSocketOpcode, compressed: Bool, payload: ByteBuffer)?
    private var utf8 = UTF8Validator()
    /// The current text message's fragments were validated as they came.
    private var fragmentsValidated = false

    init(expectMasked: Bool, maxFrameSize: Int, maxMessageSize: Int, compression: Bool) {
        decoder = WebSocketFrameDecoder(expectMasked: expectMasked, maxFrameSize: maxFrameSize)
        decoder.allowsCompression = compression
        self.maxMessageSize = maxMessageSize
    }

    /// The next action for the bytes in `buffer`, consuming one frame's bytes, or nil until a
    /// whole frame has arrived.
    mutating func next(_ buffer: inout ByteBuffer, deflater: MessageDeflater?, allocator: ByteBufferAllocator)
        -> Action?
    {
        guard state != .closed else {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return nil
        }
        do {
            guard let frame = try decoder.next(&buffer) else { return nil }
            return try receive(frame, deflater: deflater, allocator: allocator)
        } catch {
            state = .closed
            partial = nil
            return .fail(error)
        }
    }

    /// We sent a close frame (the application closed, or a failure).
    mutating func closeSent() {
        if state == .open { state = .closeSent }
    }

    /// The connection is gone.
    mutating func closed() { state = .closed }

    private mutating func receive(_ frame: WebSocketFrame, deflater: MessageDeflater?, allocator: ByteBufferAllocator)
        throws(WebSocketViolation) -> Action
    {
        switch frame.opcode {
        case .ping:
            return state == .open ? .sendPong(frame.payload) : .none
        case .pong:
            return .pongReceived
        case .close:
            return try receiveClose(frame.payload)
        case .text, .binary:
            guard partial == nil else { throw .protocolError("new message before the previous one ended") }
            guard frame.fin else {
                partial = (frame.opcode, frame.compressed, frame.payload)
                try checkFragment(frame.payload, opcode: frame.opcode, compressed: frame.compressed, total: frame.payload.readableBytes)
                return .none
            }
            return try finish(opcode: frame.opcode, compressed: frame.compressed, payload: frame.payload, deflater: deflater, allocator: allocator)
        case .continuation:
            guard var message = partial else { throw .protocolError("continuation frame without a message") }
            partial = nil
            var payload = frame.payload
            guard message.payload.readableBytes + payload.readableBytes <= maxMessageSize else {
                throw WebSocketViolation(code: .messageTooBig, reason: "message too big")
            }
            try checkFragment(payload, opcode: message.opcode, compressed: message.compressed, total: message.payload.readableBytes + payload.readableBytes)
            message.payload.writeBuffer(&payload)
            guard frame.fin else {
                partial = message
                return .none
            }
            return try finish(opcode: message.opcode, compressed: message.compressed, payload: message.payload, deflater: deflater, allocator: allocator)
        }
    }

    /// Checks a fragment as it arrives: size, and UTF-8 of uncompressed text, so a bad message
    /// fails at its first bad byte rather than at its end.
    private mutating func checkFragment(_ payload: ByteBuffer, opcode: WebSocketOpcode, compressed: Bool, total: Int)
        throws(WebSocketViolation)
    {
        guard total <= maxMessageSize else { throw WebSocketViolation(code: .messageTooBig, reason: "message too big") }
        if opcode == .text && !compressed {
            fragmentsValidated = true
            guard utf8.validate(payload.readableBytesView) else {
                throw WebSocketViolation(code: .invalidPayload, reason: "invalid UTF-8 in text message")
            }
        }
    }

    private mutating func finish(
        opcode: WebSocketOpcode, compressed: Bool, payload: ByteBuffer, deflater: MessageDeflater?,
        allocator: ByteBufferAllocator
    ) throws(WebSocketViolation) -> Action {
        var payload = payload
        let validated = fragmentsValidated
        fragmentsValidated = false
        if compressed {
            guard let deflater else { throw .protocolError("compressed message without compression") }
            payload = try deflater.decompress(payload, limit: maxMessageSize, allocator: allocator)
        } else if payload.readableBytes > maxMessageSize {
            throw WebSocketViolation(code: .messageTooBig, reason: "message too big")
        }
        guard state == .open else { return .none }  // data after our close is dropped
        if opcode == .binary { return .deliver(.binary(payload)) }
        if !validated {
            utf8 = UTF8Validator()
            guard utf8.validate(payload.readableBytesView) else {
                throw WebSocketViolation(code: .invalidPayload, reason: "invalid UTF-8 in text message")
            }
        }
        guard utf8.isComplete else {
            throw WebSocketViolation(code: .invalidPayload, reason: "text message ends inside a character")
        }
        utf8 = UTF8Validator()
        return .deliver(.text(String(buffer: payload)))
    }

    private mutating func receiveClose(_ payload: ByteBuffer) throws(WebSocketViolation) -> Action {
        var payload = payload
        var code: WebSocketCloseCode? = nil
        var reason = ""
        if payload.readableBytes == 1 { throw .protocolError("close frame with a one-byte payload") }
        if let raw = payload.readInteger(as: UInt16.self) {
            let received = WebSocketCloseCode(rawValue: raw)
            guard received.isSendable else { throw .protocolError("invalid close code \(raw)") }
            code = received
            var validator = UTF8Validator()
            guard validator.validate(payload.readableBytesView), validator.isComplete else {
                throw WebSocketViolation(code: .invalidPayload, reason: "close reason is not UTF-8")
            }
            reason = String(buffer: payload)
        }
        switch state {
        case .open:
            state = .closed
            return .answerClose(received: code, reason: reason, echo: code ?? .normalClosure)
        case .closeSent:
            state = .closed
            return .closeHandshakeDone(received: code, reason: reason)
        case .closed:
            return .none
        }
    }
}
