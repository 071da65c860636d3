import NIOCore
import Testing

@testable import FasterAPICore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The wire bytes `headers.write(to:)` produces.
private func wire(_ headers: HTTPHeaders) -> String {
    var buffer = ByteBuffer(string: "")
    headers.write(to: &buffer)
    return String(buffer: buffer)
}

/// `[name, value]` pairs in order.
private func pairs(_ headers: HTTPHeaders) -> [[String]] {
    headers.map { [$0.name, $0.value] }
}

/// Parses `fields` (wire lines, each ending in CRLF) behind a request line and returns the
/// parsed headers, plus the rest of the buffer.
private func parsedHeaders(_ fields: String, then rest: String = "") throws -> (HTTPHeaders, ByteBuffer) {
    var parser = HTTP1Parser()
    var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\n" + fields + "\r\n" + rest)
    guard case .head(let head, _, _, _)? = try parser.next(&buffer) else {
        Issue.record("the request did not parse")
        return (HTTPHeaders(), buffer)
    }
    return (head.headers, buffer)
}

@Suite("HTTPHeaders")
struct HTTPHeadersTests {
    @Test func emptyHeaders() {
        let headers = HTTPHeaders()
        #expect(headers.isEmpty)
        #expect(headers.count == 0)
        #expect(headers["anything"] == nil)
        #expect(headers.values(for: "anything") == [])
        #expect(!headers.contains("anything"))
        #expect(wire(headers) == "")
    }

    @Test func lookupIsCaseInsensitive() {
        let headers = HTTPHeaders([("Content-Type", "application/json"), ("X-Request-ID", "abc")])
        #expect(headers.count == 2)
        #expect(!headers.isEmpty)
        for name in ["Content-Type", "content-type", "CONTENT-TYPE", "cOnTeNt-TyPe"] {
            #expect(headers[name] == "application/json", "\(name)")
            #expect(headers.contains(name))
        }
        #expect(headers["x-request-id"] == "abc")
        #expect(headers["Content-Typ"] == nil)
        #expect(headers["Content-Type2"] == nil)
        #expect(headers["Content_Type"] == nil)
        #expect(headers.firstIndex(of: "X-REQUEST-ID") == 1)
        #expect(headers.firstIndex(of: "missing") == nil)
        // Names keep the case they were given.
        #expect(headers.name(at: 0) == "Content-Type")
        #expect(headers.name(at: 1) == "X-Request-ID")
        #expect(headers.value(at: 1) == "abc")
    }

