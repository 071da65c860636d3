import NIOCore
import Testing

@testable import QUIC

/// Bytes from hex text (whitespace ignored).
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// RFC 9001 Appendix A: the worked examples of Initial keys and packet protection.
@Suite("QUIC packet protection: RFC 9001 Appendix A")
struct QUICTestVectorTests {
    static let connectionID = hex("8394c8f03e515708")

    @Test("A.1: Initial secrets, keys, IVs and header keys from the client's Destination Connection ID")
    func initialKeys() {
        let (client, server) = QUICPacketKeys.initial(destinationConnectionID: Self.connectionID)
        #expect(client.secret == hex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"))
        #expect(client.key.withUnsafeBytes { Array($0) } == hex("1f369613dd76d5467730efcbe3b1a22d"))
        #expect(client.iv == hex("fa044b2f42a3fd3b46fb255c"))
        #expect(client.headerKey.withUnsafeBytes { Array($0) } == hex("9f50449e04a0e810283a1e9933adedd2"))
        #expect(server.secret == hex("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b"))
        #expect(server.key.withUnsafeBytes { Array($0) } == hex("cf3a5331653c364c88f0f379b6067e37"))
        #expect(server.iv == hex("0ac1493ca1905853b0bba03e"))
        #expect(server.headerKey.withUnsafeBytes { Array($0) } == hex("c206b8d9b9f0f37644430b490eeaa314"))
    }

    static let clientHeader = hex("c300000001088394c8f03e5157080000449e00000002")
    static let clientPayload =
        hex(
            """
            060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868
            04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578
            616d706c652e636f6dff01000100000a00080006001d00170018001000070005
            04616c706e000500050100000000003300260024001d00209370b2c9caa47fba
            baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400
            0d0010000e0403050306030203080408050806002d00020101001c0002400100
            3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000
            75300901100f088394c8f03e51570806048000ffff
            """) + [UInt8](repeating: 0, count: 917)
    static let clientPacketStart = hex("c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11d242b123dc9bd8bab936b47d92ec356c")
    static let clientPacketEnd = hex("7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241e221af44860018ab0856972e194cd934")

    @Test("A.2: the client Initial is protected to the RFC's bytes and opens back")
    func clientInitial() throws {
        let (client, _) = QUICPacketKeys.initial(destinationConnectionID: Self.connectionID)
        let protector = QUICPacketProtector(keys: client)
        let packet = try protector.seal(header: Self.clientHeader, packetNumber: 2, packetNumberOffset: 18, payload: Self.clientPayload)
        #expect(packet.count == 1200)
        #expect(Array(packet.prefix(Self.clientPacketStart.count)) == Self.clientPacketStart)
        #expect(Array(packet.suffix(Self.clientPacketEnd.count)) == Self.clientPacketEnd)
        let opened = try protector.open(packet, packetNumberOffset: 18, largestPacketNumber: nil)
        #expect(opened.header == Self.clientHeader)
        #expect(opened.packetNumber == 2)
        #expect(opened.payload == Self.clientPayload)
    }

    @Test("A.3: the server Initial is protected to the RFC's bytes and opens back")
    func serverInitial() throws {
        let (_, server) = QUICPacketKeys.initial(destinationConnectionID: Self.connectionID)
        let protector = QUICPacketProtector(keys: server)
        let header = hex("c1000000010008f067a5502a4262b50040750001")
        let payload = hex(
            """
            02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739
            88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94
            0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00
            020304
            """)
        let expected = hex(
            """
            cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
            5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
            dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
            022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
            2158407dd074ee
            """)
        #expect(try protector.seal(header: header, packetNumber: 1, packetNumberOffset: 18, payload: payload) == expected)
        let opened = try protector.open(expected, packetNumberOffset: 18, largestPacketNumber: nil)
        #expect(opened.packetNumber == 1)
        #expect(opened.payload == payload)
    }

