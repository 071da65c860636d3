import NIOCore
import Testing

@testable import FasterAPICore

// Unit tests for `HTTP1Parser` (RFC 9112 request parsing), driven purely through byte buffers.
//
// The harness feeds byte arrays to one parser the way the connection handler does: append the
// new bytes to the unread buffer, then call `next` until it returns nil. Events are flattened
// into plain values (consecutive body slices merged) so whole runs compare with `==`.

// MARK: - Harness

/// A request head reduced to comparable values.
struct H1PHead: Equatable, CustomStringConvertible {
    var method: String
    var target: String
    var version: HTTPVersion
    /// `[name, value]` pairs in wire order, names as sent.
    var headers: [[String]]
    var framing: HTTP1BodyFraming
    var keepAlive: Bool
    var expectContinue: Bool

    var description: String {
        "\(method) \(target) \(version) \(headers) \(framing) keepAlive=\(keepAlive) expectContinue=\(expectContinue)"
    }
}

/// One parser event reduced to comparable values.
enum H1PEvent: Equatable, CustomStringConvertible {
    case head(H1PHead)
    case body([UInt8])
    case end

    var description: String {
        switch self {
        case .head(let head): "head(\(head))"
        case .body(let bytes): "body(\(String(decoding: bytes, as: UTF8.self).debugDescription))"
        case .end: "end"
        }
    }
}

/// Everything one run of the parser produced.
struct H1POutcome: Equatable, CustomStringConvertible {
    var events: [H1PEvent] = []
    var error: HTTPParseError? = nil
    /// Bytes still unread in the buffer after the last feed (empty after an error).
    var leftover: [UInt8] = []

    var heads: [H1PHead] {
        events.compactMap { if case .head(let head) = $0 { head } else { nil } }
    }
    /// All body bytes, concatenated.
    var body: [UInt8] {
        var result: [UInt8] = []
        for case .body(let bytes) in events { result += bytes }
        return result
    }
    var bodyString: String { String(decoding: body, as: UTF8.self) }
    /// The status of the parse error, if any.
    var status: Int? { error?.status.code }
    /// A compact shape: H = head, B = body, E = end, then `!code` for an error.
    var signature: String {
        var parts = events.map {
            switch $0 {
            case .head: "H"
            case .body: "B"
            case .end: "E"
            }
        }
        if let error { parts.append("!\(error.status.code)") }
        return parts.joined(separator: " ")
    }

    var description: String {
        "events: \(events), error: \(error.map { "\($0)" } ?? "none"), leftover: \(leftover.count) bytes"
    }
}

enum H1P {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static func flatten(_ head: HTTPRequestHead, _ framing: HTTP1BodyFraming, _ keepAlive: Bool, _ expectContinue: Bool)
        -> H1PHead
    {
        H1PHead(
            method: head.method.rawValue, target: head.target, version: head.version,
            headers: head.headers.map { [$0.name, $0.value] }, framing: framing, keepAlive: keepAlive,
            expectContinue: expectContinue)
    }

    /// Feeds `feeds` one after another to a fresh parser, draining events after each.
    static func run(_ feeds: [[UInt8]], limits: HTTP1ParserLimits = HTTP1ParserLimits(), mergeBodies: Bool = true)
        -> H1POutcome
    {
        var parser = HTTP1Parser(limits: limits)
        var buffer = ByteBuffer()
        var outcome = H1POutcome()
        func append(_ event: HTTP1ParserEvent) {
            switch event {
            case .head(let head, let framing, let keepAlive, let expectContinue):
                outcome.events.append(.head(flatten(head, framing, keepAlive, expectContinue)))
            case .body(let slice):
                let bytes = Array(slice.readableBytesView)
                if mergeBodies, case .body(let previous)? = outcome.events.last {
                    outcome.events[outcome.events.count - 1] = .body(previous + bytes)
                } else {
                    outcome.events.append(.body(bytes))
                }
            case .end:
                outcome.events.append(.end)
            }
        }
        do throws(HTTPParseError) {
            for feed in feeds {
                buffer.writeBytes(feed)
                var steps = 0
                while let event = try parser.next(&buffer) {
                    append(event)
                    steps += 1
                    if steps > 100_000 {
                        Issue.record("parser keeps returning events without consuming input")
                        break
                    }
                }
            }
        } catch {
            // After an error the connection closes: what was left unread is not part of the outcome.
            outcome.error = error
            return outcome
        }
        outcome.leftover = Array(buffer.readableBytesView)
        return outcome
    }

    static func whole(_ bytes: [UInt8], limits: HTTP1ParserLimits = HTTP1ParserLimits()) -> H1POutcome {
        run([bytes], limits: limits)
    }

    static func whole(_ text: String, limits: HTTP1ParserLimits = HTTP1ParserLimits()) -> H1POutcome {
        run([bytes(text)], limits: limits)
    }

    static func byteByByte(_ bytes: [UInt8], limits: HTTP1ParserLimits = HTTP1ParserLimits()) -> H1POutcome {
        run(bytes.map { [$0] }, limits: limits)
    }

    static func split(_ bytes: [UInt8], at index: Int, limits: HTTP1ParserLimits = HTTP1ParserLimits()) -> H1POutcome {
        run([Array(bytes[..<index]), Array(bytes[index...])], limits: limits)
    }

    static func limits(
        requestLine: Int? = nil, headBytes: Int? = nil, headerCount: Int? = nil, chunkLine: Int? = nil
    ) -> HTTP1ParserLimits {
        var limits = HTTP1ParserLimits()
        if let requestLine { limits.maxRequestLineLength = requestLine }
        if let headBytes { limits.maxHeadBytes = headBytes }
        if let headerCount { limits.maxHeaderCount = headerCount }
        if let chunkLine { limits.maxChunkLineLength = chunkLine }
        return limits
    }

    static let chunkedHead = "POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
}

/// A named wire input for parameterized tests.
struct H1PCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    /// The expected `H1POutcome.signature` of a single-feed run (for invariance fixtures), or
    /// the expected status code (for error tables).
    let expected: String
    let limits: HTTP1ParserLimits

    init(_ name: String, _ text: String, _ expected: String, limits: HTTP1ParserLimits = HTTP1ParserLimits()) {
        self.init(name, H1P.bytes(text), expected, limits: limits)
    }

    init(_ name: String, _ bytes: [UInt8], _ expected: String, limits: HTTP1ParserLimits = HTTP1ParserLimits()) {
        self.name = name
        self.bytes = bytes
        self.expected = expected
        self.limits = limits
    }

    var testDescription: String { name }
}

