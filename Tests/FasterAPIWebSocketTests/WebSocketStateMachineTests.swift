import NIOCore
import Testing

@testable import FasterAPIWebSocket

/// Frames as a client would send them (masked), for the server's state machine.
private func clientFrame(
    _ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, mask: UInt32 = 0x3712_AB01
) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(UInt8((fin ? 0x80 : 0) | rsv | opcode))
    if payload.count < 126 {
        buffer.writeInteger(UInt8(0x80 | payload.count))
    } else if payload.count <= 0xFFFF {
        buffer.writeInteger(UInt8(0x80 | 126))
        buffer.writeInteger(UInt16(payload.count))
    } else {
        buffer.writeInteger(UInt8(0x80 | 127))
        buffer.writeInteger(UInt64(payload.count))
    }
    buffer.writeInteger(mask)
    let key = withUnsafeBytes(of: mask.bigEndian) { Array($0) }
    buffer.writeBytes(payload.enumerated().map { $0.element ^ key[$0.offset % 4] })
    return buffer
}

private func serverMachine(maxMessageSize: Int = 1 << 20, compression: Bool = false) -> WebSocketStateMachine {
    WebSocketStateMachine(expectMasked: true, maxFrameSize: maxMessageSize, maxMessageSize: maxMessageSize, compression: compression)
}

/// Runs every byte of `bytes` through `machine`, collecting the actions.
private func actions(_ machine: inout WebSocketStateMachine, _ bytes: ByteBuffer, deflater: MessageDeflater? = nil)
    -> [WebSocketStateMachine.Action]
{
    var buffer = bytes
    var result: [WebSocketStateMachine.Action] = []
    while let action = machine.next(&buffer, deflater: deflater, allocator: ByteBufferAllocator()) {
        result.append(action)
        if case .fail = action { break }
    }
    return result
}

private func violation(_ actions: [WebSocketStateMachine.Action]) -> WebSocketCloseCode? {
    if case .fail(let violation)? = actions.last { return violation.code }
    return nil
}

