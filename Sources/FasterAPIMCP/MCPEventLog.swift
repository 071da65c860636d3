import FasterAPI

/// What a Streamable HTTP session sent on its event streams, kept so a client that lost a
/// stream can resume it with `Last-Event-ID`. Stream 0 is the session's standalone stream (its
/// `GET`); every `POST` answered as a stream gets a number of its own. Event ids count up
/// across the session; at least the last `capacity` events are kept (the oldest are
/// forgotten in batches).
struct MCPEventLog {
    /// One event: a message, or (nil) the end of a `POST`'s stream.
    struct Event: Sendable, Equatable {
        let id: Int
        let stream: Int
        let message: JSONRPCMessage?
    }

    /// Where a resumed stream starts: the events after the last one seen, whether the stream
    /// has already ended, and which stream it is.
    struct Resumption: Equatable {
        let stream: Int
        let replay: [Event]
        let ended: Bool
    }

    let capacity: Int
    private(set) var events: [Event] = []
    private var nextEventID = 1
    private var nextStream = 1

    init(capacity: Int = 512) { self.capacity = capacity }

    /// A number for a new `POST` stream.
    mutating func openStream() -> Int {
        defer { nextStream += 1 }
        return nextStream
    }

    /// Records `message` (nil: the end) on `stream`.
    mutating func append(_ message: JSONRPCMessage?, to stream: Int) -> Event {
        let event = Event(id: nextEventID, stream: stream, message: message)
        nextEventID += 1
        events.append(event)
        // Trimmed in batches, so an append costs O(1) on average.
        if events.count >= 2 * capacity { events.removeFirst(events.count - capacity) }
        return event
    }

    /// Where to resume after event `lastEventID`: the rest of its stream. An id not (or no
    /// longer) in the log resumes the standalone stream with nothing to replay.
    func resume(after lastEventID: String?) -> Resumption {
        guard let lastEventID, let id = Int(lastEventID), let seen = events.first(where: { $0.id == id }) else {
            return Resumption(stream: 0, replay: [], ended: false)
        }
        let replay = events.filter { $0.id > id && $0.stream == seen.stream }
        return Resumption(
            stream: seen.stream, replay: replay.filter { $0.message != nil }, ended: replay.contains { $0.message == nil })
    }
}