// MARK: - Valid requests

@Suite("HTTP1Parser: valid requests")
struct HTTP1ParserValidRequestTests {
    @Test func getWithHeaders() {
        let outcome = H1P.whole(
            "GET /path/to?q=1&r=%20 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test/1.0\r\nAccept: */*\r\n"
                + "X-Mixed-Case: Value\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.leftover.isEmpty)
        #expect(outcome.signature == "H")
        let head = outcome.heads.first
        #expect(head?.method == "GET")
        #expect(head?.target == "/path/to?q=1&r=%20")
        #expect(head?.version == .http1_1)
        #expect(
            head?.headers == [
                ["Host", "example.com"], ["User-Agent", "test/1.0"], ["Accept", "*/*"], ["X-Mixed-Case", "Value"],
            ])
        #expect(head?.framing == HTTP1BodyFraming.none)
        #expect(head?.keepAlive == true)
        #expect(head?.expectContinue == false)
    }

    @Test func parsedHeadersAreCaseInsensitiveAndKeepWireBytes() throws {
        var parser = HTTP1Parser()
        let wireFields = "Host: a.example\r\nX-Token: one\r\nx-token:  two \r\nContent-Type: text/plain\r\n"
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\n" + wireFields + "\r\n")
        guard case .head(let head, _, _, _)? = try parser.next(&buffer) else {
            Issue.record("no head")
            return
        }
        #expect(head.method == .get)
        #expect(head.headers.count == 4)
        #expect(head.headers["HOST"] == "a.example")
        #expect(head.headers["content-type"] == "text/plain")
        #expect(head.headers.values(for: "X-TOKEN") == ["one", "two"])
        #expect(head.headers.name(at: 2) == "x-token")
        var out = ByteBuffer()
        head.headers.write(to: &out)
        #expect(String(buffer: out) == wireFields)
    }

