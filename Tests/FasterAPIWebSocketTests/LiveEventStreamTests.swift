import FasterAPI
import FasterAPIWebSocket
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// Event streams on a live app, read with our EventSource client and with raw sockets.
@Suite struct LiveEventStreamTests {
    @Test func fieldsAreEncodedAndParsedBack() async throws {
        let app = App()
        app.get("/events") { request in
            EventStream(request: request, heartbeat: nil) { stream in
                try await stream.send(data: "first line\nsecond line\r\nthird", event: "multi", id: "1")
                try await stream.send(json: ["n": 2], event: "json", id: "2")
                try await stream.comment("just a comment")
                try await stream.send(data: "", id: "3")
            }
        }
        try await app.test(.live) { client in
            let raw = try await client.get("/events")
            #expect(raw.headers["content-type"] == "text/event-stream; charset=utf-8")
            #expect(raw.headers["cache-control"] == "no-cache")
            #expect(raw.text.contains("data: first line\ndata: second line\ndata: third\n"))
            #expect(raw.text.contains(": just a comment\n"))
            let url = "http://127.0.0.1:\(client.serverAddress!.port!)/events"
            var events: [ServerSentEvent] = []
            for try await event in EventSourceClient.events(from: url, reconnect: false) { events.append(event) }
            #expect(
                events == [
                    ServerSentEvent(event: "multi", data: "first line\nsecond line\nthird", lastEventID: "1"),
                    ServerSentEvent(event: "json", data: #"{"n":2}"#, lastEventID: "2"),
                    ServerSentEvent(event: "message", data: "", lastEventID: "3"),
                ])
        }
    }

    @Test(arguments: [TestMode.live, .http2])
    func heartbeatsKeepAnIdleStreamTalking(_ mode: TestMode) async throws {
        let app = App()
        app.get("/idle") { request in
            EventStream(request: request, heartbeat: .milliseconds(50)) { _ in
                try await Task.sleep(for: .seconds(1))
            }
        }
        try await app.test(mode) { client in
            let response = try await client.get("/idle")
            let pings = response.text.components(separatedBy: ": ping\n\n").count - 1
            #expect(pings >= 3, "\(response.text)")  // 20 on a quiet machine
        }
    }

    @Test(arguments: [TestMode.live, .http2])
    func theReplayBufferResumesAfterLastEventID(_ mode: TestMode) async throws {
        let replay = EventReplayBuffer(capacity: 3)
        let app = App()
        app.get("/feed") { request in
            EventStream(request: request, heartbeat: nil, replay: replay) { stream in
                guard stream.lastEventID == nil else { return }  // a resumed client only gets the replay
                for index in 1...5 { try await stream.send(data: "event \(index)", id: String(index)) }
            }
        }
        try await app.test(mode) { client in
            #expect(try await client.get("/feed").status == .ok)
            var headers = HTTPHeaders()
            headers.add(name: "Last-Event-ID", value: "3")
            let resumed = try await client.get("/feed", headers: headers)
            #expect(resumed.text == "id: 4\ndata: event 4\n\nid: 5\ndata: event 5\n\n")
            // An id that fell out of the 3-event buffer gets everything kept.
            headers.replaceOrAdd(name: "Last-Event-ID", value: "1")
            #expect(try await client.get("/feed", headers: headers).text.hasPrefix("id: 3\n"))
        }
    }

    @Test func aClientGoingAwayStopsTheProducer() async throws {
        let stopped = NIOLockedValueBox(false)
        let app = App()
        app.get("/forever") { request in
            EventStream(request: request, heartbeat: nil) { stream in
                do {
                    while true {
                        try await stream.send(data: "tick")
                        try await Task.sleep(for: .milliseconds(20))
                    }
                } catch {
                    stopped.withLockedValue { $0 = true }
                    throw error
                }
            }
        }
        try await app.test(.live) { client in
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(to: client.serverAddress!).get()
            try await channel.writeAndFlush(ByteBuffer(string: "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n"))
            try await Task.sleep(for: .milliseconds(100))
            try await channel.close()
            let deadline = ContinuousClock.now + .seconds(10)
            while !stopped.withLockedValue({ $0 }) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(stopped.withLockedValue { $0 })
        }
    }

    @Test func theClientReconnectsWithLastEventID() async throws {
        let requests = NIOLockedValueBox([String?]())
        let app = App()
        app.get("/ticks") { request in
            EventStream(request: request, heartbeat: nil) { stream in
                requests.withLockedValue { $0.append(stream.lastEventID) }
                let first = (stream.lastEventID.flatMap { Int($0) } ?? 0) + 1
                try await stream.send(retry: .milliseconds(10))
                // Two events per connection, then the response ends.
                for tick in first..<min(first + 2, 7) { try await stream.send(data: "\(tick)", id: "\(tick)") }
            }
        }
        try await app.test(.live) { client in
            var ids: [String] = []
            for try await event in EventSourceClient.events(from: "http://127.0.0.1:\(client.serverAddress!.port!)/ticks") {
                ids.append(event.lastEventID)
                if ids.count == 6 { break }
            }
            #expect(ids == ["1", "2", "3", "4", "5", "6"])
            #expect(requests.withLockedValue { Array($0.prefix(3)) } == [nil, "2", "4"])
        }
    }

    @Test func aWrongAnswerEndsTheClientWithAnError() async throws {
        let app = App()
        app.get("/plain") { _ in "not events" }
        try await app.test(.live) { client in
            let url = "http://127.0.0.1:\(client.serverAddress!.port!)/plain"
            await #expect(throws: EventSourceClient.Failure.notAnEventStream(status: 200, contentType: "text/plain; charset=utf-8")) {
                for try await _ in EventSourceClient.events(from: url) {}
            }
        }
    }
}
