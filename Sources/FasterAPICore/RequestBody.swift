import NIOConcurrencyHelpers
import NIOCore

/// A request body: empty, already buffered, or streamed from the connection with back-pressure.
///
/// Iterate it (`for try await chunk in body`) to stream it, or ``collect(upTo:)`` to buffer it.
/// A streamed body can be read once; the connection only reads more from the socket as the
/// consumer asks, so a slow consumer holds the client back instead of filling memory.
public struct RequestBody: AsyncSequence, Sendable {
    /// Each element is a chunk of the body.
    public typealias Element = ByteBuffer

    enum Storage: Sendable {
        case buffer(ByteBuffer)
        case stream(RequestBodyStream)
    }

    let storage: Storage

    /// An empty body.
    public static let empty = RequestBody(storage: .buffer(ByteBuffer()))

    /// A body that is already in memory.
    public init(buffer: ByteBuffer) { self.storage = .buffer(buffer) }

    /// A body whose bytes come from a stream that the caller produces (used by the test client
    /// and protocol codecs other than HTTP/1.1).
    public init(stream: RequestBodyStream) { self.storage = .stream(stream) }

    init(storage: Storage) { self.storage = storage }

    /// The buffered bytes, if the body is not streamed.
    public var buffer: ByteBuffer? {
        if case .buffer(let buffer) = storage { return buffer }
        return nil
    }

    /// Reads the whole body into one buffer, failing with ``HTTPBodyError/tooLarge(limit:)`` if
    /// it has more than `maxBytes` bytes.
    public func collect(upTo maxBytes: Int) async throws -> ByteBuffer {
        switch storage {
        case .buffer(let buffer):
            guard buffer.readableBytes <= maxBytes else { throw HTTPBodyError.tooLarge(limit: maxBytes) }
            return buffer
        case .stream:
            var collected: ByteBuffer? = nil
            for try await var chunk in self {
                if collected == nil {
                    collected = chunk
                } else {
                    collected!.writeBuffer(&chunk)
                }
                guard collected!.readableBytes <= maxBytes else { throw HTTPBodyError.tooLarge(limit: maxBytes) }
            }
            return collected ?? ByteBuffer()
        }
    }

    /// An iterator over the body's chunks; a streamed body can be iterated once.
    public func makeAsyncIterator() -> AsyncIterator {
        switch storage {
        case .buffer(let buffer): AsyncIterator(buffer: buffer.readableBytes > 0 ? buffer : nil, stream: nil)
        case .stream(let stream): AsyncIterator(buffer: nil, stream: stream.makeIterator())
        }
    }

    /// Iterates the body's chunks.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var buffer: ByteBuffer?
        var stream: RequestBodyStream.Iterator?

        /// The next chunk, or nil at the end of the body.
        public mutating func next() async throws -> ByteBuffer? {
            if let buffer {
                self.buffer = nil
                return buffer
            }
            return try await stream?.next()
        }
    }
}

/// A back-pressured stream of body chunks fed by a producer (a connection, the test client).
///
/// Create one with ``makeStream(lowWatermark:highWatermark:produceMore:didTerminate:onFirstRead:)``;
/// the producer yields chunks into the
/// ``Source`` and is told when the consumer wants more.
public struct RequestBodyStream: Sendable {
    typealias Producer = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, Delegate
    >

    let producer: Producer
    let onFirstRead: (@Sendable () -> Void)?
    /// Set by the first iteration: the bytes can be read once.
    private let consumed = NIOLockedValueBox(false)

    /// Called by the stream with the consumer's demand; a protocol codec reads more when asked.
    public struct Delegate: NIOAsyncSequenceProducerDelegate {
        let produce: @Sendable () -> Void
        let terminate: @Sendable () -> Void
        /// Tells the producer the consumer wants more chunks.
        public func produceMore() { produce() }
        /// Tells the producer the consumer is gone or the stream has finished.
        public func didTerminate() { terminate() }
    }

    /// The producer's side: yield chunks, finish, or fail.
    public struct Source: Sendable {
        let source: Producer.Source

        /// Hands a chunk to the consumer; returns false when the producer should pause until
        /// `produceMore` is called.
        @discardableResult
        public func yield(_ chunk: ByteBuffer) -> Bool {
            switch source.yield(chunk) {
            case .produceMore: true
            case .stopProducing, .dropped: false
            }
        }

        /// Ends the stream after the chunks already yielded.
        public func finish() { source.finish() }

        /// Ends the stream with an error the consumer will see after the chunks already yielded.
        public func finish(_ error: any Error) { source.finish(error) }
    }

    /// Makes a stream and its source. `produceMore` is called when the consumer has drained the
    /// buffered chunks below the low watermark; `didTerminate` when the consumer is gone or the
    /// stream finished. `onFirstRead` runs once when the consumer first asks for a chunk.
    public static func makeStream(
        lowWatermark: Int = 2,
        highWatermark: Int = 8,
        produceMore: @escaping @Sendable () -> Void,
        didTerminate: @escaping @Sendable () -> Void,
        onFirstRead: (@Sendable () -> Void)? = nil
    ) -> (stream: RequestBodyStream, source: Source) {
        let result = Producer.makeSequence(
            elementType: ByteBuffer.self,
            backPressureStrategy: .init(lowWatermark: lowWatermark, highWatermark: highWatermark),
            finishOnDeinit: true,
            delegate: Delegate(produce: produceMore, terminate: didTerminate))
        return (RequestBodyStream(producer: result.sequence, onFirstRead: onFirstRead), Source(source: result.source))
    }

    func makeIterator() -> Iterator {
        let first = consumed.withLockedValue { consumed in
            defer { consumed = true }
            return !consumed
        }
        guard first else { return Iterator(base: nil, onFirstRead: nil) }
        return Iterator(base: producer.makeAsyncIterator(), onFirstRead: onFirstRead)
    }

    struct Iterator {
        /// Nil when the body was already read by another iteration.
        var base: Producer.AsyncIterator?
        var onFirstRead: (@Sendable () -> Void)?

        mutating func next() async throws -> ByteBuffer? {
            guard base != nil else { throw HTTPBodyError.alreadyConsumed }
            if let onFirstRead {
                self.onFirstRead = nil
                onFirstRead()
            }
            return try await base!.next(isolation: #isolation)
        }
    }
}
