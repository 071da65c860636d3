import NIOCore
import Testing

@testable import FasterAPICore

/// HTTP/2 byte by byte over a raw socket: how a cleartext listener tells it from HTTP/1.1
/// (preface, `Upgrade: h2c`), the idle timeout, and flow control holding a producer back. The
/// rest of the frame-level behaviour is checked with Python's `h2` in the interop suite.
@Suite("Live HTTP/2 over raw sockets")
struct LiveHTTP2Tests {
    static let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    static let emptySettings: [UInt8] = [0, 0, 0, 4, 0, 0, 0, 0, 0]

    static func ok() -> ClosureResponder {
        ClosureResponder { request in Response(body: ResponseBody(string: "\(request.head.version)")) }
    }

    /// The frame type of the first frame in `bytes`, if a whole frame header has arrived.
    static func firstFrameType(_ bytes: [UInt8]) -> UInt8? { bytes.count >= 9 ? bytes[3] : nil }

    @Test func priorKnowledgePrefaceSwitchesToHTTP2() async throws {
        try await withLiveServer(Self.ok()) { server in
            let connection = try await RawConnection.connect(port: server.port)
            // The preface split across writes is still recognised.
            _ = await connection.send(
                pieces: [bytes("PRI * HT"), bytes("TP/2.0\r\n\r\nSM\r\n\r\n") + Self.emptySettings], pause: .milliseconds(30))
            let state = await connection.wait { $0.received.count >= 9 }
            #expect(Self.firstFrameType(state.received) == 4, "the server's first frame is SETTINGS: \(state)")
            await connection.close()
        }
    }

    @Test func withoutHTTP2ThePrefaceIsAnHTTP1Error() async throws {
        try await withLiveServer(Self.ok(), configure: { $0.http2 = nil }) { server in
            let state = try await rawExchange(port: server.port, pieces: [bytes(Self.preface)], timeout: .seconds(3))
            let response = try #require(try ResponseParser.parseAll(state.received, closed: state.closed).responses.first)
            #expect(response.status == 505)
        }
    }

    @Test func cleartextHTTP2CanBeTurnedOff() async throws {
        try await withLiveServer(Self.ok(), configure: { $0.http2?.allowCleartext = false }) { server in
            let state = try await rawExchange(port: server.port, pieces: [bytes(Self.preface)], timeout: .seconds(3))
            let response = try #require(try ResponseParser.parseAll(state.received, closed: state.closed).responses.first)
            #expect(response.status == 505)
        }
    }

