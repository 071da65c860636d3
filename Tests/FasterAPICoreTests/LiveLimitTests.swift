import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import FasterAPICore

@Suite("Live HTTP/1.1: limits and timeouts")
struct LiveLimitTests {
    @Test func chunkedBodyOverTheLimitWhileStreamingGets413AndClose() async throws {
        let responder = RecordingResponder()
        try await withLiveServer(responder, configure: { $0.maxRequestBodyBytes = 1024 }) { server in
            let connection = try await RawConnection.connect(port: server.port)
            let chunk = "200\r\n" + String(repeating: "x", count: 512) + "\r\n"
            await connection.send(
                pieces: [bytes("POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")]
                    + Array(repeating: bytes(chunk), count: 4)
                    + [bytes("0\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")],
                pause: .milliseconds(10))
            let state = await connection.readUntilClosed()
            await connection.close()
            let parsed = try ResponseParser.parseAll(state.received, closed: state.closed)
            #expect(parsed.responses.map(\.status) == [413], "received: \(state.received.text)")
            #expect(parsed.responses.first?.header("connection") == "close")
            #expect(state.closed)
            let events = responder.log.events
            #expect(events.first == .called("/big"))
            #expect(events.contains { if case .bodyFailed("/big", _) = $0 { true } else { false } }, "\(events)")
            #expect(!events.contains(.called("/after")))
        }
    }

    /// The responder answers before reading the body; the rest of the body then goes over the
    /// limit while the server drains it. The server said it would close (`failBody` sets
    /// keep-alive off), and it cannot keep parsing: it dropped bytes it had buffered.
    @Test func bodyOverTheLimitWhileDrainingAfterAnEarlyResponseClosesTheConnection() async throws {
        let responder = ClosureResponder { _ in Response(status: .accepted, body: ResponseBody(string: "early")) }
        try await withLiveServer(
            responder,
            configure: {
                $0.maxRequestBodyBytes = 1024
                $0.requestHeadTimeout = .seconds(30)
                $0.idleTimeout = .seconds(30)
            }
        ) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send("POST /early HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            let (first, _) = await connection.waitForResponses(1)
            #expect(first.map(\.status) == [202])
            let chunk = "200\r\n" + String(repeating: "x", count: 512) + "\r\n"
            await connection.send(pieces: Array(repeating: bytes(chunk), count: 4), pause: .milliseconds(10))
            let state = await connection.readUntilClosed(timeout: .seconds(3))
            await connection.close()
            let parsed = try ResponseParser.parseAll(state.received, closed: state.closed)
            #expect(parsed.responses.map(\.status) == [202], "received: \(state.received.text)")
            #expect(state.closed, "the server kept the connection open after the body went over the limit: \(state)")
        }
    }

    /// Same, with a malformed chunk line arriving after the early response: a framing error must
    /// close the connection (the parser is left mid-body and cannot find the next request).
    @Test func malformedChunkWhileDrainingAfterAnEarlyResponseClosesTheConnection() async throws {
        let responder = ClosureResponder { _ in Response(status: .accepted, body: ResponseBody(string: "early")) }
        try await withLiveServer(
            responder,
            configure: {
                $0.requestHeadTimeout = .seconds(30)
                $0.idleTimeout = .seconds(30)
            }
        ) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send("POST /early HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            let (first, _) = await connection.waitForResponses(1)
            #expect(first.map(\.status) == [202])
            try await connection.send("zz\r\nhello\r\n0\r\n\r\n")
            let state = await connection.readUntilClosed(timeout: .seconds(3))
            await connection.close()
            let parsed = try ResponseParser.parseAll(state.received, closed: state.closed)
            #expect(parsed.responses.map(\.status) == [202], "received: \(state.received.text)")
            #expect(state.closed, "the server kept the connection open after a malformed chunk")
        }
    }

