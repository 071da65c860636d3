import FasterAPI
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// A Server-Sent Events response (`text/event-stream`): `produce` sends events until it returns;
/// the response ends then. The stream is never compressed or buffered on the way, carries a
/// heartbeat comment at a set interval so proxies keep it open, and when the client goes away
/// the producer's task is cancelled (a `send` then throws).
///
/// ```swift
/// app.get("/events") { request in
///     EventStream(request: request) { stream in
///         for await tick in ticks { try await stream.send(json: tick, event: "tick") }
///     }
/// }
/// ```
/// With a ``EventReplayBuffer``, events are kept (with their ids) and a client reconnecting
/// with `Last-Event-ID` first gets the events it missed.
public struct EventStream: ResponseConvertible {
    let lastEventID: String?
    let heartbeat: Duration?
    let replay: EventReplayBuffer?
    let produce: @Sendable (EventStreamWriter) async throws -> Void

    /// A stream answering `request` (its `Last-Event-ID` is read), with a heartbeat comment
    /// every `heartbeat` (nil for none).
    public init(
        request: Request, heartbeat: Duration? = .seconds(15), replay: EventReplayBuffer? = nil,
        _ produce: @escaping @Sendable (EventStreamWriter) async throws -> Void
    ) {
        self.lastEventID = request.headers["last-event-id"]
        self.heartbeat = heartbeat
        self.replay = replay
        self.produce = produce
    }

    /// The streamed `200` response.
    public func response(for request: Request) async throws -> Response {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/event-stream; charset=utf-8")
        headers.add(name: "Cache-Control", value: "no-cache")
        // Tells nginx-style proxies not to buffer (the compression middleware leaves event streams alone).
        headers.add(name: "X-Accel-Buffering", value: "no")
        let (lastEventID, heartbeat, replay, produce) = (lastEventID, heartbeat, replay, produce)
        return Response(
            headers: headers,
            body: ResponseBody { body in
                let writer = EventStreamWriter(body: body, lastEventID: lastEventID, replay: replay)
                if let replay, let lastEventID {
                    for event in replay.events(after: lastEventID) { try await writer.write(event) }
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    if let heartbeat {
                        group.addTask {
                            while true {
                                try await Task.sleep(for: heartbeat)
                                try await writer.comment("ping")
                            }
                        }
                    }
                    try await produce(writer)
                    group.cancelAll()
                }
            })
    }
}

/// What an ``EventStream``'s producer sends through. Sends are written in order, each event
/// whole; a send waits while the client is not reading.
public actor EventStreamWriter {
    private let body: ResponseBodyWriter
    private let replay: EventReplayBuffer?
    /// The `Last-Event-ID` the client reconnected with, if any: where to resume.
    public nonisolated let lastEventID: String?

    init(body: ResponseBodyWriter, lastEventID: String?, replay: EventReplayBuffer?) {
        self.body = body
        self.lastEventID = lastEventID
        self.replay = replay
    }

    /// Sends an event: `data` (several lines become several `data:` fields), with an optional
    /// event name, id and reconnection delay.
    public func send(data: String, event: String? = nil, id: String? = nil, retry: Duration? = nil) async throws {
        if let replay, let id { replay.append(ServerSentEvent(event: event ?? "message", data: data, lastEventID: id)) }
        try await body.write(ServerSentEventEncoder.encode(data: data, event: event, id: id, retry: retry))
    }

    /// Sends `value` as the event's JSON data.
    public func send<T: Encodable>(json value: T, event: String? = nil, id: String? = nil) async throws {
        let data = try JSONEncoder().encode(value)
        try await send(data: String(decoding: data, as: UTF8.self), event: event, id: id)
    }

    /// Sends only a reconnection delay (the client waits this long before reconnecting).
    public func send(retry: Duration) async throws {
        try await body.write(ServerSentEventEncoder.retry(retry))
    }

    /// Sends a comment line (ignored by clients; keeps idle connections alive).
    public func comment(_ text: String) async throws {
        try await body.write(ServerSentEventEncoder.comment(text))
    }

    /// Sends a replayed event again.
    func write(_ event: ServerSentEvent) async throws {
        try await body.write(
            ServerSentEventEncoder.encode(
                data: event.data, event: event.event == "message" ? nil : event.event,
                id: event.lastEventID.isEmpty ? nil : event.lastEventID, retry: nil))
    }
}

/// Writes events in the `text/event-stream` format.
enum ServerSentEventEncoder {
    /// An event's fields and the blank line that dispatches it. Line breaks in `data` (CR, LF or
    /// CRLF) split it into several `data:` fields; CR and LF are dropped from the name and id,
    /// which cannot carry them, and an id with NUL is left out (clients would ignore it).
    static func encode(data: String, event: String?, id: String?, retry: Duration?) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(data.utf8.count + 64)
        if let retry {
            var line = Self.retry(retry)
            line.moveWriterIndex(to: line.writerIndex - 1)  // one field of this event, not a block of its own
            buffer.writeBuffer(&line)
        }
        if let id, !id.contains("\0") {
            buffer.writeStaticString("id: ")
            buffer.writeString(singleLine(id))
            buffer.writeStaticString("\n")
        }
        if let name = event {
            buffer.writeStaticString("event: ")
            buffer.writeString(singleLine(name))
            buffer.writeStaticString("\n")
        }
        var line = Substring(data)
        while true {
            let end = line.firstIndex { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
            buffer.writeStaticString("data: ")
            buffer.writeSubstring(end.map { line[..<$0] } ?? line)
            buffer.writeStaticString("\n")
            guard let end else { break }
            line = line[line.index(after: end)...]
        }
        buffer.writeStaticString("\n")
        return buffer
    }

    static func retry(_ delay: Duration) -> ByteBuffer {
        let milliseconds = delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000
        return ByteBuffer(string: "retry: \(max(0, milliseconds))\n\n")
    }

    static func comment(_ text: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            buffer.writeStaticString(": ")
            buffer.writeSubstring(line)
            buffer.writeStaticString("\n")
        }
        buffer.writeStaticString("\n")
        return buffer
    }

    private static func singleLine(_ text: String) -> String {
        text.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" })
            ? text.filter { $0 != "\n" && $0 != "\r" && $0 != "\r\n" } : text
    }
}

/// The last events sent (with ids), so a client reconnecting with `Last-Event-ID` can be sent
/// what it missed; bounded: the oldest events are dropped first. Share one between the streams
/// of one event source.
public final class EventReplayBuffer: Sendable {
    private let capacity: Int
    private let events = NIOLockedValueBox([ServerSentEvent]())

    /// A buffer keeping at most `capacity` events.
    public init(capacity: Int = 256) {
        precondition(capacity > 0, "capacity must be positive")
        self.capacity = capacity
    }

    /// Keeps `event` (it should have an id, unique to it). The streams sharing the buffer each
    /// append what they send; an event already kept (the newest with the same id) is not kept twice.
    public func append(_ event: ServerSentEvent) {
        events.withLockedValue { events in
            if let newest = events.last, newest.lastEventID == event.lastEventID { return }
            if events.count == capacity { events.removeFirst() }
            events.append(event)
        }
    }

    /// The events after the one with `id`, oldest first; all kept events if `id` is no longer
    /// (or never was) in the buffer.
    public func events(after id: String) -> [ServerSentEvent] {
        events.withLockedValue { events in
            guard let index = events.lastIndex(where: { $0.lastEventID == id }) else { return events }
            return Array(events[(index + 1)...])
        }
    }
}
