import NIOCore

/// A frame's opcode (RFC 6455 §5.2).
enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    var isControl: Bool { rawValue & 0x8 != 0 }
}

/// One frame, unmasked.
struct WebSocketFrame: Sendable {
    var fin: Bool
    /// RSV1: the message is compressed (permessage-deflate), on a message's first frame.
    var compressed: Bool
    var opcode: WebSocketOpcode
    var payload: ByteBuffer
}

/// Why a peer is failed: the close code and reason sent before closing (RFC 6455 §7.4).
struct WebSocketViolation: Error, Equatable {
    var code: WebSocketCloseCode
    var reason: String

    static func protocolError(_ reason: String) -> WebSocketViolation { .init(code: .protocolError, reason: reason) }
}

/// Cuts frames out of received bytes, enforcing the framing rules of RFC 6455 §5 for one side:
/// masking (clients mask, servers do not), reserved bits, known opcodes, control-frame size and
/// fragmentation, and the largest frame accepted.
struct WebSocketFrameDecoder: Sendable {
    /// Whether frames from the peer must be masked (we are the server).
    let expectMasked: Bool
    /// The largest payload accepted in one frame.
    let maxFrameSize: Int
    /// Whether RSV1 may be set (permessage-deflate was negotiated).
    var allowsCompression = false

    /// The next whole frame from `buffer`, consuming its bytes, or nil until more arrive.
    mutating func next(_ buffer: inout ByteBuffer) throws(WebSocketViolation) -> WebSocketFrame? {
        let start = buffer.readerIndex
        let available = buffer.readableBytes
        guard available >= 2, let first = buffer.getInteger(at: start, as: UInt8.self),
            let second = buffer.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }

        let fin = first & 0x80 != 0
        let rsv1 = first & 0x40 != 0
        guard first & 0x30 == 0 else { throw .protocolError("reserved bits set") }
        guard let opcode = WebSocketOpcode(rawValue: first & 0x0F) else {
            throw .protocolError("unknown opcode \(first & 0x0F)")
        }
        if rsv1 && (!allowsCompression || opcode.isControl || opcode == .continuation) {
            throw .protocolError("RSV1 set without compression on this frame")
        }
        let masked = second & 0x80 != 0
        guard masked == expectMasked else {
            throw .protocolError(expectMasked ? "client frames must be masked" : "server frames must not be masked")
        }

        var headerLength = 2
        var length = Int(second & 0x7F)
        if length == 126 {
            guard available >= 4, let extended = buffer.getInteger(at: start + 2, as: UInt16.self) else { return nil }
            length = Int(extended)
            headerLength = 4
        } else if length == 127 {
            guard available >= 10, let extended = buffer.getInteger(at: start + 2, as: UInt64.self) else { return nil }
            guard extended >> 63 == 0 else { throw .protocolError("frame length has its top bit set") }
            guard extended <= UInt64(maxFrameSize) else { throw WebSocketViolation(code: .messageTooBig, reason: "frame too large") }
            length = Int(extended)
            headerLength = 10
        }
        if opcode.isControl {
            guard fin else { throw .protocolError("fragmented control frame") }
            guard length <= 125 else { throw .protocolError("control frame payload over 125 bytes") }
        }
        guard length <= maxFrameSize else { throw WebSocketViolation(code: .messageTooBig, reason: "frame too large") }

        let maskLength = masked ? 4 : 0
        guard available >= headerLength + maskLength + length else { return nil }
        if masked {
            let key = buffer.getInteger(at: start + headerLength, as: UInt32.self)!
            Self.applyMask(key, to: &buffer, at: start + headerLength + 4, length: length)
        }
        buffer.moveReaderIndex(forwardBy: headerLength + maskLength)
        let payload = buffer.readSlice(length: length)!
        return WebSocketFrame(fin: fin, compressed: rsv1, opcode: opcode, payload: payload)
    }

    /// XORs `length` bytes at `index` with the 4-byte masking key (big-endian `key`), in place.
    static func applyMask(_ key: UInt32, to buffer: inout ByteBuffer, at index: Int, length: Int) {
        guard length > 0 else { return }
        let offset = index - buffer.readerIndex
        buffer.withUnsafeMutableReadableBytes { raw in
            let bytes = UnsafeMutableRawBufferPointer(rebasing: raw[offset..<(offset + length)])
            applyMask(key, to: bytes)
        }
    }

    /// XORs `bytes` with the masking key, eight bytes at a time.
    static func applyMask(_ key: UInt32, to bytes: UnsafeMutableRawBufferPointer) {
        // The key as it lies in memory, repeated: byte i of the payload is XORed with key byte i % 4.
        let keyBytes = key.bigEndian
        let word = UInt64(keyBytes) | UInt64(keyBytes) << 32
        var index = 0
        let count = bytes.count
        while index + 8 <= count {
            let value = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            bytes.storeBytes(of: value ^ word, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        withUnsafeBytes(of: keyBytes) { keyRaw in
            while index < count {
                bytes[index] ^= keyRaw[index & 3]
                index += 1
            }
        }
    }
}

/// Writes frames: the header, then the payload, masked when we are the client.
enum WebSocketFrameEncoder {
    /// The header's size for a payload of `length` bytes.
    static func headerSize(length: Int, masked: Bool) -> Int {
        (length < 126 ? 2 : length <= 0xFFFF ? 4 : 10) + (masked ? 4 : 0)
    }

    /// Appends one frame to `buffer`. `maskKey` is given by a client (a fresh random key per frame).
    static func write(
        opcode: WebSocketOpcode, fin: Bool = true, compressed: Bool = false, payload: ByteBuffer,
        maskKey: UInt32?, to buffer: inout ByteBuffer
    ) {
        let length = payload.readableBytes
        buffer.reserveCapacity(minimumWritableBytes: headerSize(length: length, masked: maskKey != nil) + length)
        buffer.writeInteger(UInt8((fin ? 0x80 : 0) | (compressed ? 0x40 : 0) | opcode.rawValue))
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        if length < 126 {
            buffer.writeInteger(maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            buffer.writeInteger(maskBit | 126)
            buffer.writeInteger(UInt16(length))
        } else {
            buffer.writeInteger(maskBit | 127)
            buffer.writeInteger(UInt64(length))
        }
        guard let maskKey else {
            buffer.writeImmutableBuffer(payload)
            return
        }
        buffer.writeInteger(maskKey)
        let start = buffer.writerIndex
        buffer.writeImmutableBuffer(payload)
        WebSocketFrameDecoder.applyMask(maskKey, to: &buffer, at: start, length: length)
    }
}