    @Test func repeatedFieldsKeepOrder() {
        var headers = HTTPHeaders()
        headers.add(name: "Set-Cookie", value: "a=1")
        headers.add(name: "Vary", value: "Accept")
        headers.add(name: "set-cookie", value: "b=2")
        headers.add(name: "SET-COOKIE", value: "c=3")
        #expect(headers.count == 4)
        #expect(headers["Set-Cookie"] == "a=1")
        #expect(headers.values(for: "set-cookie") == ["a=1", "b=2", "c=3"])
        #expect(headers.values(for: "vary") == ["Accept"])
        #expect(
            pairs(headers) == [
                ["Set-Cookie", "a=1"], ["Vary", "Accept"], ["set-cookie", "b=2"], ["SET-COOKIE", "c=3"],
            ])
        #expect(wire(headers) == "Set-Cookie: a=1\r\nVary: Accept\r\nset-cookie: b=2\r\nSET-COOKIE: c=3\r\n")
    }

    @Test func removeDeletesEveryFieldOfThatName() {
        var headers = HTTPHeaders([("A", "1"), ("B", "2"), ("a", "3"), ("C", "4")])
        headers.remove(name: "A")
        #expect(headers.count == 2)
        #expect(headers["a"] == nil)
        #expect(headers.values(for: "A") == [])
        #expect(pairs(headers) == [["B", "2"], ["C", "4"]])
        #expect(wire(headers) == "B: 2\r\nC: 4\r\n")
        headers.remove(name: "missing")
        #expect(headers.count == 2)
        #expect(wire(headers) == "B: 2\r\nC: 4\r\n")
        headers.remove(name: "b")
        headers.remove(name: "c")
        #expect(headers.isEmpty)
        #expect(wire(headers) == "")
    }

    @Test func addAfterRemoveWritesOnlyLiveFields() {
        var headers = HTTPHeaders([("Keep", "1"), ("Drop", "x"), ("Keep-Too", "2")])
        headers.remove(name: "drop")
        headers.add(name: "New", value: "3")
        #expect(pairs(headers) == [["Keep", "1"], ["Keep-Too", "2"], ["New", "3"]])
        #expect(wire(headers) == "Keep: 1\r\nKeep-Too: 2\r\nNew: 3\r\n")
    }

    @Test func replaceOrAdd() {
        var headers = HTTPHeaders([("Cache-Control", "no-cache"), ("X", "1"), ("cache-control", "private")])
        headers.replaceOrAdd(name: "Cache-Control", value: "max-age=60")
        #expect(headers.values(for: "cache-control") == ["max-age=60"])
        #expect(pairs(headers) == [["X", "1"], ["Cache-Control", "max-age=60"]])
        #expect(wire(headers) == "X: 1\r\nCache-Control: max-age=60\r\n")
        headers.replaceOrAdd(name: "Y", value: "new")
        #expect(wire(headers) == "X: 1\r\nCache-Control: max-age=60\r\nY: new\r\n")
    }

    @Test func writeAppendsToExistingBytes() {
        let headers = HTTPHeaders([("A", "1"), ("B", "two words")])
        var buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\n")
        headers.write(to: &buffer)
        buffer.writeString("\r\n")
        #expect(String(buffer: buffer) == "HTTP/1.1 200 OK\r\nA: 1\r\nB: two words\r\n\r\n")
        // Writing does not consume the headers.
        #expect(wire(headers) == "A: 1\r\nB: two words\r\n")
    }

    @Test func dictionaryLiteralKeepsOrder() {
        let headers: HTTPHeaders = ["Z": "26", "A": "1", "M": "13"]
        #expect(pairs(headers) == [["Z", "26"], ["A", "1"], ["M", "13"]])
        #expect(headers.description == "Z: 26\nA: 1\nM: 13")
    }

    @Test func valuesAreUTF8() {
        var headers = HTTPHeaders()
        headers.add(name: "X-Name", value: "Jürgen ☕")
        headers.add(name: "X-Empty", value: "")
        #expect(headers["x-name"] == "Jürgen ☕")
        #expect(headers["X-Empty"] == "")
        #expect(headers.contains("x-empty"))
        #expect(wire(headers) == "X-Name: Jürgen ☕\r\nX-Empty: \r\n")
    }

    @Test func copiesAreIndependent() {
        var original = HTTPHeaders([("A", "1")])
        var copy = original
        copy.add(name: "B", value: "2")
        copy.replaceOrAdd(name: "A", value: "changed")
        #expect(pairs(original) == [["A", "1"]])
        #expect(wire(original) == "A: 1\r\n")
        #expect(pairs(copy) == [["B", "2"], ["A", "changed"]])
        original.remove(name: "A")
        #expect(copy["a"] == "changed")
        #expect(original.isEmpty)
    }

    // MARK: Sanitising

    @Test func crlfInAValueCannotInjectAField() throws {
        var headers = HTTPHeaders()
        headers.add(name: "X-Evil", value: "a\r\nSet-Cookie: session=stolen\r\n\r\nGET /smuggled HTTP/1.1")
        headers.add(name: "X-After", value: "ok")
        #expect(headers.count == 2)
        #expect(headers["X-Evil"] == "a  Set-Cookie: session=stolen    GET /smuggled HTTP/1.1")
        let written = wire(headers)
        #expect(written == "X-Evil: a  Set-Cookie: session=stolen    GET /smuggled HTTP/1.1\r\nX-After: ok\r\n")
        // What was written parses back as exactly the two fields, and nothing more.
        let (parsed, rest) = try parsedHeaders("Host: h\r\n" + written)
        #expect(parsed.count == 3)
        #expect(!parsed.contains("Set-Cookie"))
        #expect(parsed["x-after"] == "ok")
        #expect(rest.readableBytes == 0)
    }

    @Test(arguments: [
        ("bare LF", "a\nb", "a b"), ("bare CR", "a\rb", "a b"), ("NUL", "a\u{0}b", "a b"),
        ("CRLF", "\r\n", "  "), ("DEL", "a\u{7F}", "a "), ("ESC", "\u{1B}[31m", " [31m"),
        ("HTAB is kept", "a\tb", "a\tb"),
    ])
    func controlBytesInValuesBecomeSpaces(_ label: String, _ value: String, _ expected: String) {
        var headers = HTTPHeaders()
        headers.add(name: "X", value: value)
        #expect(headers["X"] == expected, "\(label)")
        #expect(wire(headers) == "X: \(expected)\r\n", "\(label)")
    }

    @Test func nonTokenBytesInNamesAreReplaced() {
        var headers = HTTPHeaders()
        headers.add(name: "X-A\r\nInjected: 1", value: "v")
        headers.add(name: "Bad Name:", value: "w")
        #expect(headers.count == 2)
        #expect(headers.name(at: 0) == "X-A--Injected--1")
        #expect(headers.name(at: 1) == "Bad-Name-")
        #expect(!headers.contains("Injected"))
        #expect(wire(headers) == "X-A--Injected--1: v\r\nBad-Name-: w\r\n")
    }

    @Test func replaceOrAddSanitisesToo() {
        var headers = HTTPHeaders([("Location", "/a")])
        headers.replaceOrAdd(name: "Location", value: "/b\r\nX: y")
        #expect(wire(headers) == "Location: /b  X: y\r\n")
    }

    // MARK: containsToken

    @Test func containsToken() {
        let headers = HTTPHeaders([
            ("Connection", "keep-alive, Upgrade"), ("connection", " \tHTTP2-Settings\t ,,"), ("Accept", "close"),
        ])
        #expect(headers.containsToken("upgrade", in: "Connection"))
        #expect(headers.containsToken("UPGRADE", in: "connection"))
        #expect(headers.containsToken("keep-alive", in: "CONNECTION"))
        #expect(headers.containsToken("http2-settings", in: "Connection"))
        // Whole elements only: no substring or prefix matches, and only the named field.
        #expect(!headers.containsToken("keep", in: "Connection"))
        #expect(!headers.containsToken("alive", in: "Connection"))
        #expect(!headers.containsToken("keep-alive, Upgrade", in: "Connection"))
        #expect(!headers.containsToken("close", in: "Connection"))
        #expect(headers.containsToken("close", in: "Accept"))
        #expect(!headers.containsToken("upgrade", in: "Upgrade"))
        let closed = HTTPHeaders([("Connection", "closed")])
        #expect(!closed.containsToken("close", in: "Connection"))
    }

    // MARK: Parsed headers

    @Test func parsedHeadersWriteTheirWireBytes() throws {
        let fields = "Host: example.com\r\nAccept:  */* \r\nX-Multi: 1\r\nx-multi: 2\r\n"
        let (headers, _) = try parsedHeaders(fields)
        #expect(headers.count == 4)
        #expect(wire(headers) == fields)
        #expect(headers["accept"] == "*/*")
        #expect(headers.values(for: "X-MULTI") == ["1", "2"])
    }

    @Test func parsedHeadersAfterRemoval() throws {
        let (parsed, _) = try parsedHeaders("Host: example.com\r\nX-Drop: 1\r\nAccept: */*\r\nx-drop: 2\r\n")
        var headers = parsed
        headers.remove(name: "X-Drop")
        #expect(pairs(headers) == [["Host", "example.com"], ["Accept", "*/*"]])
        #expect(wire(headers) == "Host: example.com\r\nAccept: */*\r\n")
        headers.add(name: "X-New", value: "yes")
        #expect(wire(headers) == "Host: example.com\r\nAccept: */*\r\nX-New: yes\r\n")
        // The value taken from the parser is unchanged.
        #expect(parsed.count == 4)
        #expect(parsed.values(for: "x-drop") == ["1", "2"])
    }

    @Test func addingToParsedHeadersDoesNotDisturbTheNextRequest() throws {
        var parser = HTTP1Parser()
        var buffer = ByteBuffer(
            string: "GET /1 HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\nY: 2\r\n\r\n")
        guard case .head(let first, _, _, _)? = try parser.next(&buffer) else {
            Issue.record("no first head")
            return
        }
        var headers = first.headers
        headers.add(name: "Z-Added", value: String(repeating: "z", count: 200))
        headers.replaceOrAdd(name: "X", value: "replaced")
        #expect(headers["x"] == "replaced")
        #expect(headers["host"] == "a")
        #expect(headers["z-added"]?.count == 200)
        guard case .head(let second, _, _, _)? = try parser.next(&buffer) else {
            Issue.record("no second head")
            return
        }
        #expect(second.target == "/2")
        #expect(pairs(second.headers) == [["Host", "b"], ["Y", "2"]])
        #expect(pairs(first.headers) == [["Host", "a"], ["X", "1"]])
    }
}

@Suite("DateCache")
struct DateCacheTests {
    @Test(arguments: [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (1_234_567_890, "Fri, 13 Feb 2009 23:31:30 GMT"),
        (1_700_000_000, "Tue, 14 Nov 2023 22:13:20 GMT"),
        (2_147_483_648, "Tue, 19 Jan 2038 03:14:08 GMT"),
        (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 GMT"),
    ])
    func formatsIMFFixdate(_ seconds: Int, _ expected: String) {
        #expect(DateCache.format(time_t(seconds)) == expected)
    }

    @Test func currentIsTheFormattedPresent() {
        let cache = DateCache()
        let before = time(nil)
        let value = String(buffer: cache.current())
        let after = time(nil)
        #expect(value.utf8.count == 29)
        #expect(value == DateCache.format(before) || value == DateCache.format(after))
        // Asking again within the same second gives the same bytes.
        let again = String(buffer: cache.current())
        #expect(again == value || again == DateCache.format(time(nil)))
    }
}
