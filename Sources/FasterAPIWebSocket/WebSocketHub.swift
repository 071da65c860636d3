import NIOConcurrencyHelpers

/// Rooms of WebSockets and fan-out to them: ``broadcast(_:to:except:)`` queues the message on
/// every member without waiting for any of them, so one slow peer never holds up the rest; a
/// peer that falls more than `maxQueuedBytes` behind is closed (1008) rather than buffered
/// without bound.
///
/// ```swift
/// let hub = WebSocketHub()
/// app.websocket("/ws/chat/{room}") { ws, request in
///     let room = try request.path("room")
///     hub.join(ws, room: room)
///     defer { hub.leave(ws, room: room) }
///     for try await message in ws.messages { hub.broadcast(message, to: room) }
/// }
/// ```
public final class WebSocketHub: Sendable {
    private let rooms = NIOLockedValueBox([String: [ObjectIdentifier: WebSocket]]())
    /// How far (in bytes of unsent messages) a member may fall behind before it is closed.
    public let maxQueuedBytes: Int

    /// A hub closing members that fall more than `maxQueuedBytes` behind.
    public init(maxQueuedBytes: Int = 1 << 20) { self.maxQueuedBytes = maxQueuedBytes }

    /// Adds `socket` to `room` (nothing if it is already there).
    public func join(_ socket: WebSocket, room: String) {
        rooms.withLockedValue { $0[room, default: [:]][ObjectIdentifier(socket)] = socket }
    }

    /// Removes `socket` from `room`.
    public func leave(_ socket: WebSocket, room: String) {
        rooms.withLockedValue { Self.remove(socket, from: room, in: &$0) }
    }

    /// Removes `socket` from every room.
    public func leaveAll(_ socket: WebSocket) {
        rooms.withLockedValue { rooms in
            for room in Array(rooms.keys) { Self.remove(socket, from: room, in: &rooms) }
        }
    }

    /// Takes `socket` out of `room`, and the room away once it is empty.
    private static func remove(_ socket: WebSocket, from room: String, in rooms: inout [String: [ObjectIdentifier: WebSocket]]) {
        rooms[room]?[ObjectIdentifier(socket)] = nil
        if rooms[room]?.isEmpty == true { rooms[room] = nil }
    }

    /// The number of members of `room`.
    public func count(in room: String) -> Int {
        rooms.withLockedValue { $0[room]?.count ?? 0 }
    }

    /// Queues `message` on every member of `room` but `except`; returns how many it was queued on.
    @discardableResult
    public func broadcast(_ message: WebSocketMessage, to room: String, except: WebSocket? = nil) -> Int {
        let members = rooms.withLockedValue { $0[room].map { Array($0.values) } ?? [] }
        var count = 0
        for member in members where member !== except {
            member.enqueue(message, limit: maxQueuedBytes)
            count += 1
        }
        return count
    }
}
