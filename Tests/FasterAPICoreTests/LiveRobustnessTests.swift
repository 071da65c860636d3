import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

@testable import FasterAPICore

#if canImport(Glibc)
    import Glibc
#endif

/// Connection states that must neither hang, leak, crash nor desynchronise: stalled bodies,
/// clients that stop reading, callbacks from an earlier exchange, bodies read twice, and
/// streamed bodies that do not match their declared length.
@Suite("Live HTTP/1.1: robustness")
struct LiveRobustnessTests {
    @Test func stalledBodyIsAnswered408AndClosed() async throws {
        let responder = RecordingResponder()
        try await withLiveServer(responder, configure: { $0.bodyReadTimeout = .milliseconds(300) }) { live in
            let connection = try await RawConnection.connect(port: live.port)
            try await connection.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
            let state = await connection.readUntilClosed(timeout: .seconds(5))
            #expect(state.closed)
            let parsed = try ResponseParser.parseAll(state.received, closed: true).responses
            #expect(parsed.map(\.status) == [408])
            #expect(responder.log.events.contains { if case .bodyFailed("/upload", _) = $0 { true } else { false } })
        }
    }

    @Test func pipelinedStreamedBodiesStayWithTheirRequests() async throws {
        // Request 1's body stream ends (its callbacks are still queued) while request 2 starts;
        // request 2's body must still reach its handler intact.
        let responder = RecordingResponder()
        try await withLiveServer(responder) { live in
            let connection = try await RawConnection.connect(port: live.port)
            try await connection.send(
                "POST /one HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                    + "POST /two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
            try await Task.sleep(for: .milliseconds(100))
            try await connection.send("4\r\ndefg\r\n0\r\n\r\n")
            let (responses, state) = await connection.waitForResponses(2, timeout: .seconds(5))
            #expect(responses.map(\.status) == [200, 200], "\(state)")
            #expect(responses.map(\.text) == ["hello", "abcdefg"])
            #expect(!state.closed)
            await connection.close()
        }
    }

    @Test func readingAStreamedBodyTwiceIsAnErrorNotACrash() async throws {
        let responder = ClosureResponder { request in
            _ = try await request.body.collect(upTo: 1 << 20)
            _ = try await request.body.collect(upTo: 1 << 20)
            return Response(status: .ok)
        }
        try await withLiveServer(responder) { live in
            let state = try await rawExchange(
                port: live.port,
                pieces: [
                    bytes(
                        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                    )
                ])
            let responses = try ResponseParser.parseAll(state.received, closed: state.closed).responses
            #expect(responses.map(\.status) == [500])
            // The server is still serving (an in-memory body may be read any number of times).
            let next = try await rawExchange(
                port: live.port, pieces: [bytes("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")])
            #expect(try ResponseParser.parseAll(next.received, closed: next.closed).responses.map(\.status) == [200])
        }
    }

    @Test(arguments: [(declared: 10, written: "hello"), (declared: 3, written: "hello")])
    func streamedBodyNotMatchingItsLengthClosesTheConnection(declared: Int, written: String) async throws {
        let responder = ClosureResponder { _ in
            Response(status: .ok, body: ResponseBody(length: declared) { writer in try await writer.write(written) })
        }
        try await withLiveServer(responder) { live in
            let connection = try await RawConnection.connect(port: live.port)
            try await connection.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
            let state = await connection.readUntilClosed(timeout: .seconds(5))
            #expect(state.closed)
            let text = String(decoding: state.received, as: UTF8.self)
            #expect(text.components(separatedBy: "HTTP/1.1 200").count == 2, "only the first response starts")
            #expect(text.contains("Content-Length: \(declared)"))
            let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
            #expect(body.utf8.count <= declared, "never more bytes than declared")
        }
    }

    @Test func aClientThatDoesNotReadStopsTheServerAnswering() async throws {
        // Each answer is 256 KiB; the client pipelines 200 requests and reads nothing. Only as
        // many answers as the socket buffers hold may be produced, not all 200.
        let answered = Mutex(0)
        let big = ByteBuffer(repeating: UInt8(ascii: "x"), count: 256 * 1024)
        let responder = ClosureResponder { _ in
            answered.withLock { $0 += 1 }
            return Response(status: .ok, body: ResponseBody(buffer: big))
        }
        try await withLiveServer(responder, configure: { $0.writeTimeout = .seconds(30) }) { live in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #expect(fd >= 0)
            defer { close(fd) }
            var small: Int32 = 16 * 1024
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(live.port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            #expect(connected == 0)
            let requests = String(repeating: "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", count: 200)
            let sent = requests.withCString { send(fd, $0, strlen($0), 0) }
            #expect(sent == requests.utf8.count)
            // The first answers come (however loaded the machine), then the server stops.
            let deadline = ContinuousClock.now + .seconds(10)
            while answered.withLock({ $0 }) == 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .seconds(1))
            let count = answered.withLock { $0 }
            #expect(count >= 1 && count < 100, "answered \(count) of 200 while the client read nothing")
        }
    }

    @Test func aClosedConnectionFreesItsHandler() async throws {
        weak var weakHandler: HTTP1ConnectionHandler<ClosureResponder>?
        let channel = EmbeddedChannel()
        do {
            let loop = channel.embeddedEventLoop
            let handler = HTTP1ConnectionHandler(
                responder: ClosureResponder { _ in Response(status: .ok) }, configuration: ServerConfiguration(),
                resources: LoopResources(
                    executor: EventLoopTaskExecutor(loop), dateCache: DateCache(), logger: quietLogger), connection: ConnectionInfo())
            weakHandler = handler
            try channel.pipeline.syncOperations.addHandler(handler)
        }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        _ = try? channel.finish()
        #expect(weakHandler == nil)
    }
}
