import NIOCore

/// An empty buffer shared by every connection that has let its read buffer go.
package let releasedBuffer = ByteBuffer()

/// The client connection preface of HTTP/2 (RFC 9113 §3.4).
private let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

/// Serves HTTP/1.1 on one connection: parses requests, runs the responder for each (one at a
/// time, so pipelined responses leave in order), writes responses, and enforces the limits and
/// timeouts of ``ServerConfiguration``.
///
/// One task per connection, whose executor is the connection's event loop, answers the requests
/// in turn, so a request is parsed, handled and answered on one thread with no task created per
/// request. Reading is driven by demand: a streamed body is read only as fast as the handler
/// consumes it, and nothing more is read while the client is not taking our writes.
final class HTTP1ConnectionHandler<Responder: HTTPResponder>: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum BodyState {
        /// Every body byte has been parsed (or there was no body).
        case complete
        /// Body bytes go to the handler through `source`.
        case streaming(RequestBodyStream.Source)
        /// The handler is done with the body; the rest is read and dropped.
        case draining
    }

    /// One request being answered.
    struct Exchange {
        /// Tells this exchange's callbacks from those of an earlier one on the same connection.
        let generation: Int
        var keepAlive: Bool
        var isHead: Bool
        var version: HTTPVersion
        var body: BodyState
        var bodyBytes = 0
        var bodyDemand = true
        var awaitingContinue: Bool
        var responseComplete = false
        /// The body stopped being read before its end (too large, malformed, too slow).
        var bodyAbandoned = false
    }

    enum Deadline {
        /// Between requests.
        case idle
        /// A request head has started arriving.
        case head
        /// The handler wants body bytes and none arrive.
        case body
        /// The client is not taking our writes.
        case write
        /// An error was answered; the rest of the request is drained before closing.
        case linger
    }

    /// Hands the connection to HTTP/2: the bytes from the client's preface on, and for
    /// `Upgrade: h2c` the HEADERS frame that carries the request over as stream 1.
    typealias SwitchToHTTP2 = (ChannelHandlerContext, ByteBuffer, ByteBuffer?) throws -> Void

    let responder: Responder
    let configuration: ServerConfiguration
    let resources: LoopResources
    /// Set when cleartext HTTP/2 is allowed; cleared once the first request has started.
    var switchToHTTP2: SwitchToHTTP2?
    /// True until the first bytes show whether they are HTTP/2's preface.
    var mayBeHTTP2Preface: Bool
    var parser: HTTP1Parser
    var unread = ByteBuffer()
    var exchange: Exchange?
    var generation = 0
    /// No more requests are read or answered (the connection is closing).
    var isClosed = false
    /// Our side is closed; reads are drained and dropped until the client closes or time is up.
    var isLingering = false
    var isQuiescing = false
    /// A `101` with an upgrade was written: the connection is handed over next.
    var upgradePending = false
    var readPending = false
    var context: ChannelHandlerContext!
    var bound: NIOLoopBound<HTTP1ConnectionHandler>!
    let connectionInfo: ConnectionInfo
    /// The task answering this connection's requests; started with the first request.
    var connectionTask: Task<Void, Never>?
    /// A request the task has not picked up yet.
    var queuedRequest: HTTPRequest?
    /// The task, parked until the next request arrives.
    var waiter: UnsafeContinuation<HTTPRequest?, Never>?
    var deadline: (kind: Deadline, at: NIODeadline)?
    var timer: Scheduled<Void>?
    var timerFiresAt: NIODeadline?
    /// Ends the parked connection task after ``taskIdleLimit``.
    var taskIdleTimer: Scheduled<Void>?

    init(
        responder: Responder, configuration: ServerConfiguration, resources: LoopResources,
        connection: ConnectionInfo, switchToHTTP2: SwitchToHTTP2? = nil
    ) {
        self.responder = responder
        self.configuration = configuration
        self.resources = resources
        self.connectionInfo = connection
        self.switchToHTTP2 = switchToHTTP2
        self.mayBeHTTP2Preface = switchToHTTP2 != nil
        self.parser = HTTP1Parser(limits: configuration.parserLimits)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        setDeadline(.idle)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        taskIdleTimer?.cancel()
        // Break the handler → bound → handler cycle so the connection's state is freed.
        bound = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isClosed else { return }  // lingering or closing: drop what arrives
        var buffer = unwrapInboundIn(data)
        if unread.readableBytes == 0 {
            unread = buffer
        } else {
            if unread.readerIndex > 4096 { unread.discardReadBytes() }
            unread.writeBuffer(&buffer)
        }
        if mayBeHTTP2Preface && awaitsHTTP2Preface() { return }
        process()
    }

    /// Before the first request: true while the bytes so far could be the start of HTTP/2's
    /// connection preface (a client with prior knowledge), and hands over to HTTP/2 once all 24
    /// have arrived.
    private func awaitsHTTP2Preface() -> Bool {
        let count = min(unread.readableBytes, http2Preface.count)
        guard unread.readableBytesView.prefix(count).elementsEqual(http2Preface.prefix(count)) else {
            mayBeHTTP2Preface = false
            return false
        }
        guard count == http2Preface.count else { return true }
        handOverToHTTP2(upgrade: nil)
        return true
    }

    /// Passes the connection to HTTP/2; this handler leaves the pipeline.
    private func handOverToHTTP2(upgrade: ByteBuffer?) {
        guard let switchToHTTP2 else { return }
        isClosed = true
        timer?.cancel()
        let bytes = unread
        unread = ByteBuffer()
        do {
            try switchToHTTP2(context, bytes, upgrade)
        } catch {
            resources.logger.warning("Could not switch the connection to HTTP/2", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    /// The HEADERS frame that carries `head` over as stream 1, if it asks to upgrade this
    /// connection to cleartext HTTP/2 in a way we can honour (RFC 7540 §3.2): `Upgrade: h2c`
    /// with one `HTTP2-Settings`, both named in `Connection`, no body, nothing pipelined behind
    /// it, and a header block within the largest frame. Otherwise nil: answered over HTTP/1.1.
    private func h2cUpgradeFrame(_ head: HTTPRequestHead, framing: HTTP1BodyFraming) -> ByteBuffer? {
        guard switchToHTTP2 != nil, let http2 = configuration.http2, framing == .none, unread.readableBytes == 0,
            head.version == .http1_1,
            head.headers.containsToken("h2c", in: "upgrade"),
            head.headers.containsToken("upgrade", in: "connection"),
            head.headers.containsToken("http2-settings", in: "connection"),
            head.headers.values(for: "http2-settings").count == 1
        else { return nil }
        let frame = H2CUpgradeInjector.headersFrame(for: head)
        return frame.readableBytes - 9 <= http2.maxFrameSize ? frame : nil
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

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            if deadline?.kind == .write { restoreDeadline() }
            process()
        } else if !isClosed {
            setDeadline(.write)
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            isQuiescing = true
            if exchange == nil && unread.readableBytes == 0 && parser.isAtMessageBoundary {
                isClosed = true
                context.close(promise: nil)
            } else {
                exchange?.keepAlive = false
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        isClosed = true
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
        if isLingering { return true }
        guard !isClosed else { return false }
        guard let exchange else { return context.channel.isWritable }
        switch exchange.body {
        case .streaming: return exchange.bodyDemand
        case .draining: return true
        case .complete:
            return exchange.keepAlive && context.channel.isWritable
                && unread.readableBytes < configuration.maxPipelinedBytes
        }
    }

    func resumeReadingIfNeeded() {
        if readPending && shouldRead {
            readPending = false
            context.read()
        }
    }

    // MARK: - Parsing

    /// Parses what has arrived, as far as the current exchange allows. A new request is not
    /// started while the client is not reading our responses.
    func process() {
        while !isClosed {
            if let exchange, case .complete = exchange.body { break }
            if exchange == nil && !context.channel.isWritable { break }
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
        if exchange == nil && !isClosed && (unread.readableBytes > 0 || !parser.isAtMessageBoundary)
            && deadline?.kind == .idle
        {
            setDeadline(.head)
        }
        // A read buffer fully parsed is let go: an idle or long-lived connection (an event
        // stream) then holds no receive buffer.
        if unread.readableBytes == 0 && unread.capacity > 0 { unread = releasedBuffer }
        resumeReadingIfNeeded()
    }

    private func startExchange(
        _ head: HTTPRequestHead, framing: HTTP1BodyFraming, keepAlive: Bool, expectContinue: Bool
    ) {
        clearDeadline()
        if let upgrade = h2cUpgradeFrame(head, framing: framing) {
            var switching = context.channel.allocator.buffer(capacity: 80)
            switching.writeStaticString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
            context.write(wrapOutboundOut(switching), promise: nil)
            handOverToHTTP2(upgrade: upgrade)
            return
        }
        switchToHTTP2 = nil
        if case .length(let length) = framing, length > configuration.maxRequestBodyBytes {
            // Refuse before reading a byte of it; the client may still send it, so drain, then close.
            writeErrorAndClose(HTTPBodyError.tooLarge(limit: configuration.maxRequestBodyBytes))
            return
        }
        generation += 1
        var exchange = Exchange(
            generation: generation, keepAlive: keepAlive && !isQuiescing, isHead: head.method == .head,
            version: head.version, body: .complete, awaitingContinue: false)
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
            let generation = self.generation
            var onFirstRead: (@Sendable () -> Void)? = nil
            if expectContinue {
                onFirstRead = { eventLoop.execute { bound.value.sendContinue(generation) } }
            }
            let (stream, source) = RequestBodyStream.makeStream(
                produceMore: { eventLoop.execute { bound.value.bodyDemanded(generation) } },
                didTerminate: { eventLoop.execute { bound.value.bodyConsumerGone(generation) } },
                onFirstRead: onFirstRead)
            body = RequestBody(stream: stream)
            exchange.body = .streaming(source)
            exchange.awaitingContinue = expectContinue
            exchange.bodyDemand = !expectContinue
        }
        self.exchange = exchange
        if exchange.bodyDemand, case .streaming = exchange.body { setDeadline(.body) }
        deliver(HTTPRequest(head: head, body: body, connection: connectionInfo))
    }

    private func receiveBody(_ chunk: ByteBuffer) {
        guard exchange != nil else { return }
        exchange!.bodyBytes += chunk.readableBytes
        if exchange!.bodyBytes > configuration.maxRequestBodyBytes {
            failBody(HTTPBodyError.tooLarge(limit: configuration.maxRequestBodyBytes))
            return
        }
        switch exchange!.body {
        case .streaming(let source):
            if !source.yield(chunk) { exchange!.bodyDemand = false }
            if exchange!.bodyDemand { setDeadline(.body) } else { clearDeadline() }
        case .draining:
            setDeadline(.body)
        case .complete:
            break
        }
    }

    private func endBody() {
        guard let current = exchange else { return }
        if case .streaming(let source) = current.body { source.finish() }
        exchange!.body = .complete
        if deadline?.kind == .body { clearDeadline() }
        if current.responseComplete { finishExchange() }
    }

    /// The body cannot be read to its end, so the next message cannot be found: tell the handler,
    /// stop reading, and close once the response is out (now, if it already is).
    private func failBody(_ error: HTTPBodyError) {
        guard let current = exchange else { return }
        if case .streaming(let source) = current.body { source.finish(error) }
        exchange!.body = .complete
        exchange!.keepAlive = false
        exchange!.bodyAbandoned = true
        unread.clear()
        if deadline?.kind == .body { clearDeadline() }
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

    // MARK: - Body stream callbacks (always for a given exchange)

    private func isCurrent(_ generation: Int) -> Bool { exchange?.generation == generation && !isClosed }

    private func bodyDemanded(_ generation: Int) {
        guard isCurrent(generation), case .streaming = exchange!.body else { return }
        exchange!.bodyDemand = true
        setDeadline(.body)
        resumeReadingIfNeeded()
    }

    private func bodyConsumerGone(_ generation: Int) {
        guard isCurrent(generation), case .streaming = exchange!.body else { return }
        exchange!.body = .draining
        resumeReadingIfNeeded()
    }

    private func sendContinue(_ generation: Int) {
        guard isCurrent(generation), exchange!.awaitingContinue else { return }
        exchange!.awaitingContinue = false
        exchange!.bodyDemand = true
        var buffer = context.channel.allocator.buffer(capacity: 25)
        buffer.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        setDeadline(.body)
        resumeReadingIfNeeded()
    }

    // MARK: - The connection task

    /// Hands a request to the connection's task, starting the task on the first request.
    private func deliver(_ request: consuming HTTPRequest) {
        if let waiter {
            self.waiter = nil
            taskIdleTimer?.cancel()
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

    /// The connection task: answers requests until the connection closes or stays idle (see
    /// ``taskIdleLimit``). A task keeps the memory its deepest call needed while it lives, so
    /// what can last (a streamed body such as an event stream, an upgraded connection) goes on
    /// in a fresh task, which then serves the connection's next requests; this one ends.
    private static func serve(
        responder: Responder, handler: NIOLoopBound<HTTP1ConnectionHandler>, eventLoop: any EventLoop
    ) async {
        while let request = await nextRequest(handler) {
            let response: Response
            do {
                response = try await responder.respond(to: request)
            } catch {
                response = Response(error: error)
            }
            let remainder = await beginSending(response, via: handler, eventLoop: eventLoop)
            if case .done = remainder {
                if let afterSent = response.afterSent { await afterSent() }
                continue
            }
            _ = await onEventLoop(eventLoop) {
                let connection = handler.value
                let task = Task(executorPreference: connection.resources.executor) {
                    await finishSending(remainder, via: handler, eventLoop: eventLoop)
                    if let afterSent = response.afterSent { await afterSent() }
                    await serve(responder: responder, handler: handler, eventLoop: eventLoop)
                }
                connection.connectionTask = task
                if case .stream = remainder, connection.isClosed { task.cancel() }  // the client left meanwhile
            }
            return
        }
    }

    /// The next request, or nil once the connection is closing, or has been idle for
    /// ``taskIdleLimit`` (the task then ends; the next request starts another). Runs on the
    /// event loop (the task's executor).
    private static func nextRequest(_ handler: NIOLoopBound<HTTP1ConnectionHandler>) async -> HTTPRequest? {
        await withUnsafeContinuation { continuation in
            let connection = handler.value
            if let request = connection.queuedRequest.take() {
                continuation.resume(returning: request)
            } else if connection.isClosed {
                continuation.resume(returning: nil)
            } else {
                connection.waiter = continuation
                connection.scheduleTaskIdleExit()
            }
        }
    }

    /// How long the connection task waits for a next request before it ends, giving back the
    /// memory it holds (an idle keep-alive connection then costs little more than its socket).
    static var taskIdleLimit: TimeAmount { .seconds(1) }

    private func scheduleTaskIdleExit() {
        taskIdleTimer?.cancel()
        let bound = self.bound!
        taskIdleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.taskIdleLimit) {
            let connection = bound.value
            guard let waiter = connection.waiter else { return }
            connection.waiter = nil
            connection.connectionTask = nil
            waiter.resume(returning: nil)
        }
    }

    // MARK: - Finishing an exchange

    /// The response is fully written (but maybe not flushed).
    func completeResponse() {
        guard let current = exchange else { return }
        guard current.keepAlive else {
            // Unread request bytes would make our close a reset that can eat the response.
            var bodyUnread = current.awaitingContinue || current.bodyAbandoned
            if case .complete = current.body {} else { bodyUnread = true }
            closeAfterWriting(linger: bodyUnread || unread.readableBytes > 0)
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
            setDeadline(.body)
            process()
        case .draining:
            setDeadline(.body)
            process()
        }
    }

    /// Response sent and body consumed: on to the next request.
    private func finishExchange() {
        exchange = nil
        if isQuiescing && unread.readableBytes == 0 {
            isClosed = true
            context.close(promise: nil)
            return
        }
        setDeadline(.idle)
        process()
    }

    /// Answers a request that could not be served with its error status and closes.
    func writeErrorAndClose(_ error: any HTTPStatusError) {
        let response = Response(error: error)
        let body = response.body.buffer ?? ByteBuffer()
        var buffer = context.channel.allocator.buffer(capacity: 192 + body.readableBytes)
        writeHeadStart(response, to: &buffer)
        Self.writeContentLength(body.readableBytes, to: &buffer)
        buffer.writeStaticString("Connection: close\r\n\r\n")
        buffer.writeImmutableBuffer(body)
        unread.clear()
        context.write(wrapOutboundOut(buffer), promise: nil)
        closeAfterWriting(linger: true)
    }

    /// Flushes, then closes. With `linger`, only our side is closed first and what the client
    /// still sends is read and dropped for a short while, so the kernel does not answer unread
    /// bytes with a reset that could destroy the response before the client reads it.
    func closeAfterWriting(linger: Bool) {
        isClosed = true
        clearDeadline()
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: promise)
        let bound = self.bound!
        promise.futureResult.assumeIsolated().whenComplete { _ in
            let connection = bound.value
            guard let context = connection.context else { return }
            guard linger else {
                context.close(promise: nil)
                return
            }
            connection.isLingering = true
            connection.setDeadline(.linger)
            let closed = context.eventLoop.makePromise(of: Void.self)
            context.close(mode: .output, promise: closed)
            closed.futureResult.assumeIsolated().whenFailure { _ in context.close(promise: nil) }
            connection.resumeReadingIfNeeded()
        }
    }

    // MARK: - Timeouts

    func setDeadline(_ kind: Deadline) {
        let timeout: TimeAmount
        switch kind {
        case .idle: timeout = configuration.idleTimeout
        case .head: timeout = configuration.requestHeadTimeout
        case .body: timeout = configuration.bodyReadTimeout
        case .write: timeout = configuration.writeTimeout
        case .linger: timeout = configuration.lingerTimeout
        }
        let at = NIODeadline.now() + timeout
        deadline = (kind, at)
        if let firesAt = timerFiresAt, firesAt <= at { return }
        timer?.cancel()
        scheduleTimer(at: at)
    }

    func clearDeadline() { deadline = nil }

    /// After writes resume: back to the deadline the exchange's state calls for.
    private func restoreDeadline() {
        guard let exchange else {
            setDeadline(.idle)
            return
        }
        switch exchange.body {
        case .streaming where exchange.bodyDemand, .draining: setDeadline(.body)
        default: clearDeadline()
        }
    }

    private func scheduleTimer(at: NIODeadline) {
        timerFiresAt = at
        let bound = self.bound!
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: at) { bound.value.timerFired() }
    }

    private func timerFired() {
        timer = nil
        timerFiresAt = nil
        guard context != nil, let deadline else { return }
        if NIODeadline.now() < deadline.at {
            scheduleTimer(at: deadline.at)
            return
        }
        self.deadline = nil
        switch deadline.kind {
        case .idle:
            isClosed = true
            context.close(promise: nil)
        case .head:
            writeErrorAndClose(HTTPParseError(.requestTimeout, "request head not received in time"))
        case .body:
            guard let current = exchange else { return }
            if case .streaming = current.body {
                failBody(.timeout)
            } else {
                isClosed = true
                context.close(promise: nil)
            }
        case .write, .linger:
            isClosed = true
            context.close(promise: nil)
        }
    }
}
