import NIOCore
import NIOPosix
import Testing

@testable import FasterAPICore

/// A request the server must refuse: the exact bytes, the status and whether the connection closes.
struct RejectedCase: Sendable, CustomTestStringConvertible {
    let name: String
    let request: [UInt8]
    let status: Int
    let closes: Bool
    /// The head is valid and the body framing breaks later, so the responder is called (the body
    /// is streamed) but its body read must fail; for head errors the responder is never called.
    let failsInBody: Bool
    /// Send the valid follower in a second write (for a request that is bad before it ends).
    let followerSeparately: Bool

    init(
        _ name: String, _ request: String, _ status: Int, closes: Bool = true, failsInBody: Bool = false,
        followerSeparately: Bool = false
    ) {
        self.init(
            name, Array(request.utf8), status, closes: closes, failsInBody: failsInBody,
            followerSeparately: followerSeparately)
    }

    init(
        _ name: String, _ request: [UInt8], _ status: Int, closes: Bool = true, failsInBody: Bool = false,
        followerSeparately: Bool = false
    ) {
        self.name = name
        self.request = request
        self.status = status
        self.closes = closes
        self.failsInBody = failsInBody
        self.followerSeparately = followerSeparately
    }

    var testDescription: String { name }
}

/// A valid but unusual request the server must answer normally, keeping the connection open.
struct AcceptedCase: Sendable, CustomTestStringConvertible {
    let name: String
    let request: String
    /// The body the echo responder must send back.
    let echoed: String

    init(_ name: String, _ request: String, echoed: String = "") {
        self.name = name
        self.request = request
        self.echoed = echoed
    }

    var testDescription: String { name }
}

/// A valid request pipelined right after each case.
private let follower = "GET /after HTTP/1.1\r\nHost: example\r\n\r\n"

/// The body limit the table runs with (Content-Length above it is refused with 413).
private let tableBodyLimit = 1024

