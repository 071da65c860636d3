import NIOCore
import Testing

@testable import QUIC

@Suite("QUIC frames (RFC 9000 §19) and packet headers (§17)")
struct QUICFrameTests {
    static let everyFrame: [QUICFrame] = [
        .padding(count: 3), .ping,
        .ack(QUICAckFrame(ranges: [90...100, 50...80, 0...10], delay: 25)),
        .ack(QUICAckFrame(ranges: [7...7], delay: 0, ecn: (ect0: 5, ect1: 0, ce: 1))),
        .resetStream(streamID: 4, errorCode: 0x10c, finalSize: 1 << 20), .stopSending(streamID: 8, errorCode: 3),
        .crypto(offset: 1200, data: ByteBuffer(string: "client hello")), .newToken(ByteBuffer(bytes: [1, 2, 3])),
        .stream(QUICStreamFrame(streamID: 0, offset: 0, data: ByteBuffer(string: "GET /\r\n"), fin: true)),
        .stream(QUICStreamFrame(streamID: 3, offset: 70_000, data: ByteBuffer(string: "more"), fin: false)),
        .maxData(1 << 30), .maxStreamData(streamID: 4, maximum: 65536), .maxStreams(bidirectional: true, maximum: 100),
        .maxStreams(bidirectional: false, maximum: 3), .dataBlocked(limit: 9), .streamDataBlocked(streamID: 4, limit: 10),
        .streamsBlocked(bidirectional: true, limit: 100), .streamsBlocked(bidirectional: false, limit: 1),
        .newConnectionID(sequence: 2, retirePriorTo: 1, connectionID: [1, 2, 3, 4, 5, 6, 7, 8], statelessResetToken: Array(0..<16)),
        .retireConnectionID(sequence: 1), .pathChallenge(Array(1...8)), .pathResponse(Array(1...8)),
        .connectionClose(errorCode: 0x0A, frameType: 0x08, reason: "bad stream", application: false),
        .connectionClose(errorCode: 0x101, frameType: nil, reason: "bye", application: true), .handshakeDone,
    ]

    @Test("Every frame type encodes and reads back the same")
    func roundTrip() throws {
        var buffer = ByteBuffer()
        for frame in Self.everyFrame { frame.encode(into: &buffer) }
        #expect(try QUICFrame.parseAll(buffer) == Self.everyFrame)
    }

    @Test(
        "Malformed frames are FRAME_ENCODING_ERROR (a frame type in a long encoding is PROTOCOL_VIOLATION), never a crash",
        arguments: [
            ("1f", QUICTransportErrorCode.frameEncodingError),  // unknown type
            ("0b0005616263", .frameEncodingError),  // STREAM with LEN: 5 bytes announced, 3 there
            ("020a0001050b", .frameEncodingError),  // ACK: a range below zero
            ("020a00000b", .frameEncodingError),  // ACK: first range below zero
            ("1801010000000000000000000000000000000000", .frameEncodingError),  // NEW_CONNECTION_ID: length 0
            ("180102" + "08" + "0102030405060708" + String(repeating: "00", count: 16), .frameEncodingError),  // retire > sequence
            ("12d000000000000001", .frameEncodingError),  // MAX_STREAMS over 2^60
            ("0700", .frameEncodingError),  // empty NEW_TOKEN
            ("1a0102", .frameEncodingError),  // PATH_CHALLENGE cut short
            ("4001", .protocolViolation),  // PING in two bytes
            ("", .protocolViolation),  // no frame at all
        ])
    func malformed(text: String, code: QUICTransportErrorCode) {
        let error = #expect(throws: QUICTransportError.self) { try QUICFrame.parseAll(ByteBuffer(bytes: hex(text))) }
        #expect(error?.code == code)
    }

    @Test("Any prefix of a frame sequence fails cleanly or reads whole frames")
    func prefixes() {
        var buffer = ByteBuffer()
        for frame in Self.everyFrame { frame.encode(into: &buffer) }
        let bytes = Array(buffer.readableBytesView)
        for end in 0..<bytes.count { _ = try? QUICFrame.parseAll(ByteBuffer(bytes: bytes[..<end])) }
    }

