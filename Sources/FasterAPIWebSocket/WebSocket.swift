import Foundation
import NIOCore

/// An open WebSocket, server or client side: iterate ``messages`` to receive, `send` to send,
/// ``close(code:reason:)`` to end it.
///
/// ```swift
/// for try await message in ws.messages {
///     try await ws.send(message)          // echo
/// }
/// ```
/// `messages` ends when the peer closes (its code is then ``closeCode``) and throws
/// ``WebSocketError`` when the connection fails or is lost. Sends from several tasks are safe;
/// each message leaves whole, and a send waits while the peer is not reading.
public final class WebSocket: Sendable {
    /// The messages the peer sends, in order; iterate once.
    public let messages: WebSocketMessages
    /// The subprotocol both sides agreed on, if any.
    public let subprotocol: String?
    /// The `Sec-WebSocket-Extensions` value agreed (permessage-deflate parameters), if any.
    public let extensions: String?
    let handler: NIOLoopBound<WebSocketHandler>
    let channel: any Channel

    init(
        channel: any Channel, role: WebSocketHandler.Role, configuration: WebSocketConfiguration,
        agreement: DeflateAgreement?, extensions: String?, subprotocol: String?
    ) throws {
        let eventLoop = channel.eventLoop
        let box = HandlerBox()
        let result = WebSocketHandler.Producer.makeSequence(
            elementType: WebSocketMessage.self,
            backPressureStrategy: .init(
                lowWatermark: max(1, configuration.maxBufferedMessages / 2),
                highWatermark: max(1, configuration.maxBufferedMessages)),
            finishOnDeinit: true,
            delegate: WebSocketMessages.Delegate(eventLoop: eventLoop, box: box))
        let handler = try WebSocketHandler(
            role: role, configuration: configuration, agreement: agreement, source: result.source)
        box.handler = NIOLoopBound(handler, eventLoop: eventLoop)
        self.handler = box.handler!
        self.messages = WebSocketMessages(producer: result.sequence)
        self.channel = channel
        self.subprotocol = subprotocol
        self.extensions = extensions
    }

    /// Adds the handler to the channel's pipeline (on its event loop) and reads `buffered` first.
    func start(buffered: ByteBuffer) throws {
        let handler = self.handler.value
        try channel.pipeline.syncOperations.addHandler(handler)
        handler.receive(buffered: buffered)
    }

    /// Sends a text message.
    public func send(_ text: String) async throws {
        try await send(.text, ByteBuffer(string: text))
    }

    /// Sends a binary message.
    public func send(_ bytes: ByteBuffer) async throws {
        try await send(.binary, bytes)
    }

    /// Sends a binary message.
    public func send(_ bytes: some Sequence<UInt8> & Sendable) async throws {
        try await send(.binary, ByteBuffer(bytes: bytes))
    }

    /// Sends a message as it is (text as text, binary as binary).
    public func send(_ message: WebSocketMessage) async throws {
        let (opcode, payload) = message.frame
        try await send(opcode, payload)
    }

    /// Sends `value` as a JSON text message.
    public func send<T: Encodable>(json value: T, encoder: JSONEncoder = JSONEncoder()) async throws {
        try await send(.text, ByteBuffer(bytes: try encoder.encode(value)))
    }

    /// Queues `message` without waiting for it to be written (what a ``WebSocketHub`` uses to fan
    /// out): if more than `limit` bytes queued this way are still unsent, the peer is too slow and
    /// is closed with 1008 instead.
    public func enqueue(_ message: WebSocketMessage, limit: Int = 1 << 20) {
        let handler = self.handler
        let (opcode, payload) = message.frame
        if channel.eventLoop.inEventLoop {
            handler.value.enqueue(opcode, payload: payload, limit: limit)
        } else {
            channel.eventLoop.execute { handler.value.enqueue(opcode, payload: payload, limit: limit) }
        }
    }