    @Test func slowRequestHeadGets408AndClose() async throws {
        let responder = RecordingResponder()
        try await withLiveServer(
            responder,
            configure: {
                $0.requestHeadTimeout = .milliseconds(300)
                $0.idleTimeout = .seconds(30)
            }
        ) { server in
            let connection = try await RawConnection.connect(port: server.port)
            // Trickle a head, a few bytes every 100 ms, for far longer than the head timeout.
            let pieces =
                [bytes("GET / HTTP/1.1\r\n"), bytes("Host: x\r\n")]
                + (0..<40).map { bytes("X-\($0): v\r\n") } + [bytes("\r\n")]
            await connection.send(pieces: pieces, pause: .milliseconds(100))
            let state = await connection.readUntilClosed(timeout: .seconds(5))
            await connection.close()
            let parsed = try ResponseParser.parseAll(state.received, closed: state.closed)
            #expect(parsed.responses.map(\.status) == [408], "received: \(state.received.text)")
            #expect(parsed.responses.first?.header("connection") == "close")
            #expect(state.closed)
            #expect(responder.log.events.isEmpty)
        }
    }

    @Test func idleConnectionIsClosedAfterIdleTimeoutWithoutAResponse() async throws {
        try await withLiveServer(
            RecordingResponder(),
            configure: {
                $0.idleTimeout = .milliseconds(500)
                $0.requestHeadTimeout = .milliseconds(300)
            }
        ) { server in
            let connection = try await RawConnection.connect(port: server.port)
            let state = await connection.readUntilClosed(timeout: .seconds(5))
            await connection.close()
            #expect(state.closed)
            #expect(state.received.isEmpty, "received: \(state.received.text)")
        }
    }