private let rejectedCases: [RejectedCase] = [
    // Framing ambiguities (request smuggling).
    RejectedCase(
        "Content-Length with Transfer-Encoding",
        "POST /bad HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400),
    RejectedCase(
        "Transfer-Encoding with Content-Length (reverse order)",
        "POST /bad HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        400),
    RejectedCase(
        "differing duplicate Content-Length",
        "POST /bad HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400),
    RejectedCase(
        "differing Content-Length list",
        "POST /bad HTTP/1.1\r\nHost: example\r\nContent-Length: 5, 6\r\n\r\nhello!",
        400),
    RejectedCase(
        "negative Content-Length",
        "POST /bad HTTP/1.1\r\nHost: example\r\nContent-Length: -5\r\n\r\n",
        400),
    RejectedCase(
        "non-numeric Content-Length",
        "POST /bad HTTP/1.1\r\nHost: example\r\nContent-Length: 0x10\r\n\r\n",
        400),
    RejectedCase(
        "bad chunk size",
        "POST /bad HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        400, failsInBody: true),
    RejectedCase(
        "chunk size with leading space",
        "POST /bad HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
        400, failsInBody: true),
    RejectedCase(
        "bad chunk extension (no name)",
        "POST /bad HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n",
        400, failsInBody: true),
    RejectedCase(
        "bad chunk extension (unterminated quoted value)",
        "POST /bad HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"open\r\nhello\r\n0\r\n\r\n",
        400, failsInBody: true),
    RejectedCase(
        "chunk data longer than its size",
        "POST /bad HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
        400, failsInBody: true),
    RejectedCase(
        "chunk line ended by bare LF",
        "POST /bad HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        400, failsInBody: true),
    RejectedCase(
        "Transfer-Encoding: gzip, chunked (unknown coding)",
        "POST /bad HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        501),
    RejectedCase(
        "Transfer-Encoding: chunked, gzip (chunked not last)",
        "POST /bad HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        400),
    RejectedCase(
        "Transfer-Encoding: chunked, chunked",
        "POST /bad HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        400),
    RejectedCase(
        "Transfer-Encoding in HTTP/1.0",
        "POST /bad HTTP/1.0\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400),
    // Field syntax.
    RejectedCase(
        "obs-fold",
        "GET /bad HTTP/1.1\r\nHost: example\r\nX-Folded: first\r\n second\r\n\r\n",
        400),
    RejectedCase(
        "whitespace before the first header line",
        "GET /bad HTTP/1.1\r\n Host: example\r\n\r\n",
        400),
    RejectedCase(
        "bare LF ending a header line",
        "GET /bad HTTP/1.1\r\nHost: example\nX-A: b\r\n\r\n",
        400),
    RejectedCase(
        "bare LF ending the request line",
        "GET /bad HTTP/1.1\nHost: example\r\n\r\n",
        400),
    RejectedCase(
        "bare CR in a header value",
        "GET /bad HTTP/1.1\r\nHost: example\r\nX-A: a\rb\r\n\r\n",
        400),
    RejectedCase(
        "NUL in a header value",
        Array("GET /bad HTTP/1.1\r\nHost: example\r\nX-A: a".utf8) + [0] + Array("b\r\n\r\n".utf8),
        400),
    RejectedCase(
        "invalid header name byte",
        "GET /bad HTTP/1.1\r\nHost: example\r\nX(A): b\r\n\r\n",
        400),
    RejectedCase(
        "control byte in a header name",
        Array("GET /bad HTTP/1.1\r\nHost: example\r\nX".utf8) + [1] + Array("A: b\r\n\r\n".utf8),
        400),
    RejectedCase(
        "space before colon",
        "GET /bad HTTP/1.1\r\nHost: example\r\nX-A : b\r\n\r\n",
        400),
    RejectedCase(
        "header line without colon",
        "GET /bad HTTP/1.1\r\nHost: example\r\nX-A b\r\n\r\n",
        400),
    RejectedCase(
        "empty header name",
        "GET /bad HTTP/1.1\r\nHost: example\r\n: b\r\n\r\n",
        400),
    // Request line.
    RejectedCase("invalid method byte", "GE(T /bad HTTP/1.1\r\nHost: example\r\n\r\n", 400),
    RejectedCase("space inside the target", "GET /bad path HTTP/1.1\r\nHost: example\r\n\r\n", 400),
    RejectedCase("lowercase protocol name", "GET /bad http/1.1\r\nHost: example\r\n\r\n", 400),
    RejectedCase("HTTP/2.0 version", "GET /bad HTTP/2.0\r\nHost: example\r\n\r\n", 505),
    RejectedCase("HTTP/2 prior-knowledge preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    RejectedCase("HTTP/0.9 version", "GET /bad HTTP/0.9\r\nHost: example\r\n\r\n", 505),
    RejectedCase("HTTP/3.0 version", "GET /bad HTTP/3.0\r\nHost: example\r\n\r\n", 505),
    // Host.
    RejectedCase("missing Host", "GET /bad HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
    RejectedCase("two Host fields", "GET /bad HTTP/1.1\r\nHost: example\r\nHost: other\r\n\r\n", 400),
    RejectedCase("two Host fields in HTTP/1.0", "GET /bad HTTP/1.0\r\nHost: example\r\nHost: other\r\n\r\n", 400),
    // Limits (HTTP1ParserLimits defaults: line 8 KiB, head 32 KiB, 100 fields).
    RejectedCase(
        "request line too long",
        "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: example\r\n\r\n",
        414),
    RejectedCase(
        "request line too long and not yet ended",
        "GET /" + String(repeating: "a", count: 9000),
        414, followerSeparately: true),
    RejectedCase(
        "too many header fields",
        "GET /bad HTTP/1.1\r\nHost: example\r\n" + (0..<101).map { "X-\($0): v\r\n" }.joined() + "\r\n",
        431),
    RejectedCase(
        "header block too large",
        "GET /bad HTTP/1.1\r\nHost: example\r\n"
            + (0..<40).map { "X-Big-\($0): " + String(repeating: "b", count: 1000) + "\r\n" }.joined() + "\r\n",
        431),
    RejectedCase(
        "Content-Length over maxRequestBodyBytes",
        "POST /bad HTTP/1.1\r\nHost: example\r\nContent-Length: \(tableBodyLimit + 1)\r\n\r\n",
        413),
    RejectedCase(
        "Content-Length with 19 digits",
        "POST /bad HTTP/1.1\r\nHost: example\r\nContent-Length: 1000000000000000000\r\n\r\n",
        413),
    // Expectations.
    RejectedCase(
        "Expect: something-else",
        "POST /bad HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\nExpect: something-else\r\n\r\nhello",
        417),
]

private let acceptedCases: [AcceptedCase] = [
    AcceptedCase("plain GET", "GET /ok HTTP/1.1\r\nHost: example\r\n\r\n"),
    AcceptedCase(
        "identical duplicate Content-Length",
        "POST /ok HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", echoed: "hello"),
    AcceptedCase(
        "identical Content-Length list",
        "POST /ok HTTP/1.1\r\nHost: example\r\nContent-Length: 5, 5\r\n\r\nhello", echoed: "hello"),
    AcceptedCase("empty lines before the request line", "\r\n\r\nGET /ok HTTP/1.1\r\nHost: example\r\n\r\n"),
    AcceptedCase(
        "Transfer-Encoding value in upper case",
        "POST /ok HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        echoed: "hello"),
    AcceptedCase(
        "chunk extensions, token and quoted",
        "POST /ok HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;a=b\r\nhello\r\n1 ; q=\"x\\\"y\" ; flag\r\n!\r\n0\r\n\r\n",
        echoed: "hello!"),
    AcceptedCase(
        "trailer fields",
        "POST /ok HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n",
        echoed: "hello"),
    AcceptedCase(
        "upper-case hex chunk size",
        "POST /ok HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
        echoed: "0123456789"),
    AcceptedCase("Content-Length: 0", "POST /ok HTTP/1.1\r\nHost: example\r\nContent-Length: 0\r\n\r\n"),
    AcceptedCase(
        "Content-Length exactly at maxRequestBodyBytes",
        "POST /ok HTTP/1.1\r\nHost: example\r\nContent-Length: \(tableBodyLimit)\r\n\r\n"
            + String(repeating: "z", count: tableBodyLimit),
        echoed: String(repeating: "z", count: tableBodyLimit)),
    // RFC 9110 §2.5: a later minor version is processed as the highest one implemented.
    AcceptedCase("HTTP/1.2 is served as HTTP/1.1", "GET /ok HTTP/1.2\r\nHost: example\r\n\r\n"),
    AcceptedCase("HTTP/1.0 with keep-alive and no Host", "GET /ok HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
    AcceptedCase(
        "tabs and spaces around a field value",
        "GET /ok HTTP/1.1\r\nHost: example\r\nX-A: \t value \t\r\n\r\n"),
    AcceptedCase(
        "request line at the 8 KiB limit",
        // 4 + 8179 + 9 = 8192 bytes of request line.
        "GET /" + String(repeating: "a", count: 8178) + " HTTP/1.1\r\nHost: example\r\n\r\n"),
    AcceptedCase(
        "exactly 100 header fields",
        "GET /ok HTTP/1.1\r\nHost: example\r\n" + (0..<99).map { "X-\($0): v\r\n" }.joined() + "\r\n"),
]

@Suite("Live HTTP/1.1: malformed and hostile requests")
struct LiveMalformedRequestTests {
    @Test(arguments: rejectedCases)
    func rejected(_ testCase: RejectedCase) async throws {
        let responder = RecordingResponder()
        try await withLiveServer(responder, configure: {
            $0.maxRequestBodyBytes = tableBodyLimit
            $0.http2 = nil  // HTTP/1.1 only, so HTTP/2's preface is just a request with the wrong version
        }) { server in
            let pieces =
                testCase.followerSeparately
                ? [testCase.request, Array(follower.utf8)] : [testCase.request + Array(follower.utf8)]
            let state = try await rawExchange(
                port: server.port, pieces: pieces, pause: .milliseconds(50), timeout: .seconds(5))
            let parsed = try ResponseParser.parseAll(state.received, closed: state.closed)

            // Exactly one response, with the expected status, and nothing after it.
            #expect(parsed.responses.count == 1, "responses: \(parsed.responses)")
            #expect(parsed.rest == state.received.count, "unparsed bytes after the response: \(state.received.text)")
            let response = try #require(parsed.responses.first, "no response; received \(state.received.text)")
            #expect(response.status == testCase.status, "\(response)")
            if testCase.closes {
                #expect(state.closed, "the server must close the connection")
                #expect(response.header("connection")?.lowercased() == "close", "\(response)")
            }
            // The valid request after the bad one is never processed.
            let events = responder.log.events
            #expect(!events.contains(.called("/after")), "pipelined request was processed: \(events)")
            if testCase.failsInBody {
                #expect(events.first == .called("/bad"), "\(events)")
                #expect(events.contains { if case .bodyFailed("/bad", _) = $0 { true } else { false } }, "\(events)")
                #expect(!events.contains { if case .bodyComplete = $0 { true } else { false } }, "\(events)")
            } else {
                #expect(events.isEmpty, "the responder was called for a request rejected at its head: \(events)")
            }
        }
    }

    /// `maxRequestLineLength` bounds the whole request line (doc comment of
    /// `HTTP1ParserLimits`); the answer must not depend on how TCP splits the bytes.
    @Test(arguments: [nil, 8195] as [Int?])
    func requestLineOverTheLimitGets414HoweverItIsSegmented(splitAt: Int?) async throws {
        let responder = RecordingResponder()
        try await withLiveServer(responder) { server in
            // 4 + 8185 + 9 = 8198 bytes of request line: over the 8192 limit; the target alone is not.
            let request = bytes("GET /" + String(repeating: "a", count: 8184) + " HTTP/1.1\r\nHost: example\r\n\r\n")
            let pieces = splitAt.map { [Array(request[..<$0]), Array(request[$0...])] } ?? [request]
            let state = try await rawExchange(port: server.port, pieces: pieces, pause: .milliseconds(50))
            let parsed = try ResponseParser.parseAll(state.received, closed: state.closed)
            #expect(parsed.responses.map(\.status) == [414], "\(state)")
            #expect(state.closed)
            #expect(responder.log.events.isEmpty)
        }
    }

    @Test(arguments: acceptedCases)
    func accepted(_ testCase: AcceptedCase) async throws {
        let responder = RecordingResponder()
        try await withLiveServer(responder, configure: { $0.maxRequestBodyBytes = tableBodyLimit }) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send(testCase.request + follower)
            let (responses, state) = await connection.waitForResponses(2, timeout: .seconds(5))
            await connection.close()
            #expect(responses.count == 2, "received: \(state.received.text)")
            guard responses.count == 2 else { return }
            #expect(responses[0].status == 200, "\(responses[0])")
            #expect(responses[0].text == testCase.echoed)
            #expect(responses[0].header("connection") == nil || testCase.request.contains("HTTP/1.0"))
            #expect(responses[1].status == 200)
            #expect(responses[1].header("x-target") == "/after")
            #expect(!state.closed, "the connection must stay open")
        }
    }
}