@Suite struct WebSocketStateMachineTests {
    @Test func textAndBinaryMessagesOfEveryLengthForm() {
        for length in [0, 1, 125, 126, 127, 65535, 65536, 200_000] {
            var machine = serverMachine()
            let text = String(repeating: "a", count: length)
            var bytes = clientFrame(0x1, Array(text.utf8))
            var binary = clientFrame(0x2, [UInt8](repeating: 7, count: length))
            bytes.writeBuffer(&binary)
            #expect(
                actions(&machine, bytes) == [
                    .deliver(.text(text)), .deliver(.binary(ByteBuffer(bytes: [UInt8](repeating: 7, count: length)))),
                ])
        }
    }

    @Test func framesSplitAtEveryByteAreReassembled() {
        let payload = Array("fragmented 🎉 text".utf8)
        var all = clientFrame(0x1, Array(payload[..<5]), fin: false)
        var ping = clientFrame(0x9, [1, 2])
        var last = clientFrame(0x0, Array(payload[5...]))
        all.writeBuffer(&ping)
        all.writeBuffer(&last)
        var machine = serverMachine()
        var buffer = ByteBuffer()
        var result: [WebSocketStateMachine.Action] = []
        for byte in all.readableBytesView {
            buffer.writeInteger(byte)
            while let action = machine.next(&buffer, deflater: nil, allocator: ByteBufferAllocator()) {
                if action != .none { result.append(action) }
            }
        }
        #expect(result == [.sendPong(ByteBuffer(bytes: [1, 2])), .deliver(.text("fragmented 🎉 text"))])
    }

    @Test func protocolViolationsFailWith1002() {
        let cases: [(String, ByteBuffer)] = [
            ("reserved bit 2", clientFrame(0x1, [0x41], rsv: 0x20)),
            ("RSV1 without compression", clientFrame(0x1, [0x41], rsv: 0x40)),
            ("opcode 3", clientFrame(0x3, [])),
            ("opcode 0xB", clientFrame(0xB, [])),
            ("fragmented ping", clientFrame(0x9, [], fin: false)),
            ("126-byte ping", clientFrame(0x9, [UInt8](repeating: 0, count: 126))),
            ("continuation first", clientFrame(0x0, [0x41])),
            ("close with one byte", clientFrame(0x8, [3])),
            ("close code 1005", clientFrame(0x8, [0x03, 0xED])),
            ("close code 999", clientFrame(0x8, [0x03, 0xE7])),
            ("close code 5000", clientFrame(0x8, [0x13, 0x88])),
        ]
        for (name, bytes) in cases {
            var machine = serverMachine()
            #expect(violation(actions(&machine, bytes)) == .protocolError, "\(name)")
        }
        // A new message while a fragmented one is open.
        var machine = serverMachine()
        var bytes = clientFrame(0x1, [0x41], fin: false)
        var second = clientFrame(0x1, [0x42])
        bytes.writeBuffer(&second)
        #expect(violation(actions(&machine, bytes)) == .protocolError)
        // An unmasked frame from a client.
        var unmasked = ByteBuffer(bytes: [0x81, 0x01, 0x41])
        machine = serverMachine()
        #expect(violation(actions(&machine, unmasked)) == .protocolError)
        // A masked frame from a server.
        var client = WebSocketStateMachine(expectMasked: false, maxFrameSize: 100, maxMessageSize: 100, compression: false)
        unmasked = clientFrame(0x1, [0x41])
        #expect(violation(actions(&client, unmasked)) == .protocolError)
    }

    @Test func invalidUTF8FailsAtTheFirstBadFragment() {
        // "κόσμε" then an encoded surrogate (ED A0 80): the second fragment fails before the message ends.
        var machine = serverMachine()
        var bytes = clientFrame(0x1, [0xCE, 0xBA, 0xE1, 0xBD, 0xB9], fin: false)
        var bad = clientFrame(0x0, [0xCF, 0x83, 0xED, 0xA0, 0x80], fin: false)
        bytes.writeBuffer(&bad)
        let result = actions(&machine, bytes)
        #expect(result.first == WebSocketStateMachine.Action.none)
        #expect(violation(result) == .invalidPayload)
        // A message ending inside a character.
        machine = serverMachine()
        #expect(violation(actions(&machine, clientFrame(0x1, [0xE2, 0x82]))) == .invalidPayload)
        // A close reason that is not UTF-8.
        machine = serverMachine()
        #expect(violation(actions(&machine, clientFrame(0x8, [0x03, 0xE8, 0xFF]))) == .invalidPayload)
    }

    @Test func limitsFailWith1009() {
        var machine = serverMachine(maxMessageSize: 100)
        #expect(violation(actions(&machine, clientFrame(0x2, [UInt8](repeating: 0, count: 101)))) == .messageTooBig)
        machine = serverMachine(maxMessageSize: 100)
        var bytes = clientFrame(0x2, [UInt8](repeating: 0, count: 60), fin: false)
        var more = clientFrame(0x0, [UInt8](repeating: 0, count: 60))
        bytes.writeBuffer(&more)
        #expect(violation(actions(&machine, bytes)) == .messageTooBig)
        // The length alone (a 2^62-byte frame header) is enough to refuse.
        machine = serverMachine(maxMessageSize: 100)
        let header = ByteBuffer(bytes: [0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0])
        #expect(violation(actions(&machine, header)) == .messageTooBig)
    }

    @Test func closeHandshakeBothWays() {
        // The peer closes first: we echo its code.
        var machine = serverMachine()
        #expect(
            actions(&machine, clientFrame(0x8, [0x0F, 0xA0] + Array("done".utf8)))
                == [.answerClose(received: WebSocketCloseCode(rawValue: 4000), reason: "done", echo: WebSocketCloseCode(rawValue: 4000))])
        #expect(machine.state == .closed)
        // An empty close frame has no code.
        machine = serverMachine()
        #expect(actions(&machine, clientFrame(0x8, [])) == [.answerClose(received: nil, reason: "", echo: .normalClosure)])
        // We close first: data after our close is dropped, the peer's close completes the handshake.
        machine = serverMachine()
        machine.closeSent()
        var bytes = clientFrame(0x1, Array("late".utf8))
        var close = clientFrame(0x8, [0x03, 0xE8])
        bytes.writeBuffer(&close)
        #expect(actions(&machine, bytes) == [.none, .closeHandshakeDone(received: .normalClosure, reason: "")])
    }

    @Test func encoderRoundTripsThroughTheDecoder() {
        for length in [0, 125, 126, 65535, 65536] {
            let payload = ByteBuffer(bytes: (0..<length).map { UInt8(truncatingIfNeeded: $0) })
            for mask: UInt32? in [nil, 0xDEAD_BEEF] {
                var buffer = ByteBuffer()
                WebSocketFrameEncoder.write(opcode: .binary, payload: payload, maskKey: mask, to: &buffer)
                #expect(buffer.readableBytes == WebSocketFrameEncoder.headerSize(length: length, masked: mask != nil) + length)
                var decoder = WebSocketFrameDecoder(expectMasked: mask != nil, maxFrameSize: 1 << 20)
                let frame = try? decoder.next(&buffer)
                #expect(frame?.payload == payload)
                #expect(frame?.opcode == .binary)
            }
        }
    }
}