    @Test func upgradeSwitchesAndAnswersTheRequestAsStreamOne() async throws {
        try await withLiveServer(Self.ok()) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send(
                "GET /hello HTTP/1.1\r\nHost: example\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
            )
            let switched = await connection.wait { $0.received.text.contains("\r\n\r\n") }
            #expect(switched.received.text.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"), "\(switched)")
            try await connection.send(bytes(Self.preface) + Self.emptySettings)
            // After the 101: SETTINGS, then the answer on stream 1 (a HEADERS frame for stream 1).
            let state = await connection.wait { Self.frames(after: $0.received).contains { $0.type == 1 && $0.stream == 1 } }
            let frames = Self.frames(after: state.received)
            #expect(frames.first?.type == 4, "\(frames)")
            #expect(frames.contains { $0.type == 1 && $0.stream == 1 }, "\(frames)")
            #expect(frames.contains { $0.type == 0 && $0.stream == 1 && $0.payload == bytes("HTTP/2") }, "\(frames)")
            await connection.close()
        }
    }

    /// An upgrade that carries a body, or is not asked for properly, is answered over HTTP/1.1.
    @Test(arguments: [
        "POST /hello HTTP/1.1\r\nHost: example\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 2\r\n\r\nhi",
        "GET /hello HTTP/1.1\r\nHost: example\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: example\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: example\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: websocket\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    ])
    func upgradesThatAreNotHonouredGetHTTP1(_ request: String) async throws {
        try await withLiveServer(Self.ok()) { server in
            let state = try await rawExchange(port: server.port, pieces: [bytes(request)], timeout: .seconds(3))
            let response = try #require(try ResponseParser.parseAll(state.received, closed: state.closed).responses.first)
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "HTTP/1.1")
        }
    }

    @Test func anIdleConnectionGetsGoAwayAndIsClosed() async throws {
        // Long enough that the preface arrives before HTTP/1.1's own idle timer, even on a loaded machine.
        try await withLiveServer(Self.ok(), configure: { $0.idleTimeout = .seconds(6) }) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send(bytes(Self.preface) + Self.emptySettings)
            let state = await connection.readUntilClosed(timeout: .seconds(20))
            #expect(state.closed)
            // The frames are read as if after an empty HTTP/1.1 head.
            let frames = Self.frames(after: bytes("\r\n\r\n") + state.received)
            let goAway = try #require(frames.first { $0.type == 7 }, "\(frames)")
            #expect(goAway.payload.suffix(4) == [0, 0, 0, 0], "NO_ERROR")
        }
    }

    /// A client that grants no flow-control window holds a streaming producer back: the server
    /// buffers a few kilobytes, not the body.
    @Test func aClientThatReadsNothingHoldsTheProducerBack() async throws {
        let produced = EventLog<Int>()
        let responder = ClosureResponder { _ in
            Response(
                body: ResponseBody { writer in
                    let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 4096)
                    for _ in 0..<25_600 {  // 100 MiB if nothing held it back
                        try await writer.write(chunk)
                        produced.append(chunk.readableBytes)
                    }
                })
        }
        try await withLiveServer(responder) { server in
            let connection = try await RawConnection.connect(port: server.port)
            // SETTINGS_INITIAL_WINDOW_SIZE = 0: the server may send no DATA until we say so.
            let settings: [UInt8] = [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0]
            let request = H2CUpgradeInjector.headersFrame(
                for: HTTPRequestHead(method: .get, target: "/big", headers: ["host": "example"]))
            try await connection.send(bytes(Self.preface) + settings + Array(request.readableBytesView))
            let headers = await connection.wait(timeout: .seconds(15)) { state in
                Self.frames(after: bytes("\r\n\r\n") + state.received).contains { $0.type == 1 && $0.stream == 1 }
            }
            #expect(Self.frames(after: bytes("\r\n\r\n") + headers.received).contains { $0.type == 1 }, "\(headers)")
            try await Task.sleep(for: .milliseconds(500))
            let total = produced.events.reduce(0, +)
            #expect(total < 256 * 1024, "the producer ran ahead: \(total) bytes")
            let frames = Self.frames(after: bytes("\r\n\r\n") + (await connection.wait { _ in true }).received)
            #expect(!frames.contains { $0.type == 0 && !$0.payload.isEmpty }, "DATA sent without a window")
            await connection.close()
        }
    }

    struct Frame: CustomStringConvertible {
        var type: UInt8
        var stream: UInt32
        var payload: [UInt8]
        var description: String { "type=\(type) stream=\(stream) length=\(payload.count)" }
    }

    /// The HTTP/2 frames after an HTTP/1.1 101 response's head.
    static func frames(after received: [UInt8]) -> [Frame] {
        guard let headEnd = received.firstRange(of: bytes("\r\n\r\n")) else { return [] }
        var rest = received[headEnd.upperBound...]
        var frames: [Frame] = []
        while rest.count >= 9 {
            let start = rest.startIndex
            let length = Int(rest[start]) << 16 | Int(rest[start + 1]) << 8 | Int(rest[start + 2])
            guard rest.count >= 9 + length else { break }
            let stream = rest[(start + 5)..<(start + 9)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
            frames.append(Frame(type: rest[start + 3], stream: stream, payload: Array(rest[(start + 9)..<(start + 9 + length)])))
            rest = rest[(start + 9 + length)...]
        }
        return frames
    }
}