    /// Sends a ping (at most 125 bytes of payload); the peer answers with a pong.
    public func ping(_ payload: ByteBuffer = ByteBuffer()) async throws {
        guard payload.readableBytes <= 125 else { throw WebSocketError.failed(code: .protocolError, reason: "ping payload over 125 bytes") }
        let handler = self.handler
        try await onLoop { try handler.value.ping(payload) }
    }

    /// Starts the close handshake with `code` and `reason` and waits until the connection has
    /// closed (the peer answered, or the close timeout passed).
    public func close(code: WebSocketCloseCode = .normalClosure, reason: String = "") async throws {
        let handler = self.handler
        try await onLoop { handler.value.close(code: code, reason: reason) }
        try? await channel.closeFuture.get()
    }

    /// Waits until the connection has closed (after a close handshake, a failure or a drop).
    public func waitUntilClosed() async throws {
        try await channel.closeFuture.get()
    }

    /// The code of the peer's close frame (nil while open, or if it closed without one).
    public var closeCode: WebSocketCloseCode? {
        get async { await closeOutcome?.code }
    }

    /// The reason of the peer's close frame ("" if none).
    public var closeReason: String {
        get async { await closeOutcome?.reason ?? "" }
    }

    private var closeOutcome: (code: WebSocketCloseCode?, reason: String)? {
        get async {
            let handler = self.handler
            return try? await onLoop { () -> (code: WebSocketCloseCode?, reason: String)? in
                let outcome = handler.value.outcome
                return outcome.code == nil && outcome.reason.isEmpty ? nil : (outcome.code, outcome.reason)
            }
        }
    }

    private func send(_ opcode: WebSocketOpcode, _ payload: ByteBuffer) async throws {
        let handler = self.handler
        try await onLoop { try handler.value.send(opcode, payload: payload) }?.get()
    }

    private func onLoop<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await onEventLoop(channel.eventLoop, body)
    }

    /// Runs `session` with this socket and ends the socket after it: a close 1000 if `session`
    /// returns with the socket open, 1011 if it throws. When the connection goes first, the
    /// session is cancelled (it may be waiting on something other than ``messages``).
    func run(_ session: @escaping @Sendable (WebSocket) async throws -> Void) async {
        enum Ending { case returned, threw, connectionClosed }
        await withTaskGroup(of: Ending.self) { group in
            group.addTask {
                do {
                    try await session(self)
                    return .returned
                } catch {
                    return .threw
                }
            }
            group.addTask {
                try? await self.channel.closeFuture.get()
                return .connectionClosed
            }
            switch await group.next() {
            case .returned?: try? await close()
            case .threw?: try? await close(code: .internalError, reason: "")
            case .connectionClosed?, nil: group.cancelAll()
            }
        }
    }
}

/// Holds the handler for the message stream's delegate, which is made before the handler.
final class HandlerBox: @unchecked Sendable {
    // Sendable: set once in `WebSocket.init` before the stream can call its delegate, then only read.
    var handler: NIOLoopBound<WebSocketHandler>?
}

/// The messages a peer sends, as an async sequence (one iteration). Reading from the socket
/// pauses while the consumer has `maxBufferedMessages` messages unread.
public struct WebSocketMessages: AsyncSequence, Sendable {
    /// Each element is a whole message.
    public typealias Element = WebSocketMessage

    let producer: WebSocketHandler.Producer

    /// Tells the connection about the consumer's demand.
    public struct Delegate: NIOAsyncSequenceProducerDelegate {
        let eventLoop: any EventLoop
        let box: HandlerBox

        /// The consumer wants more messages.
        public func produceMore() {
            let box = self.box
            eventLoop.execute { box.handler?.value.consumerWantsMore() }
        }

        /// The consumer is gone (or the stream ended).
        public func didTerminate() {
            let box = self.box
            eventLoop.execute { box.handler?.value.consumerTerminated() }
        }
    }

    /// An iterator over the messages.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: producer.makeAsyncIterator()) }

    /// Iterates the messages.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: WebSocketHandler.Producer.AsyncIterator

        /// The next message; nil once the peer has closed; throws ``WebSocketError`` on failure.
        public mutating func next() async throws -> WebSocketMessage? {
            try await base.next(isolation: #isolation)
        }
    }
}