@Suite struct PerMessageDeflateTests {
    @Test func serverAcceptsTheFirstAcceptableOffer() throws {
        let configuration = PerMessageDeflateConfiguration()
        let offers = PerMessageDeflateNegotiation.parse([
            "permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits; server_no_context_takeover",
            "x-webkit-deflate-frame",
        ])
        let accepted = try #require(PerMessageDeflateNegotiation.accept(offers, configuration: configuration))
        #expect(accepted.header == "permessage-deflate; server_no_context_takeover")
        #expect(accepted.agreement == DeflateAgreement(sendWindowBits: 15, sendNoContextTakeover: true, receiveNoContextTakeover: false))

        let windowed = PerMessageDeflateNegotiation.accept(
            PerMessageDeflateNegotiation.parse(["permessage-deflate; server_max_window_bits=10; client_max_window_bits=12; client_no_context_takeover"]),
            configuration: configuration)
        #expect(windowed?.header == "permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12")
        #expect(windowed?.agreement.sendWindowBits == 10)
    }

    @Test func badOffersAreDeclined() {
        for offer in [
            "permessage-deflate; server_max_window_bits", "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=7", "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; unknown", "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_max_window_bits=010",
        ] {
            #expect(
                PerMessageDeflateNegotiation.accept(
                    PerMessageDeflateNegotiation.parse([offer]), configuration: PerMessageDeflateConfiguration()) == nil,
                "\(offer)")
        }
    }

    @Test func clientChecksTheServersAnswer() throws {
        let configuration = PerMessageDeflateConfiguration()
        let agreement = try PerMessageDeflateNegotiation.agreement(
            fromResponse: ["permessage-deflate; client_max_window_bits=10; server_no_context_takeover"],
            configuration: configuration)
        #expect(agreement == DeflateAgreement(sendWindowBits: 10, sendNoContextTakeover: false, receiveNoContextTakeover: true))
        for answer in ["permessage-deflate; foo", "permessage-deflate; client_max_window_bits", "x-other"] {
            #expect(throws: WebSocketError.self) {
                try PerMessageDeflateNegotiation.agreement(fromResponse: [answer], configuration: configuration)
            }
        }
    }

    @Test func messagesRoundTripWithAndWithoutContextTakeover() throws {
        for noContext in [false, true] {
            let agreement = DeflateAgreement(sendWindowBits: 15, sendNoContextTakeover: noContext, receiveNoContextTakeover: noContext)
            let sender = try MessageDeflater(agreement)
            let receiver = try MessageDeflater(agreement)
            for index in 0..<5 {
                let text = String(repeating: "message \(index) is compressible; ", count: 50)
                let compressed = try sender.compress(ByteBuffer(string: text), allocator: ByteBufferAllocator())
                #expect(compressed.readableBytes < text.utf8.count / 4)
                let restored = try receiver.decompress(compressed, limit: 1 << 20, allocator: ByteBufferAllocator())
                #expect(String(buffer: restored) == text)
            }
        }
    }

    @Test func decompressionIsBounded() throws {
        let agreement = DeflateAgreement(sendWindowBits: 15, sendNoContextTakeover: false, receiveNoContextTakeover: false)
        let bomb = try MessageDeflater(agreement).compress(ByteBuffer(repeating: 0, count: 10 << 20), allocator: ByteBufferAllocator())
        #expect(bomb.readableBytes < 20_000)
        #expect(throws: WebSocketViolation(code: .messageTooBig, reason: "message too big")) {
            try MessageDeflater(agreement).decompress(bomb, limit: 1 << 20, allocator: ByteBufferAllocator())
        }
        #expect(throws: WebSocketViolation.self) {
            try MessageDeflater(agreement).decompress(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF]), limit: 1 << 20, allocator: ByteBufferAllocator())
        }
    }

    @Test func compressedMessagesThroughTheStateMachine() throws {
        let agreement = DeflateAgreement(sendWindowBits: 15, sendNoContextTakeover: false, receiveNoContextTakeover: false)
        let compressed = try MessageDeflater(agreement).compress(ByteBuffer(string: String(repeating: "é", count: 500)), allocator: ByteBufferAllocator())
        var machine = serverMachine(compression: true)
        let bytes = clientFrame(0x1, Array(compressed.readableBytesView), rsv: 0x40)
        #expect(actions(&machine, bytes, deflater: try MessageDeflater(agreement)) == [.deliver(.text(String(repeating: "é", count: 500)))])
    }
}
