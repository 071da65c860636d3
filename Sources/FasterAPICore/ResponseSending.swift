import NIOCore
import NIOHTTP2

/// A protocol codec's side of sending a response, called on its event loop by
/// ``sendResponse(_:via:eventLoop:)``.
protocol ResponseWriting: AnyObject {
    /// Writes the head, and the body if it is in memory. Returns the job that streams the rest,
    /// if the body is streamed.
    func beginResponse(_ response: Response) -> ResponseStreamJob?
    /// Ends a streamed body (with the sink's trailers), or abandons it after `failure`.
    func endStreamedResponse(_ sink: ChannelBodySink, failure: (any Error)?)
    /// After the head of a response with an upgrade has been written (`101` on HTTP/1.1, `2xx`
    /// to an extended CONNECT on HTTP/2): leaves the pipeline and hands over the channel (the
    /// connection, or the stream), or nil if no upgrade was started.
    func handOverConnection() -> UpgradedConnection?
}

/// What the request's task must still do after the head is written: stream the body.
struct ResponseStreamJob: Sendable {
    let produce: @Sendable (ResponseBodyWriter) async throws -> Void
    let sink: ChannelBodySink
}

/// What is left of sending a response once its head is out.
enum ResponseRemainder: Sendable {
    /// Nothing: the response is sent.
    case done
    /// A streamed body to produce.
    case stream(ResponseStreamJob)
    /// A protocol to run on the handed-over connection.
    case upgrade(ConnectionUpgrade, UpgradedConnection)
}

/// Sends `response` through `handler` from the task that answered the request: the head (and a
/// body in memory) at once, then a streamed body write by write with back-pressure, or the
/// upgrade the response asks for.
func sendResponse<Writer: ResponseWriting>(
    _ response: Response, via handler: NIOLoopBound<Writer>, eventLoop: any EventLoop
) async {
    await finishSending(await beginSending(response, via: handler, eventLoop: eventLoop), via: handler, eventLoop: eventLoop)
}

/// Writes the head (and a body in memory); returns what is left to do.
func beginSending<Writer: ResponseWriting>(
    _ response: Response, via handler: NIOLoopBound<Writer>, eventLoop: any EventLoop
) async -> ResponseRemainder {
    // The task's executor is the event loop, so these are normally plain calls.
    if let job = await onEventLoop(eventLoop, { handler.value.beginResponse(response) }) ?? nil { return .stream(job) }
    if let upgrade = response.upgrade,
        let connection = await onEventLoop(eventLoop, { handler.value.handOverConnection() }) ?? nil
    {
        return .upgrade(upgrade, connection)
    }
    return .done
}

/// Streams the body or runs the upgrade that `beginSending` left.
func finishSending<Writer: ResponseWriting>(
    _ remainder: ResponseRemainder, via handler: NIOLoopBound<Writer>, eventLoop: any EventLoop
) async {
    let job: ResponseStreamJob
    switch remainder {
    case .done:
        return
    case .upgrade(let upgrade, let connection):
        do {
            try await upgrade.run(connection)
        } catch {
            connection.channel.close(promise: nil)
        }
        return
    case .stream(let stream):
        job = stream
    }
    var failure: (any Error)? = nil
    do {
        try await job.produce(ResponseBodyWriter(job.sink))
        try job.sink.checkComplete()
    } catch {
        failure = error
    }
    let outcome = failure
    await onEventLoop(eventLoop) { handler.value.endStreamedResponse(job.sink, failure: outcome) }
}

/// Runs `body` on the event loop: inline when already there (the usual case, as a request's
/// task runs on its connection's loop), else by hopping. Nil if the loop is gone.
func onEventLoop<T: Sendable>(_ eventLoop: any EventLoop, _ body: @escaping @Sendable () -> T) async -> T? {
    if eventLoop.inEventLoop { return body() }
    return try? await eventLoop.submit(body).get()
}

/// Errors in a streamed response body.
enum ResponseBodyError: Error {
    /// The producer wrote more or fewer bytes than the `Content-Length` it declared.
    case lengthMismatch(declared: Int, written: Int)
    /// The producer wrote after its trailers.
    case writeAfterTrailers
}

/// Writes a streamed response body to a channel with back-pressure, framed for its protocol;
/// holds a body of declared length to exactly that many bytes and keeps the trailers for the end.
final class ChannelBodySink: ResponseBodySink, @unchecked Sendable {
    // Sendable: `written` and `trailers` are changed only by the one task that produces this
    // body, write by write, and read by it after the producer returns.
    enum Framing {
        /// HTTP/1.1 with Content-Length, or close-delimited.
        case raw
        /// HTTP/1.1 chunked transfer coding.
        case chunked
        /// HTTP/2 DATA frames on a stream channel.
        case http2
    }

    let channel: any Channel
    let framing: Framing
    let length: Int?
    private var written = 0
    /// Trailer fields the producer gave, sent after the body.
    private(set) var trailers: HTTPHeaders?

    init(channel: any Channel, framing: Framing, length: Int?) {
        self.channel = channel
        self.framing = framing
        self.length = length
    }

    func write(_ buffer: ByteBuffer) async throws {
        guard channel.isActive else { throw HTTPBodyError.connectionClosed }
        guard trailers == nil else { throw ResponseBodyError.writeAfterTrailers }
        written += buffer.readableBytes
        if let length, written > length { throw ResponseBodyError.lengthMismatch(declared: length, written: written) }
        let future: EventLoopFuture<Void>
        switch framing {
        case .raw:
            future = channel.writeAndFlush(buffer)
        case .chunked:
            var prefix = channel.allocator.buffer(capacity: 12)
            prefix.writeString(String(buffer.readableBytes, radix: 16))
            prefix.writeStaticString("\r\n")
            channel.write(prefix, promise: nil)
            channel.write(buffer, promise: nil)
            var suffix = channel.allocator.buffer(capacity: 2)
            suffix.writeStaticString("\r\n")
            future = channel.writeAndFlush(suffix)
        case .http2:
            future = channel.writeAndFlush(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(buffer))))
        }
        if !channel.isWritable { try await future.get() }
    }

    func writeTrailers(_ trailers: HTTPHeaders) async throws {
        guard self.trailers == nil else { throw ResponseBodyError.writeAfterTrailers }
        self.trailers = trailers
    }

    /// Throws if a declared length was not reached.
    func checkComplete() throws {
        if let length, written != length { throw ResponseBodyError.lengthMismatch(declared: length, written: written) }
    }
}
