import NIOCore
import NIOHPACK
import NIOHTTP2

/// Serves one HTTP/2 stream: turns its HEADERS and DATA into an ``HTTPRequest``, answers it with
/// the responder in a task on the connection's event loop, and writes the response as HEADERS,
/// DATA and trailing HEADERS.
///
/// The request body is read only as the handler consumes it, so HTTP/2 flow control holds a
/// fast client back instead of filling memory; response writes wait for the client's window.
final class HTTP2StreamHandler<Responder: HTTPResponder>: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    enum RequestState {
        /// Waiting for the request's HEADERS.
        case head
        /// Body bytes go to the handler through `source`.
        case streaming(RequestBodyStream.Source)
        /// The handler is done with the body; the rest is read and dropped.
        case draining
        /// The client has ended its side (or what it sends is no longer wanted).
        case complete
    }

    let responder: Responder
    let configuration: ServerConfiguration
    let resources: LoopResources
    let connection: ConnectionInfo
    /// The connection's manager, which counts its open streams.
    let manager: NIOLoopBound<HTTP2ConnectionManager>
    var state = RequestState.head
    var bodyBytes = 0
    var bodyDemand = true
    var readPending = false
    /// The body stopped being read before the client ended it.
    var bodyAbandoned = false
    var requestMethod: HTTPMethod?
    var responseStarted = false
    var responseDone = false
    /// A `2xx` to an extended CONNECT with an upgrade was sent: the stream is handed over next.
    var upgradePending = false
    /// The stream belongs to an upgrade now, which reports its end to the manager.
    var handedOver = false
    /// DATA that arrived between the upgrade's `2xx` and the hand-over: the new protocol's first bytes.
    var upgradeBuffer = ByteBuffer()
    var isClosed = false
    var task: Task<Void, Never>?
    var context: ChannelHandlerContext!
    var bound: NIOLoopBound<HTTP2StreamHandler>!
    var bodyTimer: Scheduled<Void>?

    init(
        responder: Responder, configuration: ServerConfiguration, resources: LoopResources, connection: ConnectionInfo,
        manager: NIOLoopBound<HTTP2ConnectionManager>
    ) {
        self.responder = responder
        self.configuration = configuration
        self.resources = resources
        self.connection = connection
        self.manager = manager
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let id = (try? context.channel.syncOptions?.getOption(HTTP2StreamChannelOptions.streamID)) ?? .rootStream
        manager.value.streamOpened(id)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        bodyTimer?.cancel()
        bound = nil
        self.context = nil
        if !handedOver { manager.value.streamClosed() }
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isClosed else { return }
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            if case .head = state {
                startRequest(headers.headers, endStream: headers.endStream)
            } else {
                endBody()  // trailers: the validator has checked that they end the stream
            }
        case .data(let data):
            guard case .byteBuffer(var buffer) = data.data else { return }
            if upgradePending {
                upgradeBuffer.writeBuffer(&buffer)
                return
            }
            receiveBody(buffer)
            if data.endStream { endBody() }
        case .rstStream:
            streamGone(HTTPBodyError.connectionClosed)
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        streamGone(HTTPBodyError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        streamGone(HTTPBodyError.connectionClosed)
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if case .streaming = state, !bodyDemand {
            readPending = true
        } else {
            context.read()
        }
    }

    /// The client reset the stream or the connection went away: stop the handler.
    private func streamGone(_ error: HTTPBodyError) {
        guard !isClosed else { return }
        isClosed = true
        bodyTimer?.cancel()
        if case .streaming(let source) = state { source.finish(error) }
        state = .complete
        if !responseDone { task?.cancel() }
    }

    private func startRequest(_ fields: HPACKHeaders, endStream: Bool) {
        if let limit = configuration.http2?.maxConcurrentStreams, manager.value.openStreams > limit {
            // Over the advertised SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §5.1.2).
            state = .complete
            resetStream(.refusedStream)
            return
        }
        var method = ""
        var path = ""
        var authority: String?
        var connectProtocol: String?
        var headers = HTTPHeaders()
        var cookies: [String] = []
        for (name, value, _) in fields {
            if name.utf8.first == UInt8(ascii: ":") {
                switch name {
                case ":method": method = value
                case ":path": path = value
                case ":authority": authority = value
                case ":protocol": connectProtocol = value
                default: break  // :scheme
                }
            } else if name == "cookie" {
                cookies.append(value)  // HTTP/2 may split one cookie field into several (RFC 9113 §8.2.3)
            } else {
                headers.add(name: name, value: value)
            }
        }
        if !cookies.isEmpty { headers.add(name: "cookie", value: cookies.joined(separator: "; ")) }
        if let authority, !headers.contains("host") { headers.add(name: "host", value: authority) }
        if path.isEmpty, let authority { path = authority }  // CONNECT names its target by :authority

        requestMethod = HTTPMethod(method)
        state = endStream ? .complete : .draining
        let limits = configuration.parserLimits
        if headers.count > limits.maxHeaderCount {
            return answerWithoutHandler(HTTPParseError(.requestHeaderFieldsTooLarge, "too many header fields"))
        }
        if path.utf8.count > limits.maxRequestLineLength {
            return answerWithoutHandler(HTTPParseError(.uriTooLong, "request target too long"))
        }
        if let length = headers["content-length"].flatMap(Int.init), length > configuration.maxRequestBodyBytes {
            return answerWithoutHandler(HTTPBodyError.tooLarge(limit: configuration.maxRequestBodyBytes))
        }

        let body: RequestBody
        if endStream {
            body = .empty
        } else {
            let eventLoop = context.eventLoop
            let bound = self.bound!
            let (stream, source) = RequestBodyStream.makeStream(
                produceMore: { eventLoop.execute { bound.value.bodyDemanded() } },
                didTerminate: { eventLoop.execute { bound.value.bodyConsumerGone() } })
            body = RequestBody(stream: stream)
            state = .streaming(source)
            scheduleBodyTimer()
        }
        var head = HTTPRequestHead(method: requestMethod!, target: path, version: .http2, headers: headers)
        if requestMethod == .connect { head.connectProtocol = connectProtocol }
        start(HTTPRequest(head: head, body: body, connection: connection))
    }

    private func receiveBody(_ buffer: ByteBuffer) {
        bodyBytes += buffer.readableBytes
        switch state {
        case .streaming(let source):
            if bodyBytes > configuration.maxRequestBodyBytes {
                failBody(.tooLarge(limit: configuration.maxRequestBodyBytes))
                return
            }
            if !source.yield(buffer) { bodyDemand = false }
            scheduleBodyTimer()
        case .head, .draining, .complete:
            break
        }
    }

    private func endBody() {
        bodyTimer?.cancel()
        if case .streaming(let source) = state { source.finish() }
        state = .complete
    }

    /// The body cannot be read to its end: tell the handler; the client is told to stop with
    /// RST_STREAM once the response is out.
    private func failBody(_ error: HTTPBodyError) {
        bodyTimer?.cancel()
        if case .streaming(let source) = state { source.finish(error) }
        state = .complete
        bodyAbandoned = true
        if responseDone { resetStream(.noError) }
    }

    private func bodyDemanded() {
        guard !isClosed, case .streaming = state else { return }
        bodyDemand = true
        scheduleBodyTimer()
        if readPending {
            readPending = false
            context.read()
        }
    }

    private func bodyConsumerGone() {
        guard !isClosed, case .streaming = state else { return }
        state = .draining
        bodyDemand = true
        if readPending {
            readPending = false
            context.read()
        }
    }

    private func scheduleBodyTimer() {
        bodyTimer?.cancel()
        guard bodyDemand else { return }
        let bound = self.bound!
        bodyTimer = context.eventLoop.assumeIsolated().scheduleTask(in: configuration.bodyReadTimeout) {
            bound.value.failBody(.timeout)
        }
    }

    // MARK: - Answering

    private func start(_ request: consuming HTTPRequest) {
        let responder = self.responder
        let bound = self.bound!
        let eventLoop = context.eventLoop
        let executor: any TaskExecutor = resources.executor
        task = Task(executorPreference: executor) { [request] in
            let response: Response
            do {
                response = try await responder.respond(to: request)
            } catch {
                response = Response(error: error)
            }
            await sendResponse(response, via: bound, eventLoop: eventLoop)
            if let afterSent = response.afterSent { await afterSent() }
        }
    }

    /// Answers a request the handler never sees (over a limit).
    private func answerWithoutHandler(_ error: any HTTPStatusError) {
        if case .complete = state {} else { bodyAbandoned = true }
        _ = beginResponse(Response(error: error))
    }

    private func resetStream(_ code: HTTP2ErrorCode) {
        guard !isClosed, context != nil else { return }
        isClosed = true
        context.writeAndFlush(wrapOutboundOut(.rstStream(code)), promise: nil)
    }

    /// The response is fully written: if the client is still sending a body nobody will read,
    /// tell it to stop (RST_STREAM NO_ERROR, RFC 9113 §8.1).
    private func finishResponse() {
        responseDone = true
        switch state {
        case .complete where !bodyAbandoned:
            break
        case .streaming(let source):
            source.finish()
            resetStream(.noError)
        case .head, .draining, .complete:
            resetStream(.noError)
        }
    }
}

