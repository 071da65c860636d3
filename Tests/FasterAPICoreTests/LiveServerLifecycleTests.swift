import NIOCore
import NIOPosix
import Testing

@testable import FasterAPICore

@Suite("Live server: start and graceful shutdown")
struct LiveServerLifecycleTests {
    @Test func portZeroBindsARealPort() async throws {
        let server = HTTPServer(
            responder: RecordingResponder(), configuration: testConfiguration(), logger: quietLogger)
        let address = try await server.start()
        let port = try #require(address.port)
        #expect(port != 0)
        #expect(server.localAddress?.port == port)
        #expect(address.ipAddress == "127.0.0.1")
        // And it answers there.
        let connection = try await RawConnection.connect(port: port)
        try await connection.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        let (responses, _) = await connection.waitForResponses(1)
        #expect(responses.map(\.status) == [200])
        await connection.close()
        await server.shutdown()
    }

    /// A responder that holds `/gated` until the test opens the gate.
    private static func gatedResponder(_ gate: Gate, _ log: EventLog<String>) -> ClosureResponder {
        ClosureResponder { request in
            log.append(request.head.target)
            if request.head.target == "/gated" { await gate.wait() }
            var headers = HTTPHeaders()
            headers.add(name: "X-Target", value: request.head.target)
            return Response(headers: headers, body: ResponseBody(string: "done"))
        }
    }

    @Test func inFlightRequestCompletesWithCloseAndNewConnectionsAreRefused() async throws {
        let gate = Gate()
        let log = EventLog<String>()
        let server = HTTPServer(
            responder: Self.gatedResponder(gate, log),
            configuration: testConfiguration { $0.shutdownGracePeriod = .seconds(10) }, logger: quietLogger)
        let port = try #require(try await server.start().port)
        let inFlight = try await RawConnection.connect(port: port)
        try await inFlight.send("GET /gated HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(await eventually { log.events == ["/gated"] })
        // A second connection that never sends anything: it is closed as soon as shutdown tells
        // the connections to quiesce, which shows the in-flight one has been told too.
        let sentinel = try await RawConnection.connect(port: port)
        #expect(await eventually { server.connectionCount == 2 })
        let shutdown = Task { await server.shutdown() }
        let sentinelState = await sentinel.readUntilClosed(timeout: .seconds(30))
        #expect(sentinelState.closed && sentinelState.received.isEmpty, "\(sentinelState)")
        await sentinel.close()
        // The listener is closed: no new connections.
        await #expect(throws: (any Error).self) { _ = try await RawConnection.connect(port: port) }
        // The in-flight request still completes, and its response closes the connection.
        gate.release()
        let state = await inFlight.readUntilClosed(timeout: .seconds(5))
        await inFlight.close()
        let parsed = try ResponseParser.parseAll(state.received, closed: state.closed)
        #expect(parsed.responses.map(\.status) == [200], "\(state)")
        #expect(parsed.responses.first?.header("connection") == "close", "\(state)")
        #expect(parsed.responses.first?.text == "done")
        #expect(state.closed)
        await shutdown.value
        #expect(server.connectionCount == 0)
        await #expect(throws: (any Error).self) { _ = try await RawConnection.connect(port: port) }
    }

    @Test func pipelinedRequestAfterTheInFlightOneIsNotServedOnceShutdownBegins() async throws {
        let gate = Gate()
        let log = EventLog<String>()
        let server = HTTPServer(
            responder: Self.gatedResponder(gate, log),
            configuration: testConfiguration { $0.shutdownGracePeriod = .seconds(10) }, logger: quietLogger)
        let port = try #require(try await server.start().port)
        let inFlight = try await RawConnection.connect(port: port)
        try await inFlight.send("GET /gated HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(await eventually { log.events == ["/gated"] })
        // Every connection has been told to finish once beginShutdown returns.
        await server.beginShutdown()
        gate.release()
        let state = await inFlight.readUntilClosed(timeout: .seconds(5))
        await inFlight.close()
        let parsed = try ResponseParser.parseAll(state.received, closed: state.closed)
        // The answered request says close; the one behind it is left unanswered, not half-served.
        #expect(parsed.responses.map { $0.header("x-target") } == ["/gated"], "\(state)")
        #expect(parsed.responses.first?.header("connection") == "close")
        #expect(log.events == ["/gated"])
        #expect(state.closed)
        await server.shutdown()
    }

    @Test func idleKeepAliveConnectionIsClosedAtShutdown() async throws {
        let server = HTTPServer(
            responder: RecordingResponder(),
            configuration: testConfiguration {
                $0.shutdownGracePeriod = .seconds(30)
                $0.idleTimeout = .seconds(60)
            }, logger: quietLogger)
        let port = try #require(try await server.start().port)
        let connection = try await RawConnection.connect(port: port)
        try await connection.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        let (responses, _) = await connection.waitForResponses(1)
        #expect(responses.map(\.status) == [200])
        let shutdown = Task { await server.shutdown() }
        // Closed at once, not after the idle timeout or the 30 s grace period (10 s leaves room
        // for a loaded CI machine).
        let state = await connection.readUntilClosed(timeout: .seconds(10))
        #expect(state.closed)
        let parsed = try ResponseParser.parseAll(state.received, closed: false)
        #expect(parsed.responses.count == 1)
        #expect(parsed.rest == state.received.count, "received: \(state.received.text)")
        await connection.close()
        await shutdown.value
    }

    @Test func connectionThatNeverSentARequestIsClosedAtShutdown() async throws {
        let server = HTTPServer(
            responder: RecordingResponder(),
            configuration: testConfiguration {
                $0.shutdownGracePeriod = .seconds(30)
                $0.idleTimeout = .seconds(60)
            }, logger: quietLogger)
        let port = try #require(try await server.start().port)
        let connection = try await RawConnection.connect(port: port)
        #expect(await eventually { server.connectionCount == 1 })
        let shutdown = Task { await server.shutdown() }
        let state = await connection.readUntilClosed(timeout: .seconds(3))
        #expect(state.closed)
        #expect(state.received.isEmpty)
        await connection.close()
        await shutdown.value
    }
}