    @Test("Frames allowed in Initial, Handshake and 0-RTT packets (Table 3)")
    func permissions() {
        #expect(QUICFrame.crypto(offset: 0, data: ByteBuffer()).isAllowed(in: .initial))
        #expect(!QUICFrame.stream(QUICStreamFrame(streamID: 0, offset: 0, data: ByteBuffer(), fin: false)).isAllowed(in: .handshake))
        #expect(!QUICFrame.connectionClose(errorCode: 0, frameType: nil, reason: "", application: true).isAllowed(in: .initial))
        #expect(!QUICFrame.handshakeDone.isAllowed(in: .zeroRTT))
        #expect(QUICFrame.handshakeDone.isAllowed(in: .oneRTT))
        #expect(!QUICFrame.ack(QUICAckFrame(ranges: [0...0], delay: 0)).isAckEliciting)
    }

    @Test("Headers of the RFC 9001 packets: client and server Initial, Retry; coalesced packets; Version Negotiation")
    func headers() throws {
        let client = try QUICPacketParser.header(of: QUICTestVectorTests.clientPacketStart[...] + [UInt8](repeating: 0, count: 1200 - 48), shortHeaderConnectionIDLength: 8)
        #expect(client.type == .initial)
        #expect(client.destinationConnectionID == QUICTestVectorTests.connectionID)
        #expect(client.sourceConnectionID.isEmpty && client.token.isEmpty)
        #expect(client.packetNumberOffset == 18)
        #expect(client.length == 1200)

        let server = hex("cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a") + [UInt8](repeating: 0xAA, count: 103)
        let short = [0x41] + hex("8394c8f03e515708") + [UInt8](repeating: 0x55, count: 30)
        let packets = QUICPacketParser.packets(in: server + short, shortHeaderConnectionIDLength: 8)
        #expect(packets.map(\.0.type) == [.initial, .oneRTT])
        #expect(packets[0].0.sourceConnectionID == hex("f067a5502a4262b5"))
        #expect(packets[0].0.length == 135)
        #expect(packets[1].0.destinationConnectionID == hex("8394c8f03e515708"))
        #expect(packets[1].0.packetNumberOffset == 9)

        let retry = try QUICPacketParser.header(
            of: hex("ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba")[...], shortHeaderConnectionIDLength: 8)
        #expect(retry.type == .retry)
        #expect(retry.token == Array("token".utf8))

        let negotiation = try QUICPacketParser.header(of: hex("c000000000040a0b0c0d0401020304000000016b3343cf")[...], shortHeaderConnectionIDLength: 0)
        #expect(negotiation.type == .versionNegotiation)
        #expect(negotiation.supportedVersions == [1, 0x6B33_43CF])

        let unknown = try QUICPacketParser.header(of: hex("c0ff00001d0401020304000000")[...], shortHeaderConnectionIDLength: 0)
        #expect(unknown.isUnsupportedVersion)
    }

    @Test("Cut or lying headers are discarded, never a crash")
    func badHeaders() {
        let packet = QUICTestVectorTests.clientPacketStart
        for end in 0..<packet.count { _ = try? QUICPacketParser.header(of: packet[..<end], shortHeaderConnectionIDLength: 8) }
        #expect(throws: QUICPacketError.self) { try QUICPacketParser.header(of: packet[...], shortHeaderConnectionIDLength: 8) }  // Length past the end
        #expect(throws: QUICPacketError.self) { try QUICPacketParser.header(of: hex("0001")[...], shortHeaderConnectionIDLength: 0) }  // no fixed bit
        #expect(throws: QUICPacketError.self) {
            try QUICPacketParser.header(of: (hex("c00000000115") + [UInt8](repeating: 1, count: 40))[...], shortHeaderConnectionIDLength: 0)
        }  // a 21-byte connection ID
    }
}
