import NIOCore

/// Carries an HTTP/1.1 `Upgrade: h2c` request over to HTTP/2 as stream 1 (RFC 7540 §3.2): after
/// the client's connection preface and first SETTINGS frame it inserts a HEADERS frame holding
/// the request, so the HTTP/2 layer sees stream 1 opened and half-closed by the client, and
/// the response goes out on it. Then it removes itself.
final class H2CUpgradeInjector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let headersFrame: ByteBuffer
    private var buffered = ByteBuffer()

    /// Inserts `headersFrame` (from ``headersFrame(for:)``).
    init(headersFrame: ByteBuffer) {
        self.headersFrame = headersFrame
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffered.writeBuffer(&bytes)
        // The preface is 24 bytes; the SETTINGS frame after it has a 9-byte header.
        guard buffered.readableBytes >= 24 + 9,
            let settingsLength = buffered.getInteger(at: buffered.readerIndex + 24, as: UInt32.self).map({ $0 >> 8 })
        else { return }
        let prefix = 24 + 9 + Int(settingsLength)
        guard buffered.readableBytes >= prefix else { return }
        context.fireChannelRead(wrapInboundOut(buffered.readSlice(length: prefix)!))
        context.fireChannelRead(wrapInboundOut(headersFrame))
        if buffered.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(buffered)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// A HEADERS frame (END_STREAM, END_HEADERS) for stream 1 with the request's fields as
    /// HPACK literals without indexing, which leave both sides' dynamic tables untouched.
    static func headersFrame(for request: HTTPRequestHead) -> ByteBuffer {
        var block = ByteBuffer()
        func literal(_ name: String, _ value: String) {
            block.writeInteger(UInt8(0))
            writeString(name, to: &block)
            writeString(value, to: &block)
        }
        literal(":method", request.method.rawValue)
        literal(":scheme", "http")
        literal(":path", request.target)
        if let host = request.headers["host"] { literal(":authority", host) }
        for (name, value) in request.headers {
            let name = lowercasedFieldName(name)
            if h1OnlyFields.contains(name) || (name == "te" && value.lowercased() != "trailers") { continue }
            literal(name, value)
        }
        var frame = ByteBuffer()
        let length = UInt32(block.readableBytes)
        frame.writeInteger(UInt8(truncatingIfNeeded: length >> 16))
        frame.writeInteger(UInt16(truncatingIfNeeded: length))
        frame.writeInteger(UInt8(0x1))  // HEADERS
        frame.writeInteger(UInt8(0x1 | 0x4))  // END_STREAM | END_HEADERS
        frame.writeInteger(UInt32(1))  // stream 1
        frame.writeBuffer(&block)
        return frame
    }

    /// An HPACK string literal without Huffman coding (RFC 7541 §5.2).
    private static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        var length = string.utf8.count
        if length < 127 {
            buffer.writeInteger(UInt8(length))
        } else {
            buffer.writeInteger(UInt8(127))
            length -= 127
            while length >= 128 {
                buffer.writeInteger(UInt8(length & 0x7F | 0x80))
                length >>= 7
            }
            buffer.writeInteger(UInt8(length))
        }
        buffer.writeString(string)
    }
}

/// Fields of the upgrade request that belong to HTTP/1.1 only.
private let h1OnlyFields: Set<String> = [
    "host", "connection", "upgrade", "http2-settings", "keep-alive", "proxy-connection", "transfer-encoding",
]