    @Test func idleKeepAliveConnectionIsClosedAfterIdleTimeout() async throws {
        // The idle timeout leaves room for a loaded machine to stall the test between connecting
        // and sending its request.
        try await withLiveServer(
            RecordingResponder(),
            configure: {
                $0.idleTimeout = .seconds(3)
                $0.requestHeadTimeout = .milliseconds(300)
            }
        ) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
            let (responses, _) = await connection.waitForResponses(1)
            #expect(responses.map(\.status) == [200])
            let state = await connection.readUntilClosed(timeout: .seconds(10))
            await connection.close()
            #expect(state.closed)
            // Nothing after the one response (no 408 for an idle connection).
            let parsed = try ResponseParser.parseAll(state.received, closed: false)
            #expect(parsed.responses.count == 1, "\(state)")
            #expect(parsed.rest == state.received.count, "received: \(state.received.text)")
        }
    }

    /// Between requests a keep-alive connection is idle, not "reading a head": the shorter head
    /// timeout must not apply (nor send 408 to a client that has not started a request).
    @Test func keepAliveConnectionIdleLongerThanTheHeadTimeoutStillServesTheNextRequest() async throws {
        try await withLiveServer(
            RecordingResponder(),
            configure: {
                $0.idleTimeout = .seconds(10)
                $0.requestHeadTimeout = .milliseconds(200)
            }
        ) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
            let (first, _) = await connection.waitForResponses(1)
            #expect(first.map(\.status) == [200])
            // Idle for well over the head timeout, well under the idle timeout.
            try await Task.sleep(for: .milliseconds(800))
            let idle = connection.state
            #expect(!idle.closed, "closed while idle: \(idle)")
            #expect(
                (try? ResponseParser.parseAll(idle.received, closed: false).responses.count) == 1,
                "unsolicited response while idle: \(idle)")
            try? await connection.send("GET /two HTTP/1.1\r\nHost: x\r\n\r\n")
            let (responses, state) = await connection.waitForResponses(2)
            await connection.close()
            #expect(responses.map { $0.header("x-target") } == ["/one", "/two"], "\(state)")
        }
    }

    @Test func connectionsOverMaxConnectionsGet503AndClose() async throws {
        try await withLiveServer(RecordingResponder(), configure: { $0.maxConnections = 2 }) { server in
            let first = try await RawConnection.connect(port: server.port)
            let second = try await RawConnection.connect(port: server.port)
            #expect(await eventually { server.server.connectionCount == 2 })
            let third = try await RawConnection.connect(port: server.port)
            let state = await third.readUntilClosed()
            await third.close()
            let parsed = try ResponseParser.parseAll(state.received, closed: state.closed)
            #expect(parsed.responses.map(\.status) == [503], "received: \(state.received.text)")
            #expect(parsed.responses.first?.header("connection") == "close")
            #expect(parsed.responses.first?.header("retry-after") != nil)
            #expect(state.closed)
            // The two admitted connections still work.
            for connection in [first, second] {
                try await connection.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
                let (responses, _) = await connection.waitForResponses(1)
                #expect(responses.map(\.status) == [200])
                await connection.close()
            }
            // Once they are gone a new connection is admitted.
            #expect(await eventually { server.server.connectionCount == 0 })
            let fourth = try await RawConnection.connect(port: server.port)
            try await fourth.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
            let (responses, _) = await fourth.waitForResponses(1)
            #expect(responses.map(\.status) == [200])
            await fourth.close()
        }
    }

    /// A responder that stops reading holds the client back: the server does not read the rest
    /// of a 32 MiB upload into memory, so the client's writes stall until the responder reads on.
    @Test func streamedRequestBodyIsBackPressured() async throws {
        let total = 32 * 1024 * 1024
        let gate = Gate()
        let firstChunk = Mutex<Int?>(nil)
        let chunkSizes = Mutex<[Int]>([])
        let responder = ClosureResponder { request in
            var received = 0
            for try await chunk in request.body {
                if firstChunk.withLock({ $0 }) == nil {
                    firstChunk.withLock { $0 = chunk.readableBytes }
                    await gate.wait(timeout: .seconds(30))
                }
                chunkSizes.withLock { $0.append(chunk.readableBytes) }
                received += chunk.readableBytes
            }
            return Response(body: ResponseBody(string: "\(received)"))
        }
        try await withLiveServer(responder, configure: { $0.maxRequestBodyBytes = 64 * 1024 * 1024 }) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(total)\r\n\r\n")
            let written = Atomic<Int>(0)
            let block = ByteBuffer(repeating: UInt8(ascii: "u"), count: 64 * 1024)
            let writer = Task {
                while written.load(ordering: .relaxed) < total {
                    try await connection.channel.writeAndFlush(block)
                    written.add(block.readableBytes, ordering: .relaxed)
                }
            }
            #expect(await eventually(timeout: .seconds(10)) { firstChunk.withLock { $0 } != nil })
            // Wait for the client's writes to stop making progress (bounded).
            var last = -1
            var stableSince = ContinuousClock.now
            let end = ContinuousClock.now + .seconds(15)
            while ContinuousClock.now < end {
                let now = written.load(ordering: .relaxed)
                if now != last {
                    last = now
                    stableSince = .now
                } else if ContinuousClock.now - stableSince > .milliseconds(500) {
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let stalledAt = written.load(ordering: .relaxed)
            // The server did not take the whole body while its responder was not reading…
            #expect(stalledAt < total / 2, "client wrote \(stalledAt) of \(total) bytes with the responder paused")
            // …and the responder, paused on its first chunk, has seen nothing more.
            #expect(chunkSizes.withLock { $0 }.isEmpty)
            gate.release()
            try await writer.value
            let (responses, state) = await connection.waitForResponses(1, timeout: .seconds(30))
            await connection.close()
            #expect(responses.map(\.status) == [200], "received: \(state.received.text.prefix(300))")
            #expect(responses.first?.text == "\(total)")
            // The body came as many bounded chunks, handed over one by one.
            let sizes = chunkSizes.withLock { $0 }
            #expect(sizes.reduce(0, +) == total)
            #expect(sizes.first == firstChunk.withLock { $0 })
            #expect(sizes.count > 16)
            #expect((sizes.max() ?? 0) <= 1024 * 1024)
        }
    }
}