    @Test("A.4: the Retry packet's integrity tag")
    func retry() throws {
        let packet = hex("ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba")
        let tag = try QUICRetryIntegrity.tag(packet: Array(packet.dropLast(16)), originalDestinationConnectionID: Self.connectionID)
        #expect(tag == Array(packet.suffix(16)))
        #expect(QUICRetryIntegrity.verify(packet, originalDestinationConnectionID: Self.connectionID))
        var forged = packet
        forged[10] ^= 1
        #expect(!QUICRetryIntegrity.verify(forged, originalDestinationConnectionID: Self.connectionID))
    }

    @Test("A.5: a ChaCha20-Poly1305 short-header packet, keys included")
    func chacha20() throws {
        let keys = QUICPacketKeys(secret: hex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b"), suite: .chacha20Poly1305SHA256)
        #expect(keys.key.withUnsafeBytes { Array($0) } == hex("c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8"))
        #expect(keys.iv == hex("e0459b3474bdd0e44a41c144"))
        #expect(keys.headerKey.withUnsafeBytes { Array($0) } == hex("25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4"))
        #expect(keys.nextGeneration().secret == hex("1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9"))
        let protector = QUICPacketProtector(keys: keys)
        let packet = try protector.seal(header: hex("4200bff4"), packetNumber: 654_360_564, packetNumberOffset: 1, payload: [0x01])
        #expect(packet == hex("4cfe4189655e5cd55c41f69080575d7999c25a5bfb"))
        let opened = try protector.open(packet, packetNumberOffset: 1, largestPacketNumber: 654_360_563)
        #expect(opened.packetNumber == 654_360_564)
        #expect(opened.payload == [0x01])
    }

    @Test("A tampered packet fails authentication; a short one is refused")
    func tampering() throws {
        let (client, _) = QUICPacketKeys.initial(destinationConnectionID: Self.connectionID)
        let protector = QUICPacketProtector(keys: client)
        var packet = try protector.seal(header: Self.clientHeader, packetNumber: 2, packetNumberOffset: 18, payload: Self.clientPayload)
        packet[600] ^= 0x40
        #expect(throws: QUICProtectionError.authenticationFailed) { try protector.open(packet, packetNumberOffset: 18, largestPacketNumber: nil) }
        #expect(throws: QUICProtectionError.packetTooShort) { try protector.open(Array(packet.prefix(30)), packetNumberOffset: 18, largestPacketNumber: nil) }
    }
}

@Suite("QUIC variable-length integers and packet numbers")
struct QUICEncodingTests {
    @Test("RFC 9000 §16's examples decode, and values round-trip in the shortest form", arguments: [
        ("c2197c5eff14e88c", UInt64(151_288_809_941_952_652)), ("9d7f3e7d", 494_878_333), ("7bbd", 15293), ("25", 37), ("4025", 37),
    ])
    func varints(encoded: String, value: UInt64) {
        var buffer = ByteBuffer(bytes: hex(encoded))
        #expect(buffer.readQUICVarint() == value)
        #expect(buffer.readableBytes == 0)
        var written = ByteBuffer()
        written.writeQUICVarint(value)
        #expect(written.readableBytes == QUICVarint.length(of: value))
        #expect(written.readQUICVarint() == value)
    }

    @Test("A varint cut short reads nothing")
    func truncatedVarint() {
        var buffer = ByteBuffer(bytes: [0x9D, 0x7F])
        #expect(buffer.readQUICVarint() == nil)
        #expect(buffer.readableBytes == 2)
    }

    @Test("RFC 9000 Appendix A: packet-number encoding lengths and decoding")
    func packetNumbers() {
        #expect(QUICPacketNumber.encodedLength(of: 0xAC5C02, largestAcknowledged: 0xABE8B3) == 2)
        #expect(QUICPacketNumber.encodedLength(of: 0xACE8FE, largestAcknowledged: 0xABE8B3) == 3)
        #expect(QUICPacketNumber.encodedLength(of: 0, largestAcknowledged: nil) == 1)
        #expect(QUICPacketNumber.decode(truncated: 0x9B32, bits: 16, largest: 0xA82F30EA) == 0xA82F9B32)
        #expect(QUICPacketNumber.decode(truncated: 0, bits: 8, largest: 255) == 256)
        #expect(QUICPacketNumber.decode(truncated: 0xFF, bits: 8, largest: 256) == 255)
    }
}
