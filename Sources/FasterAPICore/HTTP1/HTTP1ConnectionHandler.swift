import NIOCore

/// Serves HTTP/1.1 on one connection: parses requests, runs the responder for each (one at a
/// time, so pipelined responses leave in order), writes responses, and enforces the limits and
/// timeouts of ``ServerConfiguration``.
///
/// One task per connection, whose executor is the connection's event loop, answers the requests
/// in turn, so a request is parsed, handled and answered on one thread with no task created per
/// request. Reads from the socket are driven by demand: while a body
/// is streamed the socket is read only as fast as the handler consumes it.
final class HTTP1ConnectionHandler<Responder: HTTPResponder>: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum BodyState {
        /// Every body byte has been parsed (or there was no body).
        case complete
        /// Body bytes go to the handler through `source`.
        case streaming(RequestBodyStream.Source)
        /// The handler is done with the body; the rest is read and dropped.
        case draining
    }

    /// One request being answered.
    private struct Exchange {
        var keepAlive: Bool
        var isHead: Bool
        var version: HTTPVersion
        var body: BodyState
        var bodyBytes = 0
        var bodyDemand = true
        var awaitingContinue: Bool
        var responseComplete = false
    }

    private enum Deadline { case idle, head }

    private let responder: Responder
    private let configuration: ServerConfiguration
    private let resources: LoopResources
    private var parser: HTTP1Parser
    private var unread = ByteBuffer()
    private var exchange: Exchange?
    private var isClosed = false
    private var isQuiescing = false
    private var readPending = false
    private var context: ChannelHandlerContext!
    private var bound: NIOLoopBound<HTTP1ConnectionHandler>!
    private var connectionInfo = ConnectionInfo()
    /// The task answering this connection's requests; started with the first request.
    private var connectionTask: Task<Void, Never>?
    /// A request the task has not picked up yet.
    private var queuedRequest: HTTPRequest?
    /// The task, parked until the next request arrives.
    private var waiter: UnsafeContinuation<HTTPRequest?, Never>?
    private var deadline: (kind: Deadline, at: NIODeadline)?
    private var timer: Scheduled<Void>?
    private var timerFiresAt: NIODeadline?

    init(responder: Responder, configuration: ServerConfiguration, resources: LoopResources) {
        self.responder = responder
        self.configuration = configuration
        self.resources = resources
        self.parser = HTTP1Parser(limits: configuration.parserLimits)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        connectionInfo = ConnectionInfo(
            remoteAddress: context.channel.remoteAddress, localAddress: context.channel.localAddress)
        setDeadline(.idle)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        connectionInfo = ConnectionInfo(
            remoteAddress: context.channel.remoteAddress, localAddress: context.channel.localAddress)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if unread.readableBytes == 0 {
            unread = buffer
        } else {
            if unread.readerIndex > 4096 { unread.discardReadBytes() }
            unread.writeBuffer(&buffer)
        }
        process()
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        timer?.cancel()
        if let exchange {
            if case .streaming(let source) = exchange.body { source.finish(HTTPBodyError.connectionClosed) }
            connectionTask?.cancel()
        }
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: nil)
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            isQuiescing = true
            if exchange == nil && unread.readableBytes == 0 && parser.isAtMessageBoundary {
                context.close(promise: nil)
            } else {
                exchange?.keepAlive = false
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if shouldRead {
            context.read()
        } else {
            readPending = true
        }
    }

    private var shouldRead: Bool {
        guard !isClosed else { return false }
        guard let exchange else { return true }
        switch exchange.body {
        case .streaming: return exchange.bodyDemand
        case .draining: return true
        case .complete: return exchange.keepAlive && unread.readableBytes < configuration.maxPipelinedBytes
        }
    }

    private func resumeReadingIfNeeded() {
        if readPending && shouldRead {
            readPending = false
            context.read()
        }
    }

    // MARK: - Parsing

    /// Parses what has arrived, as far as the current exchange allows.
    private func process() {
        while !isClosed {
            if let exchange, case .complete = exchange.body { break }
            let event: HTTP1ParserEvent?
            do {
                event = try parser.next(&unread)
            } catch {
                parseFailed(error)
                return
            }
            guard let event else { break }
            switch event {
            case .head(let head, let framing, let keepAlive, let expectContinue):
                startExchange(head, framing: framing, keepAlive: keepAlive, expectContinue: expectContinue)
            case .body(let chunk):
                receiveBody(chunk)
            case .end:
                endBody()
            }
        }
        if exchange == nil && !isClosed {
            if unread.readableBytes > 0 || !parser.isAtMessageBoundary {
                if deadline?.kind != .head { setDeadline(.head) }
            }
        }
        resumeReadingIfNeeded()
    }

    private func startExchange(_ head: HTTPRequestHead, framing: HTTP1BodyFraming, keepAlive: Bool, expectContinue: Bool) {
        deadline = nil
        if case .length(let length) = framing, length > configuration.maxRequestBodyBytes {
            // Refuse before reading a byte of it; the client may still send it, so close after.
            writeErrorAndClose(HTTPBodyError.tooLarge(limit: configuration.maxRequestBodyBytes))
            return
        }
        var exchange = Exchange(
            keepAlive: keepAlive && !isQuiescing, isHead: head.method == .head, version: head.version,
            body: .complete, awaitingContinue: false)
        let body: RequestBody
        if case .length(let length) = framing, unread.readableBytes >= length, !expectContinue {
            // The whole body has arrived with the head: hand it over as one slice.
            guard case .body(let slice)? = try? parser.next(&unread), case .end? = try? parser.next(&unread) else {
                preconditionFailure("a fixed-length body that has fully arrived parses in two steps")
            }
            body = RequestBody(buffer: slice)
        } else if framing == .none {
            body = .empty
        } else {
            let eventLoop = context.eventLoop
            let bound = self.bound!
            var onFirstRead: (@Sendable () -> Void)? = nil
            if expectContinue {
                onFirstRead = { eventLoop.execute { bound.value.sendContinue() } }
            }
            let (stream, source) = RequestBodyStream.makeStream(
                produceMore: { eventLoop.execute { bound.value.bodyDemandChanged(true) } },
                didTerminate: { eventLoop.execute { bound.value.bodyConsumerGone() } },
                onFirstRead: onFirstRead)
            body = RequestBody(stream: stream)
            exchange.body = .streaming(source)
            exchange.awaitingContinue = expectContinue
            exchange.bodyDemand = !expectContinue
        }
        self.exchange = exchange
        deliver(HTTPRequest(head: head, body: body, connection: connectionInfo))
    }

    /// Hands a request to the connection's task, starting the task on the first request.
    private func deliver(_ request: HTTPRequest) {
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: request)
            return
        }
        queuedRequest = request
        guard connectionTask == nil else { return }
        let responder = self.responder
        let bound = self.bound!
        let eventLoop = context.eventLoop
        let executor: any TaskExecutor = resources.executor
        connectionTask = Task(executorPreference: executor) { [responder, bound, eventLoop] in
            await HTTP1ConnectionHandler.serve(responder: responder, handler: bound, eventLoop: eventLoop)
        }
    }

    /// The connection task: answers requests until the connection closes.
    private static func serve(responder: Responder, handler: NIOLoopBound<HTTP1ConnectionHandler>, eventLoop: any EventLoop) async {
        while let request = await nextRequest(handler) {
            await answer(request, responder: responder, handler: handler, eventLoop: eventLoop)
        }
    }

    /// The next request, or nil once the connection is closing. Runs on the event loop (the
    /// task's executor).
    private static func nextRequest(_ handler: NIOLoopBound<HTTP1ConnectionHandler>) async -> HTTPRequest? {
        await withUnsafeContinuation { continuation in
            let connection = handler.value
            if let request = connection.queuedRequest {
                connection.queuedRequest = nil
                continuation.resume(returning: request)
            } else if connection.isClosed {
                continuation.resume(returning: nil)
            } else {
                connection.waiter = continuation
            }
        }
    }

    private static func answer(
        _ request: HTTPRequest, responder: Responder, handler: NIOLoopBound<HTTP1ConnectionHandler>,
        eventLoop: any EventLoop
    ) async {
        let response: Response
        do {
            response = try await responder.respond(to: request)
        } catch {
            response = errorResponse(for: error)
        }
        await send(response, handler: handler, eventLoop: eventLoop)
    }

    private func receiveBody(_ chunk: ByteBuffer) {
        guard exchange != nil else { return }
        exchange!.bodyBytes += chunk.readableBytes
        if exchange!.bodyBytes > configuration.maxRequestBodyBytes {
            failBody(HTTPBodyError.tooLarge(limit: configuration.maxRequestBodyBytes))
            return
        }
        if case .streaming(let source) = exchange!.body, !source.yield(chunk) {
            exchange!.bodyDemand = false
        }
    }

    private func endBody() {
        guard let current = exchange else { return }
        if case .streaming(let source) = current.body { source.finish() }
        exchange!.body = .complete
        if current.responseComplete { finishExchange() }
    }

    /// The body cannot be read to its end, so the next message cannot be found: tell the handler,
    /// stop reading, and close once the response is out (now, if it already is).
    private func failBody(_ error: HTTPBodyError) {
        guard let current = exchange else { return }
        if case .streaming(let source) = current.body { source.finish(error) }
        exchange!.body = .complete
        exchange!.keepAlive = false
        unread.clear()
        if current.responseComplete {
            isClosed = true
            context.close(promise: nil)
        }
    }

    private func parseFailed(_ error: HTTPParseError) {
        if exchange != nil {
            failBody(.malformed(error))
        } else {
            writeErrorAndClose(error)
        }
    }

    private func bodyDemandChanged(_ demand: Bool) {
        guard exchange != nil else { return }
        exchange!.bodyDemand = demand
        resumeReadingIfNeeded()
    }

    private func bodyConsumerGone() {
        guard let current = exchange, case .streaming = current.body else { return }
        exchange!.body = .draining
        resumeReadingIfNeeded()
    }

    private func sendContinue() {
        guard let current = exchange, current.awaitingContinue, !isClosed else { return }
        exchange!.awaitingContinue = false
        exchange!.bodyDemand = true
        var buffer = context.channel.allocator.buffer(capacity: 25)
        buffer.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        resumeReadingIfNeeded()
    }

    // MARK: - Responses

    /// What a task must still do after the head is written: stream the body.
    private struct StreamJob: Sendable {
        let produce: @Sendable (ResponseBodyWriter) async throws -> Void
        let sink: ChannelBodySink
    }

    private static func send(_ response: Response, handler: NIOLoopBound<HTTP1ConnectionHandler>, eventLoop: any EventLoop) async {
        guard let job = await onLoop(eventLoop, { handler.value.beginResponse(response) }) else { return }
        let succeeded: Bool
        do {
            try await job.produce(ResponseBodyWriter(job.sink))
            succeeded = true
        } catch {
            succeeded = false
        }
        await onLoop(eventLoop) { handler.value.endStreamedResponse(succeeded: succeeded, chunked: job.sink.chunked) }
    }

    private static func onLoop<T: Sendable>(_ eventLoop: any EventLoop, _ body: @escaping @Sendable () -> T) async -> T {
        if eventLoop.inEventLoop { return body() }
        return try! await eventLoop.submit(body).get()
    }

    /// Writes the head, and the body if it is in memory. Returns the streaming job, if any.
    private func beginResponse(_ response: Response) -> StreamJob? {
        guard var exchange, !isClosed else { return nil }
        let status = response.status
        let headers = response.headers
        if exchange.awaitingContinue {
            // The client waits for 100 before sending the body; we answered without it.
            exchange.keepAlive = false
        }
        if !headers.isEmpty, headers.containsToken("close", in: "connection") { exchange.keepAlive = false }

        var buffer = context.channel.allocator.buffer(capacity: 192 + min(response.body.knownLength ?? 0, 16 * 1024))
        buffer.writeStaticString("HTTP/1.1 ")
        Self.writeStatusLine(status, to: &buffer)
        if !headers.isEmpty { Self.writeUserHeaders(headers, to: &buffer) }
        buffer.writeStaticString("Date: ")
        buffer.writeImmutableBuffer(resources.dateCache.current())
        buffer.writeStaticString("\r\n")

        var job: StreamJob? = nil
        let sendsBody = status.allowsBody && !exchange.isHead
        switch response.body.storage {
        case .buffer(let body):
            if status.allowsBody {
                Self.writeContentLength(body.readableBytes, to: &buffer)
            } else if status.code == 304 {
                // keep whatever the handler said about the representation
            }
            Self.writeConnection(exchange, to: &buffer)
            if sendsBody && body.readableBytes > 0 {
                if body.readableBytes <= 16 * 1024 {
                    buffer.writeImmutableBuffer(body)
                    context.write(wrapOutboundOut(buffer), promise: nil)
                } else {
                    context.write(wrapOutboundOut(buffer), promise: nil)
                    context.write(wrapOutboundOut(body), promise: nil)
                }
            } else {
                context.write(wrapOutboundOut(buffer), promise: nil)
            }
        case .stream(let length, let produce):
            var chunked = false
            if status.allowsBody {
                if let length {
                    Self.writeContentLength(length, to: &buffer)
                } else if exchange.version == .http1_1 {
                    buffer.writeStaticString("Transfer-Encoding: chunked\r\n")
                    chunked = true
                } else {
                    // HTTP/1.0 has no chunked coding: the end of the body is the end of the connection.
                    exchange.keepAlive = false
                }
            }
            Self.writeConnection(exchange, to: &buffer)
            context.write(wrapOutboundOut(buffer), promise: nil)
            if sendsBody {
                self.exchange = exchange
                context.flush()
                return StreamJob(produce: produce, sink: ChannelBodySink(channel: context.channel, chunked: chunked))
            }
            job = nil
        }
        self.exchange = exchange
        completeResponse()
        return job
    }

    private func endStreamedResponse(succeeded: Bool, chunked: Bool) {
        guard exchange != nil, !isClosed else { return }
        guard succeeded else {
            // The body is cut short: the only honest signal left is closing the connection.
            exchange!.keepAlive = false
            context.flush()
            context.close(promise: nil)
            return
        }
        if chunked {
            var end = context.channel.allocator.buffer(capacity: 5)
            end.writeStaticString("0\r\n\r\n")
            context.write(wrapOutboundOut(end), promise: nil)
        }
        completeResponse()
    }

    /// The response is fully written (but maybe not flushed).
    private func completeResponse() {
        guard let current = exchange else { return }
        guard current.keepAlive else {
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: promise)
            let context = self.context!
            promise.futureResult.hop(to: context.eventLoop).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            isClosed = true
            return
        }
        context.flush()
        exchange!.responseComplete = true
        switch current.body {
        case .complete:
            finishExchange()
        case .streaming(let source):
            // The handler answered without reading all of the body: read and drop the rest.
            source.finish()
            exchange!.body = .draining
            process()
        case .draining:
            process()
        }
    }

    /// Response sent and body consumed: on to the next request.
    private func finishExchange() {
        exchange = nil
        if isQuiescing && unread.readableBytes == 0 {
            context.close(promise: nil)
            return
        }
        setDeadline(.idle)
        process()
    }

    private func writeErrorAndClose(_ error: any HTTPStatusError) {
        var buffer = context.channel.allocator.buffer(capacity: 256)
        let body = "{\"detail\":\"\(error.detail)\"}"
        buffer.writeStaticString("HTTP/1.1 ")
        Self.writeStatusLine(error.status, to: &buffer)
        buffer.writeStaticString("Content-Type: application/json\r\nDate: ")
        buffer.writeImmutableBuffer(resources.dateCache.current())
        buffer.writeStaticString("\r\n")
        Self.writeContentLength(body.utf8.count, to: &buffer)
        buffer.writeStaticString("Connection: close\r\n\r\n")
        buffer.writeString(body)
        isClosed = true
        unread.clear()
        let context = self.context!
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    static func errorResponse(for error: any Error) -> Response {
        let status: HTTPStatus
        let detail: String
        if let error = error as? any HTTPStatusError {
            status = error.status
            detail = error.detail
        } else {
            status = .internalServerError
            detail = "Internal Server Error"
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        return Response(status: status, headers: headers, body: ResponseBody(string: "{\"detail\":\"\(detail)\"}"))
    }

    // MARK: - Head serialization

    private static func writeStatusLine(_ status: HTTPStatus, to buffer: inout ByteBuffer) {
        let code = status.code
        buffer.writeInteger(UInt8(48 + code / 100))
        buffer.writeInteger(UInt8(48 + code / 10 % 10))
        buffer.writeInteger(UInt8(48 + code % 10))
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(status.reasonPhrase)
        buffer.writeStaticString("\r\n")
    }

    private static func writeContentLength(_ length: Int, to buffer: inout ByteBuffer) {
        buffer.writeStaticString("Content-Length: ")
        writeDecimal(length, to: &buffer)
        buffer.writeStaticString("\r\n")
    }

    static func writeDecimal(_ value: Int, to buffer: inout ByteBuffer) {
        if value < 10 {
            buffer.writeInteger(UInt8(48 + value))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { raw in
            while rest > 0 {
                raw[19 - count] = UInt8(48 + rest % 10)
                rest /= 10
                count += 1
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[(20 - count)...]))
        }
    }

    private static func writeConnection(_ exchange: Exchange, to buffer: inout ByteBuffer) {
        if !exchange.keepAlive {
            buffer.writeStaticString("Connection: close\r\n\r\n")
        } else if exchange.version == .http1_0 {
            buffer.writeStaticString("Connection: keep-alive\r\n\r\n")
        } else {
            buffer.writeStaticString("\r\n")
        }
    }

    /// Writes the handler's fields, leaving out the ones the server owns.
    private static func writeUserHeaders(_ headers: HTTPHeaders, to buffer: inout ByteBuffer) {
        var headers = headers
        if headers.contains("content-length") { headers.remove(name: "content-length") }
        if headers.contains("transfer-encoding") { headers.remove(name: "transfer-encoding") }
        if headers.contains("connection") { headers.remove(name: "connection") }
        if headers.contains("date") { headers.remove(name: "date") }
        headers.write(to: &buffer)
    }

    // MARK: - Timeouts

    private func setDeadline(_ kind: Deadline) {
        let timeout = kind == .idle ? configuration.idleTimeout : configuration.requestHeadTimeout
        let at = NIODeadline.now() + timeout
        deadline = (kind, at)
        if let firesAt = timerFiresAt, firesAt <= at { return }
        timer?.cancel()
        scheduleTimer(at: at)
    }

    private func scheduleTimer(at: NIODeadline) {
        timerFiresAt = at
        let bound = self.bound!
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: at) { bound.value.timerFired() }
    }

    private func timerFired() {
        timer = nil
        timerFiresAt = nil
        guard !isClosed, let deadline else { return }
        if NIODeadline.now() < deadline.at {
            scheduleTimer(at: deadline.at)
            return
        }
        self.deadline = nil
        guard exchange == nil else { return }
        if unread.readableBytes > 0 || !parser.isAtMessageBoundary {
            writeErrorAndClose(HTTPParseError(.requestTimeout, "request head not received in time"))
        } else {
            isClosed = true
            context.close(promise: nil)
        }
    }
}

/// Writes streamed response bodies to a channel, chunk-encoded when needed, with back-pressure.
struct ChannelBodySink: ResponseBodySink {
    let channel: any Channel
    let chunked: Bool

    func write(_ buffer: ByteBuffer) async throws {
        guard channel.isActive else { throw HTTPBodyError.connectionClosed }
        let future: EventLoopFuture<Void>
        if chunked {
            var prefix = channel.allocator.buffer(capacity: 12)
            prefix.writeString(String(buffer.readableBytes, radix: 16))
            prefix.writeStaticString("\r\n")
            channel.write(prefix, promise: nil)
            channel.write(buffer, promise: nil)
            var suffix = channel.allocator.buffer(capacity: 2)
            suffix.writeStaticString("\r\n")
            future = channel.writeAndFlush(suffix)
        } else {
            future = channel.writeAndFlush(buffer)
        }
        if !channel.isWritable { try await future.get() }
    }
}
