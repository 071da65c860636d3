import FasterAPI
import FasterAPIWebSocket
import NIOConcurrencyHelpers

/// The real-time routes: a WebSocket echo, a chat with rooms, a resumable tick stream and a
/// broadcast event stream.
@Routes struct RealTimeAPI {
    /// Send `count` `tick` events, one every `interval_ms`, with ids 1…count.
    ///
    /// A client reconnecting with `Last-Event-ID: k` gets the ticks after `k`. With `close_after`
    /// each response ends after that many events (clients then reconnect and resume).
    @GET("/events/ticks", tags: ["events"])
    func ticks(
        @Query(ge: 0, le: 1_000_000) count: Int = 10, @Query("interval_ms", ge: 0, le: 60_000) intervalMs: Int = 100,
        @Query("close_after", ge: 1) closeAfter: Int? = nil, request: Request
    ) -> EventStream {
        EventStream(request: request) { stream in
            let first = (stream.lastEventID.flatMap { Int($0) } ?? 0) + 1
            try await stream.send(retry: .milliseconds(100))
            guard first <= count else { return }
            for (sent, tick) in (first...count).enumerated() {
                if let closeAfter, sent == closeAfter { return }
                if sent > 0 { try await Task.sleep(for: .milliseconds(intervalMs)) }
                try await stream.send(json: Tick(tick: tick), event: "tick", id: String(tick))
            }
        }
    }

    /// An idle event stream that receives every message posted to `POST /events/broadcast`.
    @GET("/events/broadcast", tags: ["events"])
    func subscribe(request: Request, @Depends broadcaster: Broadcaster) -> EventStream {
        // Subscribed before the response head leaves: a broadcast right after it is not missed.
        let messages = broadcaster.subscribe()
        return EventStream(request: request) { stream in
            for await message in messages { try await stream.send(data: message, event: "broadcast") }
        }
    }

    /// Send the body as one `broadcast` event to every open `GET /events/broadcast` stream.
    @POST("/events/broadcast", tags: ["events"])
    func broadcast(@Body message: BroadcastMessage, @Depends broadcaster: Broadcaster) -> Delivered {
        Delivered(delivered: broadcaster.publish(message.data))
    }
}

@Schema struct Tick: Codable, Sendable {
    var tick: Int
}

@Schema struct BroadcastMessage: Codable, Sendable {
    var data: String
}

@Schema struct Delivered: Codable, Sendable {
    var delivered: Int
}

/// Fans text out to the open broadcast streams; each keeps at most 64 unsent messages (the
/// oldest are dropped for a subscriber that is not keeping up).
final class Broadcaster: Sendable {
    private let subscribers = NIOLockedValueBox([Int: AsyncStream<String>.Continuation]())
    private let nextID = NIOLockedValueBox(0)

    /// A subscription: it ends (and is forgotten) when the stream is dropped or cancelled.
    func subscribe() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(64))
        let id = nextID.withLockedValue { id in
            id += 1
            return id
        }
        subscribers.withLockedValue { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLockedValue { $0.removeValue(forKey: id) }
        }
        return stream
    }

    func publish(_ message: String) -> Int {
        let targets = subscribers.withLockedValue { Array($0.values) }
        for continuation in targets { continuation.yield(message) }
        return targets.count
    }
}

/// The WebSocket routes.
func addWebSocketRoutes(to app: App, hub: WebSocketHub) {
    // Echoes every message; offers compression; selects the `echo` subprotocol if asked for.
    // A text message "close:CODE:REASON" makes the server close with that code and reason.
    app.websocket("/ws/echo", subprotocols: ["echo"]) { ws, _ in
        for try await message in ws.messages {
            if let text = message.text, text.hasPrefix("close:") {
                let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
                if parts.count == 3, let code = UInt16(parts[1]) {
                    try await ws.close(code: WebSocketCloseCode(rawValue: code), reason: String(parts[2]))
                    return
                }
            }
            try await ws.send(message)
        }
    }
    // A chat: every message is sent to the others in the room.
    app.websocket("/ws/chat/{room}") { ws, request in
        let room = try request.path("room")
        hub.join(ws, room: room)
        defer { hub.leave(ws, room: room) }
        for try await message in ws.messages { hub.broadcast(message, to: room, except: ws) }
    }
}
