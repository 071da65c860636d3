import NIOCore
import Testing

@testable import QUIC

@Suite("QUIC stream reassembly and ACK ranges")
struct QUICReassemblyTests {
    @Test("Pieces out of order, overlapping and repeated come out once, in order")
    func reassembles() throws {
        let text = Array("the quick brown fox jumps over the lazy dog".utf8)
        var buffer = QUICReassemblyBuffer(limit: 1000)
        let pieces: [(Int, Int)] = [(10, 20), (0, 5), (15, 30), (3, 12), (30, 43), (0, 43), (40, 43)]
        var output: [UInt8] = []
        for (start, end) in pieces {
            try buffer.insert(ByteBuffer(bytes: text[start..<end]), at: UInt64(start), fin: end == 43)
            output += buffer.read().readableBytesView
        }
        #expect(output == text)
        #expect(buffer.isComplete)
        #expect(buffer.bufferedBytes == 0)
    }

    @Test("A peer leaving a gap before every byte runs into the piece limit (an error, not unbounded memory)")
    func gapLimit() throws {
        var buffer = QUICReassemblyBuffer(limit: 1 << 20, maxPieces: 100)
        for index in 0..<100 { try buffer.insert(ByteBuffer(bytes: [1]), at: UInt64(2 * index + 1), fin: false) }
        #expect(throws: QUICTransportError.self) { try buffer.insert(ByteBuffer(bytes: [1]), at: 1001, fin: false) }
        // Filling a gap is still fine.
        try buffer.insert(ByteBuffer(bytes: [0]), at: 0, fin: false)
        #expect(buffer.read().readableBytes == 2)
    }

    @Test("Every order of a few overlapping pieces gives the same bytes")
    func permutations() throws {
        let text = Array(0..<60).map { UInt8($0) }
        let pieces: [(Int, Int)] = [(0, 10), (5, 25), (20, 40), (38, 60), (50, 55)]
        func orders(_ items: [(Int, Int)]) -> [[(Int, Int)]] {
            items.count <= 1 ? [items] : items.indices.flatMap { i in orders(Array(items[..<i] + items[(i + 1)...])).map { [items[i]] + $0 } }
        }
        for order in orders(pieces) {
            var buffer = QUICReassemblyBuffer(limit: 100)
            var output: [UInt8] = []
            for (start, end) in order {
                try buffer.insert(ByteBuffer(bytes: text[start..<end]), at: UInt64(start), fin: false)
                output += buffer.read().readableBytesView
            }
            #expect(output == text)
        }
    }

    @Test("Final size, limits and resets are enforced")
    func errors() throws {
        var buffer = QUICReassemblyBuffer(limit: 100)
        try buffer.insert(ByteBuffer(string: "hello"), at: 0, fin: true)
        #expect(throws: QUICTransportError.self) { try buffer.insert(ByteBuffer(string: "!"), at: 5, fin: false) }  // past the end
        #expect(throws: QUICTransportError.self) { try buffer.insert(ByteBuffer(string: "hell"), at: 0, fin: true) }  // a new final size
        try buffer.insert(ByteBuffer(string: "ell"), at: 1, fin: false)  // a repeat inside is fine

        var limited = QUICReassemblyBuffer(limit: 10)
        let flow = #expect(throws: QUICTransportError.self) { try limited.insert(ByteBuffer(string: "x"), at: 10, fin: false) }
        #expect(flow?.code == .flowControlError)
        let crypto = #expect(throws: QUICTransportError.self) { try limited.insert(ByteBuffer(string: "x"), at: 10, fin: false, crypto: true) }
        #expect(crypto?.code == .cryptoBufferExceeded)
        try limited.insert(ByteBuffer(string: "abc"), at: 5, fin: false)
        #expect(throws: QUICTransportError.self) { try limited.reset(finalSize: 7) }  // below data received
        try limited.reset(finalSize: 9)
        #expect(throws: QUICTransportError.self) { try limited.reset(finalSize: 8) }
    }

    @Test("ACK ranges merge, drop duplicates and keep the newest ranges")
    func ackRanges() throws {
        var tracker = QUICAckTracker(maxRanges: 3)
        var fresh: [Bool] = []
        for number: UInt64 in [0, 1, 2, 5, 7, 6, 10, 6] { fresh.append(tracker.record(number, ackEliciting: number != 2)) }
        #expect(fresh == [true, true, true, true, true, true, true, false])
        #expect(tracker.ranges == [10...10, 5...7, 0...2])
        _ = tracker.record(3, ackEliciting: false)
        _ = tracker.record(4, ackEliciting: false)
        #expect(tracker.ranges == [10...10, 0...7])
        _ = tracker.record(20, ackEliciting: true)
        _ = tracker.record(15, ackEliciting: true)
        #expect(tracker.ranges == [20...20, 15...15, 10...10])  // the oldest range is forgotten
        #expect(tracker.ackPending)
        let made = tracker.ackFrame(delay: 3)
        let frame = try #require(made)
        #expect(frame.largest == 20)
        #expect(!tracker.ackPending)
        var bytes = ByteBuffer()
        QUICFrame.ack(frame).encode(into: &bytes)
        let parsed = try QUICFrame.parseAll(bytes)
        #expect(parsed == [.ack(frame)])
    }
}
