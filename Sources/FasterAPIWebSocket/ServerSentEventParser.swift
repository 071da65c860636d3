/// One event read from a `text/event-stream`.
public struct ServerSentEvent: Sendable, Equatable {
    /// The event type; `message` when the stream named none.
    public var event: String
    /// The data lines, joined with newlines.
    public var data: String
    /// The last event ID in force when the event was dispatched (empty if none was ever set):
    /// what a client sends back as `Last-Event-ID` to resume.
    public var lastEventID: String

    /// An event from its parts.
    public init(event: String = "message", data: String, lastEventID: String = "") {
        self.event = event
        self.data = data
        self.lastEventID = lastEventID
    }
}

/// Reads Server-Sent Events incrementally, as the HTML standard's event-stream interpretation
/// says: lines end with CRLF, LF or CR (also when a CRLF is split between reads), a leading
/// byte-order mark is skipped, `:` starts a comment, a field without a colon has an empty
/// value, one space after the colon is dropped, `id` values with NUL are ignored, `retry`
/// counts only when it is all ASCII digits, and an event without data is not dispatched.
public struct ServerSentEventParser: Sendable {
    /// The reconnection time in milliseconds, once a valid `retry` field has been read.
    public private(set) var retry: Int?
    /// The last event ID: the id in force at the last dispatched event (WHATWG's "last event ID
    /// string"), what a reconnecting client sends back as `Last-Event-ID`.
    public private(set) var lastEventID = ""
    /// The last event ID buffer: set by `id` fields, committed to ``lastEventID`` at each blank line.
    private var idBuffer = ""
    /// Comments read since the last call to ``takeComments()`` (heartbeats look like this).
    public private(set) var comments: [String] = []

    private var line: [UInt8] = []
    private var afterCR = false
    /// Bytes of a leading byte-order mark matched so far; nil once past the stream's start.
    private var bomMatched: Int? = 0
    private var eventType = ""
    private var data = ""
    private var hasData = false

    /// A parser at the start of a stream; `lastEventID` carries over an ID from an earlier stream.
    public init(lastEventID: String = "") {
        self.lastEventID = lastEventID
        self.idBuffer = lastEventID
    }

    /// Resets for a new response after a reconnect (as WHATWG's `EventSource` does): the
    /// partial line and event are dropped, with an id read for an event never dispatched; the
    /// last event ID and the retry time are kept.
    public mutating func startNewStream() {
        idBuffer = lastEventID
        line.removeAll()
        afterCR = false
        bomMatched = 0
        eventType = ""
        data = ""
        hasData = false
        comments.removeAll()
    }

    /// Reads `bytes` and returns the events they complete, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if let matched = bomMatched {
                let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
                if byte == bom[matched] {
                    bomMatched = matched + 1 == bom.count ? nil : matched + 1
                    continue
                }
                bomMatched = nil
                line.append(contentsOf: bom[..<matched])  // not a BOM after all: those bytes are text
            }
            switch byte {
            case UInt8(ascii: "\n") where afterCR:
                afterCR = false  // the LF of a CRLF whose CR ended the line already
            case UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                afterCR = byte == UInt8(ascii: "\r")
                if let event = endLine() { events.append(event) }
            default:
                afterCR = false
                line.append(byte)
            }
        }
        return events
    }

    /// Returns and clears the comments read so far.
    public mutating func takeComments() -> [String] {
        defer { comments = [] }
        return comments
    }

    /// Handles a complete line; returns an event if the line was the blank one that ends it.
    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        guard !line.isEmpty else { return dispatch() }
        if line[0] == UInt8(ascii: ":") {
            comments.append(String(decoding: line.dropFirst(), as: UTF8.self))
            return nil
        }
        let field: String
        let value: Substring
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = String(decoding: line[..<colon], as: UTF8.self)
            var valueStart = colon + 1
            if valueStart < line.count && line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
            value = Substring(String(decoding: line[valueStart...], as: UTF8.self))
        } else {
            field = String(decoding: line, as: UTF8.self)
            value = ""
        }
        switch field {
        case "event":
            eventType = String(value)
        case "data":
            if hasData { data.append("\n") }
            data.append(contentsOf: value)
            hasData = true
        case "id":
            if !value.contains("\0") { idBuffer = String(value) }
        case "retry":
            if !value.isEmpty, value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
                retry = Int(value) ?? Int.max
            }
        default:
            break
        }
        return nil
    }

    /// The blank line: the id buffer becomes the last event ID (even for an event without
    /// data); the buffered event goes out if it has data; the buffers reset.
    private mutating func dispatch() -> ServerSentEvent? {
        lastEventID = idBuffer
        defer {
            eventType = ""
            data = ""
            hasData = false
        }
        guard hasData else { return nil }
        return ServerSentEvent(event: eventType.isEmpty ? "message" : eventType, data: data, lastEventID: lastEventID)
    }
}
