import Foundation
import NIOCore
import Testing

@testable import QUIC

/// The committed fuzz corpus (`Fuzz/Corpus/<target>/`) replayed through the fuzz targets' own
/// checks (`QUICFuzzProperties`), so that CI, which runs no fuzzer, keeps every seed and every
/// crash once found passing; and the corpus checked to still hold what it claims to.
@Suite("QUIC fuzz corpus")
struct QUICFuzzCorpusTests {
    static let targets = ["FuzzFrames", "FuzzPackets", "FuzzTransportParameters"]

    /// `Fuzz/Corpus`, found from this file's place in the repository.
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus")

    /// The inputs of `target`'s corpus folder, by file name.
    static func inputs(of target: String) throws -> [(name: String, bytes: [UInt8])] {
        let folder = corpus.appendingPathComponent(target)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }
        return try names.sorted().map { ($0, Array(try Data(contentsOf: folder.appendingPathComponent($0)))) }
    }

    /// One input of `target`'s corpus: `name`.bin.
    static func input(_ target: String, _ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: corpus.appendingPathComponent("\(target)/\(name).bin")))
    }

    @Test("Every corpus input keeps its fuzz target's properties", arguments: targets)
    func replay(target: String) throws {
        let check = try #require(QUICFuzzProperties.check(forTarget: target))
        let inputs = try Self.inputs(of: target)
        #expect(inputs.count >= 20)
        for input in inputs {
            let broken = check(input.bytes)
            #expect(broken.isEmpty, "\(target)/\(input.name): \(broken.joined(separator: "; "))")
        }
    }

    @Test("The frame corpus reads every frame type of RFC 9000 §19")
    func everyFrameType() throws {
        var types: Set<UInt64> = []
        for input in try Self.inputs(of: "FuzzFrames") {
            var buffer = ByteBuffer(bytes: input.bytes)
            var peek = buffer
            while let type = peek.readQUICVarint(), (try? QUICFrame.parse(&buffer)) != nil {
                types.insert(type)
                peek = buffer
            }
        }
        #expect(types == Set(0x00...0x1E))
    }

    @Test("The packet corpus holds every packet type; RFC 9001 A.2's and A.5's packets open")
    func everyPacketType() throws {
        var seen: [QUICPacketType] = []
        for input in try Self.inputs(of: "FuzzPackets") {
            seen += QUICPacketParser.packets(in: input.bytes, shortHeaderConnectionIDLength: 0).map(\.0.type)
        }
        for type in [QUICPacketType.initial, .zeroRTT, .handshake, .retry, .oneRTT, .versionNegotiation] {
            #expect(seen.contains(type), "no \(type) packet")
        }

        let initial = try Self.input("FuzzPackets", "rfc9001-a2-client-initial")
        let header = try QUICPacketParser.header(of: initial[...], shortHeaderConnectionIDLength: 0)
        let keys = QUICPacketKeys.initial(destinationConnectionID: header.destinationConnectionID).client
        let opened = try QUICPacketProtector(keys: keys).open(
            initial, packetNumberOffset: header.packetNumberOffset, largestPacketNumber: nil)
        let frames = try QUICFrame.parseAll(ByteBuffer(bytes: opened.payload))
        #expect(opened.packetNumber == 2)
        #expect(frames.count == 2 && frames.last == .padding(count: 917))
        guard case .crypto(0, let clientHello) = frames.first else {
            Issue.record("A.2's payload does not start with a CRYPTO frame at offset 0: \(frames)")
            return
        }
        #expect(clientHello.readableBytes == 241)

        let short = try Self.input("FuzzPackets", "rfc9001-a5-short-header-chacha20")
        let oneRTT = QUICPacketKeys(
            secret: hex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b"),
            suite: .chacha20Poly1305SHA256)
        let ping = try QUICPacketProtector(keys: oneRTT).open(
            short, packetNumberOffset: 1, largestPacketNumber: 654_360_563)
        #expect(try QUICFrame.parseAll(ByteBuffer(bytes: ping.payload)) == [.ping])
    }

    @Test("The transport parameter corpus holds blocks valid from a client and from a server")
    func validBlocks() throws {
        let inputs = try Self.inputs(of: "FuzzTransportParameters")
        let fromClient = inputs.filter { (try? QUICTransportParameters.decode($0.bytes, fromServer: false)) != nil }
        let fromServer = inputs.filter { (try? QUICTransportParameters.decode($0.bytes, fromServer: true)) != nil }
        #expect(fromClient.count >= 5)
        #expect(fromServer.count >= 2)

        let client = try QUICTransportParameters.decode(
            try Self.input("FuzzTransportParameters", "rfc9001-a2-client"), fromServer: false)
        #expect(client.initialSourceConnectionID == hex("8394c8f03e515708"))
        #expect(client.initialMaxData == QUICVarint.max)
        #expect(client.maxIdleTimeout == 30_000)
        #expect(client.initialMaxStreamsBidi == 16)
    }
}