    @Test func noBodyMeansNoEndEvent() {
        let outcome = H1P.whole("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(outcome.signature == "H")
        let zeroLength = H1P.whole("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
        #expect(zeroLength.signature == "H")
        #expect(zeroLength.heads.first?.framing == HTTP1BodyFraming.none)
    }

    struct KeepAliveCase: Sendable, CustomTestStringConvertible {
        let version: String
        let connection: [String]
        let keepAlive: Bool
        var testDescription: String { "\(version) Connection: \(connection) → keepAlive \(keepAlive)" }
    }

    static let keepAliveCases: [KeepAliveCase] = [
        KeepAliveCase(version: "HTTP/1.0", connection: [], keepAlive: false),
        KeepAliveCase(version: "HTTP/1.0", connection: ["keep-alive"], keepAlive: true),
        KeepAliveCase(version: "HTTP/1.0", connection: ["Keep-Alive"], keepAlive: true),
        KeepAliveCase(version: "HTTP/1.0", connection: ["foo, keep-alive"], keepAlive: true),
        KeepAliveCase(version: "HTTP/1.0", connection: ["keep-alive, close"], keepAlive: false),
        KeepAliveCase(version: "HTTP/1.0", connection: ["keep-alive", "close"], keepAlive: false),
        KeepAliveCase(version: "HTTP/1.0", connection: ["close"], keepAlive: false),
        KeepAliveCase(version: "HTTP/1.0", connection: ["keep-alived"], keepAlive: false),
        KeepAliveCase(version: "HTTP/1.1", connection: [], keepAlive: true),
        KeepAliveCase(version: "HTTP/1.1", connection: ["keep-alive"], keepAlive: true),
        KeepAliveCase(version: "HTTP/1.1", connection: ["close"], keepAlive: false),
        KeepAliveCase(version: "HTTP/1.1", connection: ["CLOSE"], keepAlive: false),
        KeepAliveCase(version: "HTTP/1.1", connection: ["Upgrade,\tclose "], keepAlive: false),
        KeepAliveCase(version: "HTTP/1.1", connection: ["upgrade", "close"], keepAlive: false),
        KeepAliveCase(version: "HTTP/1.1", connection: ["closed"], keepAlive: true),
        KeepAliveCase(version: "HTTP/1.1", connection: ["clo se"], keepAlive: true),
    ]

    @Test(arguments: keepAliveCases)
    func keepAliveFollowsVersionAndConnection(_ testCase: KeepAliveCase) {
        var text = "GET / \(testCase.version)\r\nHost: a\r\n"
        for value in testCase.connection { text += "Connection: \(value)\r\n" }
        text += "\r\n"
        let outcome = H1P.whole(text)
        #expect(outcome.error == nil)
        #expect(outcome.heads.count == 1)
        #expect(outcome.heads.first?.keepAlive == testCase.keepAlive)
    }

    @Test func http10WithoutHostIsAccepted() {
        let outcome = H1P.whole("GET /old HTTP/1.0\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.heads.first?.version == .http1_0)
        #expect(outcome.heads.first?.headers == [])
        #expect(outcome.heads.first?.keepAlive == false)
    }

    @Test func leadingEmptyLinesBeforeRequestLineAreIgnored() {
        let outcome = H1P.whole("\r\n\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.signature == "H")
        #expect(outcome.heads.first?.target == "/x")
        #expect(outcome.leftover.isEmpty)
    }

    @Test func headerValueOptionalWhitespaceIsTrimmed() {
        let outcome = H1P.whole(
            "GET / HTTP/1.1\r\nHost:a\r\nX-A:   value with  inner\tspaces \t \r\nX-B:\tv\t\r\nX-Empty:\r\n"
                + "X-Blank: \t  \r\n\r\n")
        #expect(outcome.error == nil)
        #expect(
            outcome.heads.first?.headers == [
                ["Host", "a"], ["X-A", "value with  inner\tspaces"], ["X-B", "v"], ["X-Empty", ""], ["X-Blank", ""],
            ])
    }

    @Test func obsTextBytesInValuesAreKept() throws {
        // "café" in UTF-8 plus raw 0x80 and 0xFF: obs-text (RFC 9110 §5.5), allowed in values.
        let line =
            H1P.bytes("X-Name: caf") + [0xC3, 0xA9] + H1P.bytes("\r\nX-Raw: a") + [0x80, 0xFF] + H1P.bytes("b\r\n")
        let request = H1P.bytes("GET / HTTP/1.1\r\nHost: a\r\n") + line + H1P.bytes("\r\n")
        var parser = HTTP1Parser()
        var buffer = ByteBuffer(bytes: request)
        guard case .head(let head, _, _, _)? = try parser.next(&buffer) else {
            Issue.record("no head")
            return
        }
        #expect(head.headers["x-name"] == "café")
        var out = ByteBuffer()
        head.headers.write(to: &out)
        #expect(Array(out.readableBytesView) == H1P.bytes("Host: a\r\n") + line)
    }

    @Test func manyHeadersUpToTheLimit() {
        var text = "GET / HTTP/1.1\r\nHost: a\r\n"
        for n in 1..<100 { text += "X-Header-\(n): value-\(n)\r\n" }
        text += "\r\n"
        let outcome = H1P.whole(text)
        #expect(outcome.error == nil)
        let headers = outcome.heads.first?.headers ?? []
        #expect(headers.count == 100)
        #expect(headers.first == ["Host", "a"])
        #expect(headers[1] == ["X-Header-1", "value-1"])
        #expect(headers.last == ["X-Header-99", "value-99"])
    }

    @Test func headerCountExactlyAtCustomLimitIsAccepted() {
        let outcome = H1P.whole(
            "GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\n\r\n", limits: H1P.limits(headerCount: 4))
        #expect(outcome.error == nil)
        #expect(outcome.heads.first?.headers.count == 4)
    }

    @Test func requestTargetForms() {
        let absolute = H1P.whole("GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\n\r\n")
        #expect(absolute.error == nil)
        #expect(absolute.heads.first?.target == "http://example.com:8080/a/b?c=d")
        let asterisk = H1P.whole("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(asterisk.heads.first?.method == "OPTIONS")
        #expect(asterisk.heads.first?.target == "*")
        let authority = H1P.whole("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        #expect(authority.heads.first?.method == "CONNECT")
        #expect(authority.heads.first?.target == "example.com:443")
    }

    @Test(arguments: [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "M-SEARCH", "PROPFIND",
        "get", "Post", "!#$%&'*+-.^_`|~09azAZ",
    ])
    func methodTokensAreKeptAsSent(_ method: String) throws {
        var parser = HTTP1Parser()
        var buffer = ByteBuffer(string: "\(method) / HTTP/1.1\r\nHost: a\r\n\r\n")
        guard case .head(let head, _, _, _)? = try parser.next(&buffer) else {
            Issue.record("no head")
            return
        }
        #expect(head.method.rawValue == method)
        #expect(head.method == HTTPMethod(method))
        // Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET.
        if method == "get" { #expect(head.method != .get) }
        if method == "GET" { #expect(head.method == .get) }
    }

    @Test func messageBoundaryTracking() throws {
        var parser = HTTP1Parser()
        #expect(parser.isAtMessageBoundary)
        var buffer = ByteBuffer(string: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nab")
        guard case .head? = try parser.next(&buffer) else {
            Issue.record("no head")
            return
        }
        #expect(!parser.isAtMessageBoundary)
        guard case .body(let slice)? = try parser.next(&buffer) else {
            Issue.record("no body")
            return
        }
        #expect(String(buffer: slice) == "ab")
        #expect(try parser.next(&buffer) == nil)
        #expect(!parser.isAtMessageBoundary)
        buffer.writeString("cGET")
        guard case .body(let rest)? = try parser.next(&buffer) else {
            Issue.record("no second body")
            return
        }
        #expect(String(buffer: rest) == "c")
        guard case .end? = try parser.next(&buffer) else {
            Issue.record("no end")
            return
        }
        #expect(parser.isAtMessageBoundary)
        #expect(try parser.next(&buffer) == nil)
        #expect(!parser.isAtMessageBoundary)
        #expect(String(buffer: buffer) == "GET")
    }

    /// A read that brings no bytes (or a drain call after a complete request) must not make the
    /// parser believe a request has started: the connection handler uses `isAtMessageBoundary` to
    /// choose the idle timeout over the (shorter) head timeout and to close idle connections at
    /// once on graceful shutdown.
    @Test func drainingAnEmptyBufferKeepsTheMessageBoundary() throws {
        var parser = HTTP1Parser()
        var empty = ByteBuffer()
        #expect(try parser.next(&empty) == nil)
        #expect(parser.isAtMessageBoundary, "a fresh parser given no bytes is still between requests")

        var parser2 = HTTP1Parser()
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        guard case .head? = try parser2.next(&buffer) else {
            Issue.record("no head")
            return
        }
        #expect(parser2.isAtMessageBoundary)
        #expect(try parser2.next(&buffer) == nil)
        #expect(parser2.isAtMessageBoundary, "after a complete request and no further bytes")
    }
}

// MARK: - Bodies

@Suite("HTTP1Parser: bodies")
struct HTTP1ParserBodyTests {
    @Test func fixedLengthBody() {
        let outcome = H1P.whole("POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world")
        #expect(outcome.error == nil)
        #expect(outcome.signature == "H B E")
        #expect(outcome.heads.first?.framing == .length(11))
        #expect(outcome.bodyString == "hello world")
        #expect(outcome.leftover.isEmpty)
    }

    @Test func fixedLengthBodyArrivingInPiecesIsSliced() {
        let head = H1P.bytes("PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n")
        let outcome = H1P.run([head + H1P.bytes("he"), H1P.bytes("l"), H1P.bytes("loEXTRA")], mergeBodies: false)
        #expect(outcome.error == nil)
        #expect(outcome.signature == "H B B B E")
        #expect(
            Array(outcome.events.dropFirst()) == [
                .body(H1P.bytes("he")), .body(H1P.bytes("l")), .body(H1P.bytes("lo")), .end,
            ])
        // The bytes after the body belong to the next request and are left unread.
        #expect(outcome.leftover == H1P.bytes("EXTRA"))
    }

    @Test func bodyBytesAreNotConfusedWithAHead() {
        let body = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        let outcome = H1P.whole("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
        #expect(outcome.signature == "H B E")
        #expect(outcome.bodyString == body)
    }

    @Test(arguments: [
        ("5, 5", 5), ("5,5", 5), ("7,\t7, 7", 7), ("  5  ", 5), ("005", 5), ("0", 0),
        ("999999999999999999", 999_999_999_999_999_999),
    ])
    func contentLengthForms(_ value: String, _ length: Int) {
        let outcome = H1P.whole("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(value)\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.heads.first?.framing == (length == 0 ? HTTP1BodyFraming.none : .length(length)))
    }

    @Test func identicalContentLengthFieldsAreAccepted() {
        let outcome = H1P.whole("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc")
        #expect(outcome.error == nil)
        #expect(outcome.signature == "H B E")
        #expect(outcome.heads.first?.framing == .length(3))
        #expect(outcome.bodyString == "abc")
    }

    @Test func chunkedBodyWithExtensionsAndTrailers() {
        let outcome = H1P.whole(
            H1P.chunkedHead
                + "5\r\nhello\r\n"
                + "6;name=value;q=\"a \\\"quoted\\\" ; v\\\\al=ue\"\r\n world\r\n"
                + "A ; bws = token ;flag\r\n0123456789\r\n"
                + "1;e=\"\"\r\n!\r\n"
                + "0;last=yes\r\nX-Checksum: abc\r\nX-Other:\t1 \r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.signature == "H B E")
        #expect(outcome.heads.first?.framing == .chunked)
        #expect(outcome.bodyString == "hello world0123456789!")
        #expect(outcome.leftover.isEmpty)
    }

    @Test func chunkedBodyKeepsChunkBoundariesAsSlices() {
        let outcome = H1P.run([H1P.bytes(H1P.chunkedHead + "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")], mergeBodies: false)
        #expect(Array(outcome.events.dropFirst()) == [.body(H1P.bytes("abc")), .body(H1P.bytes("de")), .end])
    }

    @Test func chunkSizesAreHexadecimal() {
        let payload = String(repeating: "x", count: 0x1f)
        let upper = H1P.whole(H1P.chunkedHead + "1F\r\n\(payload)\r\n0\r\n\r\n")
        let lower = H1P.whole(H1P.chunkedHead + "001f\r\n\(payload)\r\n0\r\n\r\n")
        #expect(upper.error == nil)
        #expect(upper.body.count == 0x1f)
        #expect(lower.error == nil)
        #expect(lower.body.count == 0x1f)
        let large = H1P.whole(H1P.chunkedHead + "fffffff\r\nabc")
        #expect(large.error == nil)
        #expect(large.bodyString == "abc")
    }

    @Test func emptyChunkedBody() {
        let outcome = H1P.whole(H1P.chunkedHead + "0\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.signature == "H E")
        #expect(outcome.leftover.isEmpty)
    }

    @Test(arguments: ["chunked", "Chunked", "CHUNKED", " chunked\t"])
    func chunkedCodingNameIsCaseInsensitive(_ value: String) {
        let outcome = H1P.whole("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(value)\r\n\r\n1\r\nz\r\n0\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.heads.first?.framing == .chunked)
        #expect(outcome.bodyString == "z")
    }

    @Test func trailersAreConsumedAndTheNextRequestFollows() {
        let outcome = H1P.whole(
            H1P.chunkedHead + "2\r\nok\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.signature == "H B E H")
        #expect(outcome.heads.last?.target == "/next")
        // Trailer fields never show up as headers.
        #expect(outcome.heads.last?.headers == [["Host", "a"]])
    }

    struct ExpectCase: Sendable, CustomTestStringConvertible {
        let name: String
        let request: String
        /// nil: expect the error status instead.
        let expectContinue: Bool?
        let status: Int?
        var testDescription: String { name }
    }

    static let expectCases: [ExpectCase] = [
        ExpectCase(
            name: "100-continue with Content-Length",
            request: "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
            expectContinue: true, status: nil),
        ExpectCase(
            name: "100-Continue, case-insensitive",
            request: "POST / HTTP/1.1\r\nHost: a\r\nexpect: 100-Continue\r\nContent-Length: 5\r\n\r\n",
            expectContinue: true, status: nil),
        ExpectCase(
            name: "100-continue with chunked",
            request: "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n",
            expectContinue: true, status: nil),
        ExpectCase(
            name: "100-continue without a body",
            request: "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
            expectContinue: false, status: nil),
        ExpectCase(
            name: "100-continue with Content-Length 0",
            request: "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
            expectContinue: false, status: nil),
        ExpectCase(
            name: "100-continue in HTTP/1.0 is ignored",
            request: "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
            expectContinue: false, status: nil),
        ExpectCase(
            name: "no Expect",
            request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
            expectContinue: false, status: nil),
        ExpectCase(
            name: "unknown expectation",
            request: "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 5\r\n\r\n",
            expectContinue: nil, status: 417),
        ExpectCase(
            name: "unknown expectation without body",
            request: "GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n",
            expectContinue: nil, status: 417),
        ExpectCase(
            name: "100-continue plus another expectation",
            request: "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, foo\r\nContent-Length: 5\r\n\r\n",
            expectContinue: nil, status: 417),
        ExpectCase(
            name: "100-continuex",
            request: "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continuex\r\nContent-Length: 5\r\n\r\n",
            expectContinue: nil, status: 417),
    ]

    @Test(arguments: expectCases)
    func expectHandling(_ testCase: ExpectCase) {
        let outcome = H1P.whole(testCase.request)
        #expect(outcome.status == testCase.status)
        if let expectContinue = testCase.expectContinue {
            #expect(outcome.heads.count == 1)
            #expect(outcome.heads.first?.expectContinue == expectContinue)
        } else {
            #expect(outcome.heads.isEmpty)
        }
    }

    @Test func pipelinedRequestsComeOutInOrder() {
        let text =
            "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
            + "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"
            + H1P.chunkedHead + "3\r\nabc\r\n0\r\nT: v\r\n\r\n"
            + "\r\nHEAD /four HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            + "DELETE /fi"
        let outcome = H1P.whole(text)
        #expect(outcome.error == nil)
        #expect(outcome.signature == "H H B E H B E H")
        #expect(outcome.heads.map(\.target) == ["/one", "/two", "/upload", "/four"])
        #expect(outcome.heads.map(\.method) == ["GET", "POST", "POST", "HEAD"])
        #expect(outcome.heads.map(\.keepAlive) == [true, true, true, false])
        #expect(outcome.events[2] == .body(H1P.bytes("body")))
        #expect(outcome.events[5] == .body(H1P.bytes("abc")))
        #expect(outcome.leftover == H1P.bytes("DELETE /fi"))
    }
}

// MARK: - Split invariance

enum H1PFixtures {
    static let splittable: [H1PCase] = [
        H1PCase(
            "GET with headers",
            "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Long: " + String(repeating: "v", count: 40)
                + "\r\n\r\n", "H"),
        H1PCase("HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "H"),
        H1PCase("fixed body", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n{\"k\":\"\r\n\r\n\"}", "H B E"),
        H1PCase(
            "chunked with extensions and trailers",
            H1P.chunkedHead
                + "4;a=b\r\nwiki\r\n5;q=\"x;\\\"y\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n",
            "H B E"),
        H1PCase(
            "expect continue",
            "PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok", "H B E"),
        H1PCase(
            "pipelined",
            "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx"
                + H1P.chunkedHead + "1\r\ny\r\n0\r\n\r\nGET /4 HTTP/1.1\r\nHost: a\r\n\r\n",
            "H H B E H B E H"),
        H1PCase(
            "obs-text value",
            H1P.bytes("GET / HTTP/1.1\r\nHost: a\r\nX: ") + [0xC3, 0xA9, 0xFF] + H1P.bytes("\r\n\r\n"), "H"),
        H1PCase("505", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", "!505"),
        H1PCase("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", "!400"),
        H1PCase(
            "conflicting lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "!400"),
        H1PCase("bad chunk after data", H1P.chunkedHead + "3\r\nabc\r\n3;=\r\nabc\r\n0\r\n\r\n", "H B !400"),
        H1PCase("missing CRLF after chunk data", H1P.chunkedHead + "3\r\nabcd\r\n0\r\n\r\n", "H B !400"),
        H1PCase("bad trailer", H1P.chunkedHead + "1\r\na\r\n0\r\nX: 1\nY: 2\r\n\r\n", "H B !400"),
        H1PCase(
            "request line never ends", "GET /" + String(repeating: "a", count: 80), "!414",
            limits: H1P.limits(requestLine: 64)),
        H1PCase(
            "head too large", "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 100) + "\r\n\r\n",
            "!431",
            limits: H1P.limits(headBytes: 64)),
        H1PCase(
            "too many fields", "GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\n\r\n", "!431",
            limits: H1P.limits(headerCount: 2)),
    ]
}

@Suite("HTTP1Parser: split invariance")
struct HTTP1ParserSplitTests {
    @Test(arguments: H1PFixtures.splittable)
    func everyTwoWaySplitGivesTheSameEvents(_ fixture: H1PCase) {
        let reference = H1P.whole(fixture.bytes, limits: fixture.limits)
        #expect(reference.signature == fixture.expected, "single-feed run: \(reference)")
        for index in 0...fixture.bytes.count {
            let split = H1P.split(fixture.bytes, at: index, limits: fixture.limits)
            #expect(split == reference, "split at byte \(index)")
        }
    }

    @Test(arguments: H1PFixtures.splittable)
    func byteByByteGivesTheSameEvents(_ fixture: H1PCase) {
        let reference = H1P.whole(fixture.bytes, limits: fixture.limits)
        let trickle = H1P.byteByByte(fixture.bytes, limits: fixture.limits)
        #expect(trickle == reference)
    }

    @Test func threeWaySplitsOfPipelinedRequests() {
        let bytes = H1P.bytes(
            "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" + H1P.chunkedHead + "2;x=y\r\nde\r\n0\r\n\r\n"
        )
        let reference = H1P.whole(bytes)
        #expect(reference.signature == "H B E H B E")
        for first in stride(from: 0, through: bytes.count, by: 3) {
            for second in first...bytes.count {
                let outcome = H1P.run([Array(bytes[..<first]), Array(bytes[first..<second]), Array(bytes[second...])])
                #expect(outcome == reference, "split at \(first) and \(second)")
            }
        }
    }

    /// RFC 9112 §2.2: a server SHOULD ignore at least one empty line before a request line. Where
    /// the TCP reads fall must not matter.
    @Test func leadingEmptyLinesAreIgnoredWhereverTheReadsSplit() {
        let bytes = H1P.bytes("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let reference = H1P.whole(bytes)
        #expect(reference.signature == "H")
        for index in 0...bytes.count {
            #expect(H1P.split(bytes, at: index) == reference, "split at byte \(index)")
        }
        #expect(H1P.byteByByte(bytes) == reference, "byte by byte")
    }

    /// A client that sends a stray CRLF after a request's body (as some do after a POST) in a
    /// separate packet must still get its next request parsed.
    @Test func emptyLineAfterACompletedRequestInALaterRead() {
        let first = H1P.bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok")
        let second = H1P.bytes("\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n")
        let together = H1P.whole(first + second)
        #expect(together.signature == "H B E H")
        let apart = H1P.run([first, second])
        #expect(apart == together)
    }
}

// MARK: - Errors

enum H1PErrorTable {
    static let request = "GET / HTTP/1.1\r\nHost: a\r\n"
    static func withField(_ field: String) -> String { request + field + "\r\n\r\n" }
    static func withFieldBytes(_ field: [UInt8]) -> [UInt8] {
        H1P.bytes(request) + field + H1P.bytes("\r\n\r\n")
    }
    static func post(_ fields: String) -> String { "POST / HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n" }
    static func chunked(_ body: String) -> String { H1P.chunkedHead + body }

    static let small = H1P.limits(requestLine: 64, headBytes: 256, headerCount: 8, chunkLine: 32)

    static let cases: [H1PCase] = [
        // 414
        H1PCase(
            "target longer than the request line limit",
            "GET /" + String(repeating: "a", count: 80)
                + " HTTP/1.1\r\nHost: a\r\n\r\n", "414", limits: small),
        H1PCase(
            "target longer than the default limit",
            "GET /" + String(repeating: "a", count: 8200)
                + " HTTP/1.1\r\nHost: a\r\n\r\n", "414"),
        H1PCase("request line never ends", "GET /" + String(repeating: "a", count: 100), "414", limits: small),
        H1PCase(
            "request line ends after the limit, head incomplete",
            "GET /" + String(repeating: "a", count: 80)
                + " HTTP/1.1\r\nHost: a\r\n", "414", limits: small),
        // 431
        H1PCase(
            "head larger than maxHeadBytes", request + "X: " + String(repeating: "b", count: 300) + "\r\n\r\n",
            "431", limits: small),
        H1PCase(
            "head larger than maxHeadBytes, never ends", request + "X: " + String(repeating: "b", count: 300),
            "431", limits: small),
        H1PCase(
            "many small fields over maxHeadBytes",
            request + String(repeating: "X: 0123456789\r\n", count: 30)
                + "\r\n", "431", limits: H1P.limits(headBytes: 256)),
        H1PCase(
            "more fields than maxHeaderCount", request + String(repeating: "X: 1\r\n", count: 8) + "\r\n",
            "431", limits: small),
        H1PCase(
            "more than 100 fields by default", request + String(repeating: "X: 1\r\n", count: 100) + "\r\n",
            "431"),
        // 505
        H1PCase("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", "505"),
        H1PCase("HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", "505"),
        H1PCase("HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "505"),
        H1PCase("HTTP/0.9 in a version field", "GET / HTTP/0.9\r\n\r\n", "505"),
        // 400: version
        H1PCase("lowercase protocol name", "GET / http/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("version without minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("version without dot", "GET / HTTP/11\r\nHost: a\r\n\r\n", "400"),
        H1PCase("two-digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", "400"),
        H1PCase("letters as version", "GET / HTTP/a.b\r\nHost: a\r\n\r\n", "400"),
        H1PCase("misspelled protocol", "GET / HTPT/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", "400"),
        H1PCase("missing version", "GET /\r\nHost: a\r\n\r\n", "400"),
        H1PCase("bare LF after version", "GET / HTTP/1.1\nHost: a\r\n\r\n", "400"),
        H1PCase("bare CR after version", "GET / HTTP/1.1\rHost: a\r\n\r\n", "400"),
        // 400: method and target
        H1PCase("method with (", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("method with quote", "GE\"T / HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("method with comma", "G,T / HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("method with colon", "GE:T / HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("method with @", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("method with brackets", "G[]T / HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("method with slash", "GE/T / HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("method with tab", "GE\tT / HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("method with NUL", "GE\u{0}T / HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase(
            "non-ASCII method", H1P.bytes("G") + [0xC3, 0x89] + H1P.bytes("T / HTTP/1.1\r\nHost: a\r\n\r\n"), "400"),
        H1PCase("leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("leading bare LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("space inside target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("DEL in target", "GET /a\u{7F} HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase("control byte in target", "GET /a\u{1} HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        H1PCase(
            "non-ASCII target", H1P.bytes("GET /") + [0xC3, 0xA9] + H1P.bytes(" HTTP/1.1\r\nHost: a\r\n\r\n"), "400"),
        // 400: field syntax
        H1PCase("space before colon", withField("X-A : 1"), "400"),
        H1PCase("space before colon in Host", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", "400"),
        H1PCase("tab before colon", withField("X-A\t: 1"), "400"),
        H1PCase("obs-fold with SP", request + "X-A: 1\r\n continued\r\n\r\n", "400"),
        H1PCase("obs-fold with HTAB", request + "X-A: 1\r\n\tcontinued\r\n\r\n", "400"),
        H1PCase("folded first field line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", "400"),
        H1PCase("bare LF ends a field line", request + "X-A: 1\nX-B: 2\r\n\r\n", "400"),
        H1PCase("bare LF as the empty line", request + "X-A: 1\r\n\n\r\n\r\n", "400"),
        H1PCase("bare CR inside a value", withField("X-A: 1\r2"), "400"),
        H1PCase("bare CR at end of value", request + "X-A: 1\r\r\n\r\n", "400"),
        H1PCase("bare CR as the empty line", request + "\rX: 1\r\n\r\n", "400"),
        H1PCase("NUL in value", withField("X-A: a\u{0}b"), "400"),
        H1PCase("SOH in value", withField("X-A: a\u{1}b"), "400"),
        H1PCase("ESC in value", withField("X-A: a\u{1B}b"), "400"),
        H1PCase("DEL in value", withField("X-A: a\u{7F}b"), "400"),
        H1PCase("VT in value", withField("X-A: a\u{0B}b"), "400"),
        H1PCase("name with (", withField("X(A: 1"), "400"),
        H1PCase("name with @", withField("X@A: 1"), "400"),
        H1PCase("name with quote", withField("X\"A: 1"), "400"),
        H1PCase("name with slash", withField("X/A: 1"), "400"),
        H1PCase("name with equals", withField("X=A: 1"), "400"),
        H1PCase("name with braces", withField("X{A}: 1"), "400"),
        H1PCase("name with space", withField("X A: 1"), "400"),
        H1PCase("name with NUL", withField("X\u{0}A: 1"), "400"),
        H1PCase("non-ASCII name", withFieldBytes(H1P.bytes("X") + [0xC3, 0xA9] + H1P.bytes(": 1")), "400"),
        H1PCase("empty name", withField(": 1"), "400"),
        H1PCase("line without colon", withField("NoColonHere"), "400"),
        // 400: Host
        H1PCase("HTTP/1.1 without Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "400"),
        H1PCase("HTTP/1.1 absolute-form without Host", "GET http://a/ HTTP/1.1\r\n\r\n", "400"),
        H1PCase("two Host fields", withField("Host: a"), "400"),
        H1PCase("two Host fields, different case and value", withField("hOST: b"), "400"),
        H1PCase("two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
        // Content-Length and Transfer-Encoding
        H1PCase(
            "Content-Length with Transfer-Encoding", post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), "400"),
        H1PCase(
            "Transfer-Encoding with Content-Length", post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), "400"),
        H1PCase(
            "Transfer-Encoding with Content-Length 0", post("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"),
            "400"),
        H1PCase("differing Content-Length fields", post("Content-Length: 5\r\nContent-Length: 6\r\n"), "400"),
        H1PCase("differing Content-Length list", post("Content-Length: 5, 6\r\n"), "400"),
        H1PCase("differing Content-Length list without space", post("Content-Length: 6,5\r\n"), "400"),
        H1PCase("list then differing field", post("Content-Length: 5, 5\r\nContent-Length: 6\r\n"), "400"),
        H1PCase("Content-Length letters", post("Content-Length: abc\r\n"), "400"),
        H1PCase("Content-Length trailing letter", post("Content-Length: 5a\r\n"), "400"),
        H1PCase("Content-Length plus sign", post("Content-Length: +5\r\n"), "400"),
        H1PCase("Content-Length negative", post("Content-Length: -5\r\n"), "400"),
        H1PCase("Content-Length hex", post("Content-Length: 0x5\r\n"), "400"),
        H1PCase("Content-Length decimal point", post("Content-Length: 5.0\r\n"), "400"),
        H1PCase("Content-Length inner space", post("Content-Length: 5 5\r\n"), "400"),
        H1PCase("Content-Length empty", post("Content-Length:\r\n"), "400"),
        H1PCase("Content-Length empty list element", post("Content-Length: 5,,5\r\n"), "400"),
        H1PCase("Content-Length trailing comma", post("Content-Length: 5,\r\n"), "400"),
        H1PCase("Content-Length leading comma", post("Content-Length: ,5\r\n"), "400"),
        H1PCase("Content-Length huge", post("Content-Length: 99999999999999999999\r\n"), "413"),
        H1PCase("Content-Length above Int64", post("Content-Length: 9223372036854775808\r\n"), "413"),
        H1PCase(
            "Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"),
        H1PCase("gzip, chunked", post("Transfer-Encoding: gzip, chunked\r\n"), "501"),
        H1PCase(
            "deflate then chunked in two fields", post("Transfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n"),
            "501"),
        H1PCase("chunked, gzip", post("Transfer-Encoding: chunked, gzip\r\n"), "400"),
        H1PCase("gzip alone", post("Transfer-Encoding: gzip\r\n"), "400"),
        H1PCase("identity", post("Transfer-Encoding: identity\r\n"), "400"),
        H1PCase("chunked, chunked", post("Transfer-Encoding: chunked, chunked\r\n"), "400"),
        H1PCase("chunked in two fields", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), "400"),
        H1PCase("chunked with trailing comma", post("Transfer-Encoding: chunked,\r\n"), "400"),
        H1PCase("empty Transfer-Encoding", post("Transfer-Encoding:\r\n"), "400"),
        H1PCase("chunked with parameter", post("Transfer-Encoding: chunked;q=1\r\n"), "400"),
        H1PCase("Expect other than 100-continue", post("Expect: 101-switch\r\nContent-Length: 1\r\n"), "417"),
        // Chunk lines
        H1PCase("chunk size not hex", chunked("z\r\nabc\r\n0\r\n\r\n"), "400"),
        H1PCase("chunk size empty", chunked("\r\nabc\r\n0\r\n\r\n"), "400"),
        H1PCase("chunk size negative", chunked("-1\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("chunk size with 0x", chunked("0x1\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("chunk size with leading space", chunked(" 1\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("chunk size with trailing letter", chunked("1g\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("chunk size 16 hex digits", chunked("FFFFFFFFFFFFFFFF\r\na\r\n"), "400"),
        H1PCase("chunk size 2^64", chunked("10000000000000000\r\na\r\n"), "400"),
        H1PCase("chunk size 2^60", chunked("1000000000000000\r\na\r\n"), "400"),
        H1PCase("chunk size bare LF", chunked("1\na\r\n0\r\n\r\n"), "400"),
        H1PCase("chunk size bare CR", chunked("1\ra\r\n0\r\n\r\n"), "400"),
        H1PCase("extension without name", chunked("1;\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("extension with only a value", chunked("1;=x\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("extension with empty value", chunked("1;a=\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("extension with unterminated quote", chunked("1;a=\"x\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("extension quote ending in backslash", chunked("1;a=\"x\\\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("extension with control byte in quotes", chunked("1;a=\"x\u{1}\"\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("extension value with space", chunked("1;a=b c\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("extension name with space", chunked("1;a b\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("extension with comma", chunked("1,a\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("extension with non-token value", chunked("1;a=@\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase("extension after garbage", chunked("1;a=\"b\"x\r\na\r\n0\r\n\r\n"), "400"),
        H1PCase(
            "chunk line longer than the limit",
            chunked("1;" + String(repeating: "e", count: 40) + "\r\na\r\n0\r\n\r\n"),
            "400", limits: small),
        H1PCase("chunk line that never ends", chunked("1;" + String(repeating: "e", count: 40)), "400", limits: small),
        H1PCase(
            "last-chunk line longer than the limit", chunked("0;" + String(repeating: "e", count: 40) + "\r\n\r\n"),
            "400", limits: small),
        // Chunk data
        H1PCase("chunk data longer than its size", chunked("3\r\nabcd\r\n0\r\n\r\n"), "400"),
        H1PCase("chunk data followed by bare LF", chunked("3\r\nabc\n0\r\n\r\n"), "400"),
        H1PCase("chunk data followed by bare CR", chunked("3\r\nabc\r0\r\n\r\n"), "400"),
        H1PCase("chunk data followed by LF CR", chunked("3\r\nabc\n\r0\r\n\r\n"), "400"),
        // Trailers
        H1PCase("trailer with bare LF", chunked("1\r\na\r\n0\r\nX-T: 1\nX-U: 2\r\n\r\n"), "400"),
        H1PCase("trailer section ended by bare LF", chunked("1\r\na\r\n0\r\nX-T: 1\r\n\n"), "400"),
        H1PCase("bare LF after last chunk", chunked("1\r\na\r\n0\r\n\n"), "400"),
        H1PCase("trailer with obs-fold", chunked("0\r\nX-T: 1\r\n more\r\n\r\n"), "400"),
        H1PCase("trailer without colon", chunked("0\r\nX-T\r\n\r\n"), "400"),
        H1PCase("trailer with empty name", chunked("0\r\n: v\r\n\r\n"), "400"),
        H1PCase("trailer with space before colon", chunked("0\r\nX-T : v\r\n\r\n"), "400"),
        H1PCase("trailer with NUL in value", chunked("0\r\nX-T: a\u{0}b\r\n\r\n"), "400"),
        H1PCase("trailer with bare CR in value", chunked("0\r\nX-T: a\rb\r\n\r\n"), "400"),
    ]
}

@Suite("HTTP1Parser: errors")
struct HTTP1ParserErrorTests {
    @Test(arguments: H1PErrorTable.cases)
    func rejectsWithExactStatus(_ testCase: H1PCase) {
        let whole = H1P.whole(testCase.bytes, limits: testCase.limits)
        #expect(whole.status.map(String.init) == testCase.expected, "single feed: \(whole)")
        // Long inputs go in 61-byte pieces (byte by byte would rescan quadratically in debug builds).
        let pieceSize = testCase.bytes.count > 2048 ? 61 : 1
        let pieces = stride(from: 0, to: testCase.bytes.count, by: pieceSize).map {
            Array(testCase.bytes[$0..<min($0 + pieceSize, testCase.bytes.count)])
        }
        let trickle = H1P.run(pieces, limits: testCase.limits)
        #expect(trickle.status.map(String.init) == testCase.expected, "fed in \(pieceSize)-byte pieces: \(trickle)")
    }

    @Test func errorReasonIsClientSafeAndDescribed() {
        let outcome = H1P.whole("GET / HTTP/2.0\r\n\r\n")
        let error = outcome.error
        #expect(error?.status == .httpVersionNotSupported)
        #expect(error?.reason.isEmpty == false)
        #expect(error?.description.hasPrefix("505: ") == true)
    }

    @Test func bodyReceivedBeforeAChunkErrorIsStillDelivered() {
        let outcome = H1P.whole(H1P.chunkedHead + "3\r\nabc\r\nzz\r\n")
        #expect(outcome.signature == "H B !400")
        #expect(outcome.bodyString == "abc")
    }

    @Test func invalidSecondRequestDoesNotAffectTheFirst() {
        let outcome = H1P.whole("GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\n\r\n")
        #expect(outcome.signature == "H !400")
        #expect(outcome.heads.first?.target == "/ok")
    }

    /// The request line limit (method, target and version) applies to the whole line and must not
    /// depend on how the bytes were split into reads: fed with the head incomplete, the same line
    /// is answered with 414.
    @Test func requestLineLimitCountsTheWholeLine() {
        let limits = H1P.limits(requestLine: 32)
        // 34 bytes: "GET " + 21-byte target + " HTTP/1.1"; the target alone is within the limit.
        let longTarget = "GET /" + String(repeating: "t", count: 20) + " HTTP/1.1"
        // 54 bytes: a 43-byte method with a short target.
        let longMethod = String(repeating: "M", count: 43) + " / HTTP/1.1"
        for line in [longTarget, longMethod] {
            let bytes = H1P.bytes(line + "\r\nHost: a\r\n\r\n")
            let lineEnd = line.utf8.count + 2
            let incomplete = H1P.split(bytes, at: lineEnd, limits: limits)
            #expect(incomplete.status == 414, "line delivered before the rest of the head: \(incomplete)")
            let whole = H1P.whole(bytes, limits: limits)
            #expect(whole.status == 414, "the whole head in one read (\(line.utf8.count)-byte line): \(whole)")
        }
    }

    /// A request line exactly at the limit is accepted, whichever way the reads fall.
    @Test func requestLineExactlyAtTheLimitIsAcceptedAtEverySplit() {
        let limits = H1P.limits(requestLine: 32)
        let line = "GET /" + String(repeating: "t", count: 18) + " HTTP/1.1"
        #expect(line.utf8.count == 32)
        let bytes = H1P.bytes(line + "\r\nHost: a\r\n\r\n")
        let reference = H1P.whole(bytes, limits: limits)
        #expect(reference.signature == "H")
        for index in 0...bytes.count {
            let outcome = H1P.split(bytes, at: index, limits: limits)
            #expect(outcome == reference, "split at byte \(index)")
        }
    }

    @Test func headSizeBoundary() {
        // maxHeadBytes counts the request line and field lines, without the final CRLF CRLF.
        let limits = H1P.limits(headBytes: 64)
        let prefix = "GET / HTTP/1.1\r\nHost: a\r\nX: "
        let fits = prefix + String(repeating: "v", count: 64 - prefix.utf8.count) + "\r\n\r\n"
        #expect(fits.utf8.count == 68)
        let over = prefix + String(repeating: "v", count: 65 - prefix.utf8.count) + "\r\n\r\n"
        #expect(H1P.whole(fits, limits: limits).signature == "H")
        #expect(H1P.byteByByte(H1P.bytes(fits), limits: limits).signature == "H")
        #expect(H1P.whole(over, limits: limits).status == 431)
        #expect(H1P.byteByByte(H1P.bytes(over), limits: limits).status == 431)
    }

    /// The trailer section is bounded by `maxHeadBytes` (431). The bound must hold whether the
    /// trailers arrive in one read or several.
    @Test func trailerSectionLimitDoesNotDependOnReads() {
        let limits = H1P.limits(headBytes: 100)  // the 72-byte head fits
        let trailers = String(repeating: "X-Trailer: 0123456789\r\n", count: 6)  // 138 bytes
        let bytes = H1P.bytes(H1P.chunkedHead + "1\r\na\r\n0\r\n" + trailers + "\r\n")
        let trickle = H1P.byteByByte(bytes, limits: limits)
        #expect(trickle.status == 431, "byte by byte: \(trickle)")
        let whole = H1P.whole(bytes, limits: limits)
        #expect(whole.status == 431, "one read: \(whole)")
    }

    /// `Content-Length = 1*DIGIT` (RFC 9112 §6.2) and `chunk-size = 1*HEXDIG` (§7.1): leading
    /// zeros do not make a length large.
    @Test func leadingZerosDoNotMakeALengthTooLarge() {
        let zeros = String(repeating: "0", count: 20)
        let length = H1P.whole("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(zeros)3\r\n\r\nabc")
        #expect(length.error == nil, "\(length)")
        #expect(length.bodyString == "abc")
        let chunk = H1P.whole(H1P.chunkedHead + "\(zeros)3\r\nabc\r\n0\r\n\r\n")
        #expect(chunk.error == nil, "\(chunk)")
        #expect(chunk.bodyString == "abc")
    }
}