extension HTTP2StreamHandler: ResponseWriting {
    func beginResponse(_ response: Response) -> ResponseStreamJob? {
        guard !isClosed, !responseStarted, context != nil else { return nil }
        if response.status.code < 200 {
            return beginResponse(Response(error: HTTPParseError(.internalServerError, "Internal Server Error")))
        }
        responseStarted = true
        let status = response.status
        var fields = HPACKHeaders()
        fields.reserveCapacity(response.headers.count + 4)
        fields.add(name: ":status", value: String(status.code))
        for (name, value) in response.headers {
            let name = lowercasedFieldName(name)
            if !connectionSpecificFields.contains(name) { fields.add(name: name, value: value) }
        }
        fields.add(name: "date", value: resources.dateCache.currentString())
        if response.upgrade != nil, requestMethod == .connect, (200..<300).contains(status.code) {
            // RFC 8441: the 2xx opens the tunnel; the stream stays open for the new protocol.
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: fields))), promise: nil)
            upgradePending = true
            // The stream's DATA is no request body now: it is kept for the upgrade.
            bodyTimer?.cancel()
            if case .streaming(let source) = state { source.finish() }
            state = .complete
            return nil
        }
        if let altSvc = configuration.altSvc { fields.add(name: "alt-svc", value: altSvc) }
        if status.allowsBody, let length = response.body.knownLength {
            fields.add(name: "content-length", value: String(length))
        }

        let sendsBody = status.allowsBody && !isHeadRequest
        switch response.body.storage {
        case .buffer(let body):
            if sendsBody && body.readableBytes > 0 {
                context.write(wrapOutboundOut(.headers(.init(headers: fields))), promise: nil)
                context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(body), endStream: true))), promise: nil)
            } else {
                context.write(wrapOutboundOut(.headers(.init(headers: fields, endStream: true))), promise: nil)
            }
            context.flush()
        case .stream(let length, let produce):
            guard sendsBody else {
                context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: fields, endStream: true))), promise: nil)
                break
            }
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: fields))), promise: nil)
            return ResponseStreamJob(
                produce: produce, sink: ChannelBodySink(channel: context.channel, framing: .http2, length: length))
        }
        finishResponse()
        return nil
    }

    func endStreamedResponse(_ sink: ChannelBodySink, failure: (any Error)?) {
        guard !isClosed, context != nil else { return }
        if let failure {
            // The body is cut short: reset the stream so the client does not take it as whole.
            if !(failure is CancellationError) {
                resources.logger.warning(
                    "Streamed response body failed; resetting the stream", metadata: ["error": "\(failure)"])
            }
            responseDone = true
            resetStream(.internalError)
            return
        }
        if let trailers = sink.trailers, !trailers.isEmpty {
            var fields = HPACKHeaders()
            for (name, value) in trailers { fields.add(name: lowercasedFieldName(name), value: value) }
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: fields, endStream: true))), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))), promise: nil)
        }
        finishResponse()
    }

    /// Hands the stream of an extended CONNECT to its upgrade: DATA frames carry its bytes.
    func handOverConnection() -> UpgradedConnection? {
        guard upgradePending, !isClosed, let context else { return nil }
        upgradePending = false
        isClosed = true
        do {
            try context.pipeline.syncOperations.addHandler(HTTP2StreamBytesHandler(manager: manager), position: .after(self))
        } catch {
            context.close(promise: nil)
            return nil
        }
        handedOver = true  // the bytes handler reports the stream's end now
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        defer { upgradeBuffer = ByteBuffer() }
        return UpgradedConnection(channel: context.channel, buffered: upgradeBuffer)
    }

    private var isHeadRequest: Bool { requestMethod == .head }
}

/// Fields that belong to one HTTP/1.1 connection and are not allowed in HTTP/2 (RFC 9113
/// §8.2.2), plus the ones the server writes itself.
private let connectionSpecificFields: Set<String> = [
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "content-length", "date",
]

/// HTTP/2 field names are lowercase; most names already are, so they are not copied.
func lowercasedFieldName(_ name: String) -> String {
    name.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) ? name.lowercased() : name
}
