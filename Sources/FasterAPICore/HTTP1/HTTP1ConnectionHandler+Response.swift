import NIOCore

/// Writing responses: the head in one buffer with the body when it is in memory, or the head
/// then a streamed body (chunked, or with its declared length checked).
extension HTTP1ConnectionHandler: ResponseWriting {
    /// Writes the head, and the body if it is in memory. Returns the streaming job, if any.
    func beginResponse(_ response: Response) -> ResponseStreamJob? {
        guard var exchange, !isClosed, context != nil else { return nil }
        if response.status == .switchingProtocols, response.upgrade != nil, exchange.version == .http1_1,
            case .complete = exchange.body, !exchange.isHead
        {
            // The head leaves now; the upgrade takes the connection over in `handOverConnection`.
            var buffer = context.channel.allocator.buffer(capacity: 192)
            writeHeadStart(response, to: &buffer)
            buffer.writeStaticString("Connection: Upgrade\r\n\r\n")
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            upgradePending = true
            clearDeadline()
            timer?.cancel()
            return nil
        }
        if response.status.code < 200 {
            // An interim status cannot end an exchange: the client would wait forever.
            return beginResponse(Response(error: HTTPParseError(.internalServerError, "Internal Server Error")))
        }
        let status = response.status
        if exchange.awaitingContinue {
            // The client waits for 100 before sending the body; we answered without it.
            exchange.keepAlive = false
        }
        if !response.headers.isEmpty, response.headers.containsToken("close", in: "connection") {
            exchange.keepAlive = false
        }

        var buffer = context.channel.allocator.buffer(capacity: 192 + min(response.body.knownLength ?? 0, 16 * 1024))
        writeHeadStart(response, to: &buffer)

        let sendsBody = status.allowsBody && !exchange.isHead
        switch response.body.storage {
        case .buffer(let body):
            if status.allowsBody { Self.writeContentLength(body.readableBytes, to: &buffer) }
            Self.writeConnection(exchange, to: &buffer)
            if sendsBody && body.readableBytes > 0 && body.readableBytes <= 16 * 1024 {
                buffer.writeImmutableBuffer(body)
                context.write(wrapOutboundOut(buffer), promise: nil)
            } else {
                context.write(wrapOutboundOut(buffer), promise: nil)
                if sendsBody && body.readableBytes > 0 { context.write(wrapOutboundOut(body), promise: nil) }
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
                return ResponseStreamJob(
                    produce: produce, sink: ChannelBodySink(channel: context.channel, framing: chunked ? .chunked : .raw, length: length))
            }
        }
        self.exchange = exchange
        completeResponse()
        return nil
    }

    func handOverConnection() -> UpgradedConnection? {
        guard upgradePending, let context, !isClosed, context.channel.isActive else { return nil }
        upgradePending = false
        isClosed = true
        let connection = UpgradedConnection(channel: context.channel, buffered: unread)
        unread = ByteBuffer()
        exchange = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        return connection
    }

    func endStreamedResponse(_ sink: ChannelBodySink, failure: (any Error)?) {
        guard exchange != nil, !isClosed, context != nil else { return }
        if let failure {
            // The body is cut short: the only honest signal left is closing the connection.
            if !(failure is CancellationError) {
                resources.logger.warning(
                    "Streamed response body failed; closing the connection", metadata: ["error": "\(failure)"])
            }
            isClosed = true
            context.flush()
            context.close(promise: nil)
            return
        }
        if sink.framing == .chunked {
            // The last chunk, then the trailer fields if the producer gave any.
            var end = context.channel.allocator.buffer(capacity: 5)
            end.writeStaticString("0\r\n")
            if let trailers = sink.trailers { trailers.write(to: &end) }
            end.writeStaticString("\r\n")
            context.write(wrapOutboundOut(end), promise: nil)
        }
        completeResponse()
    }

    // MARK: - Head serialization

    /// The status line, the handler's fields (less the ones the server owns) and `Date`; the
    /// framing fields and the blank line are the caller's.
    func writeHeadStart(_ response: Response, to buffer: inout ByteBuffer) {
        buffer.writeStaticString("HTTP/1.1 ")
        Self.writeStatusLine(response.status, to: &buffer)
        if !response.headers.isEmpty { Self.writeUserHeaders(response.headers, to: &buffer) }
        if let altSvc = configuration.altSvc {
            buffer.writeStaticString("Alt-Svc: ")
            buffer.writeString(altSvc)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("Date: ")
        buffer.writeImmutableBuffer(resources.dateCache.current())
        buffer.writeStaticString("\r\n")
    }

    static func writeStatusLine(_ status: HTTPStatus, to buffer: inout ByteBuffer) {
        let code = status.code
        buffer.writeInteger(UInt8(48 + code / 100))
        buffer.writeInteger(UInt8(48 + code / 10 % 10))
        buffer.writeInteger(UInt8(48 + code % 10))
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(status.reasonPhrase)
        buffer.writeStaticString("\r\n")
    }

    static func writeContentLength(_ length: Int, to buffer: inout ByteBuffer) {
        buffer.writeStaticString("Content-Length: ")
        writeDecimal(length, to: &buffer)
        buffer.writeStaticString("\r\n")
    }

    static func writeDecimal(_ value: Int, to buffer: inout ByteBuffer) {
        if value < 10 {
            buffer.writeInteger(UInt8(48 + value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for any Int
        withUnsafeMutableBytes(of: &digits) { raw in
            var index = raw.count
            var rest = value
            while rest > 0 {
                index -= 1
                raw[index] = UInt8(48 + rest % 10)
                rest /= 10
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[index...]))
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
        guard serverOwnedFields.contains(where: headers.contains) else {
            headers.write(to: &buffer)
            return
        }
        var headers = headers
        for name in serverOwnedFields { headers.remove(name: name) }
        headers.write(to: &buffer)
    }

}

/// Fields the server writes itself, dropped from a handler's headers.
private let serverOwnedFields = ["content-length", "transfer-encoding", "connection", "date"]

