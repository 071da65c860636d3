import Testing

@testable import FasterAPIWebSocket

/// The event-stream interpretation rules of the HTML standard, fed whole and split at every
/// byte.
struct ServerSentEventParserTests {
    /// Parses `text` in one piece and byte by byte; both must agree.
    static func parse(_ text: String) -> (events: [ServerSentEvent], parser: ServerSentEventParser) {
        var whole = ServerSentEventParser()
        let events = whole.feed(Array(text.utf8))
        var split = ServerSentEventParser()
        var splitEvents: [ServerSentEvent] = []
        for byte in text.utf8 { splitEvents += split.feed([byte]) }
        #expect(splitEvents == events, "split at every byte")
        #expect(split.lastEventID == whole.lastEventID && split.retry == whole.retry)
        return (events, whole)
    }

    @Test func fieldsMakeAnEvent() {
        let (events, parser) = Self.parse("event: tick\nid: 7\ndata: {\"n\": 1}\n\n")
        #expect(events == [ServerSentEvent(event: "tick", data: "{\"n\": 1}", lastEventID: "7")])
        #expect(parser.lastEventID == "7")
    }

    @Test func multiLineDataIsJoinedWithNewlines() {
        let (events, _) = Self.parse("data: first\ndata:second\ndata\ndata:  indented\n\n")
        #expect(events.map(\.data) == ["first\nsecond\n\n indented"])
    }

    @Test(arguments: ["\r\n", "\r", "\n"])
    func everyLineEndingWorks(_ end: String) {
        let (events, _) = Self.parse("data: a\(end)data: b\(end)\(end)data: c\(end)\(end)")
        #expect(events.map(\.data) == ["a\nb", "c"])
    }

    @Test func aCRLFSplitBetweenReadsIsOneLineEnd() {
        var parser = ServerSentEventParser()
        #expect(parser.feed(Array("data: a\r".utf8)).isEmpty)
        // The LF completes the CRLF; only the next blank line dispatches.
        #expect(parser.feed(Array("\n".utf8)).isEmpty)
        #expect(parser.feed(Array("\r\n".utf8)).map(\.data) == ["a"])
    }

    @Test func aLeadingByteOrderMarkIsSkippedOnce() {
        let (events, _) = Self.parse("\u{FEFF}data: x\n\n\u{FEFF}data: y\n\n")
        #expect(events.map(\.data) == ["x"])  // the second BOM makes the field name "\u{FEFF}data"
    }

    @Test func commentsAreKeptApartAndDispatchNothing() {
        var parsed = Self.parse(": heartbeat\n\n:\ndata: x\n\n")
        #expect(parsed.events.map(\.data) == ["x"])
        let comments = parsed.parser.takeComments()
        #expect(comments == [" heartbeat", ""])
        #expect(parsed.parser.comments.isEmpty)
    }

    @Test func anEventWithoutDataIsNotDispatchedAndResetsTheType() {
        let (events, _) = Self.parse("event: lonely\n\ndata: x\n\n")
        #expect(events == [ServerSentEvent(event: "message", data: "x")])
    }

    @Test func idPersistsAcrossEventsAndIgnoresNUL() {
        let (events, parser) = Self.parse("id: 1\ndata: a\n\ndata: b\n\nid: bad\u{0}id\ndata: c\n\nid\ndata: d\n\n")
        #expect(events.map(\.lastEventID) == ["1", "1", "1", ""])
        #expect(parser.lastEventID == "")
    }

    @Test func anIdCountsOnceItsEventIsDispatched() {
        var parser = ServerSentEventParser(lastEventID: "3")
        _ = parser.feed(Array("id: 4\ndata: four\n\nid: 5\ndata: fi".utf8))
        #expect(parser.lastEventID == "4")  // event 5 never arrived whole
        parser.startNewStream()
        #expect(parser.lastEventID == "4")
        #expect(parser.feed(Array("data: again\n\n".utf8)).map(\.lastEventID) == ["4"])
        // An event without data still moves the id on.
        _ = parser.feed(Array("id: 9\n\n".utf8))
        #expect(parser.lastEventID == "9")
    }

    @Test func retryCountsOnlyWhenAllDigits() {
        #expect(Self.parse("retry: 2500\n\n").parser.retry == 2500)
        #expect(Self.parse("retry: 2500\nretry: 12a\nretry: -1\nretry:\n\n").parser.retry == 2500)
        #expect(Self.parse("retry: 1.5\n\n").parser.retry == nil)
    }

    @Test func unknownFieldsAndAFieldWithoutColonAreIgnored() {
        let (events, _) = Self.parse("foo: bar\nevent\ndata: x\n\n")
        #expect(events == [ServerSentEvent(event: "message", data: "x")])
    }

    @Test func anUnfinishedEventIsNotDispatched() {
        #expect(Self.parse("data: never ends\n").events.isEmpty)
    }

    @Test func invalidUTF8BecomesReplacementCharacters() {
        var parser = ServerSentEventParser()
        let events = parser.feed(Array("data: ".utf8) + [0xFF] + Array("\n\n".utf8))
        #expect(events.map(\.data) == ["\u{FFFD}"])
    }
}
