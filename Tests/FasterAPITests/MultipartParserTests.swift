import NIOCore
import Testing

@testable import FasterAPI

// MARK: - Helpers

private let boundary = "XbOuNdArY"

/// A part as reassembled from parser events.
private struct ParsedPart: Equatable {
    var headers: [[String]]
    var name: String?
    var filename: String?
    var contentType: String?
    var body: [UInt8]

    init(_ head: MultipartPartHead) {
        headers = head.headers.map { [$0.name, $0.value] }
        name = head.name
        filename = head.filename
        contentType = head.contentType
        body = []
    }
}

/// The result of feeding chunks: the parts, the body-event sizes, and the error if one was thrown.
private struct ParseOutcome {
    var parts: [ParsedPart] = []
    var bodyEventSizes: [Int] = []
    var error: MultipartError?
}

/// Feeds `chunks` to a parser, checks that events arrive in a valid order, and calls `finish()`.
/// Events are drained after every chunk unless `drainAfter` says otherwise (always after the last).
private func feed(
    _ chunks: [[UInt8]],
    boundary: String = boundary,
    limits: MultipartLimits = MultipartLimits(),
    drainAfter: (Int) -> Bool = { _ in true }
) -> ParseOutcome {
    var parser = MultipartParser(boundary: boundary, limits: limits)
    var outcome = ParseOutcome()
    var current: ParsedPart?
    var ended = false
    do {
        for (index, chunk) in chunks.enumerated() {
            parser.append(ByteBuffer(bytes: chunk))
            guard drainAfter(index) || index == chunks.count - 1 else { continue }
            while let event = try parser.next() {
                switch event {
                case .partHead(let head):
                    #expect(current == nil && !ended, "part head inside a part or after the end")
                    current = ParsedPart(head)
                case .body(var slice):
                    #expect(current != nil, "body outside a part")
                    #expect(slice.readableBytes > 0, "empty body event")
                    outcome.bodyEventSizes.append(slice.readableBytes)
                    current?.body += slice.readBytes(length: slice.readableBytes) ?? []
                case .partEnd:
                    #expect(current != nil, "part end outside a part")
                    if let part = current { outcome.parts.append(part) }
                    current = nil
                case .end:
                    #expect(current == nil && !ended, "end inside a part or twice")
                    ended = true
                }
            }
        }
        try parser.finish()
        #expect(ended, "finish() succeeded without an .end event")
    } catch {
        outcome.error = error
    }
    return outcome
}

/// Parses `input` in one chunk and returns its parts, recording any error as a test failure.
private func parseWhole(
    _ input: [UInt8],
    boundary: String = boundary,
    sourceLocation: SourceLocation = #_sourceLocation
) -> [ParsedPart] {
    let outcome = feed([input], boundary: boundary)
    #expect(outcome.error == nil, sourceLocation: sourceLocation)
    return outcome.parts
}

/// Splits `input` at the given ascending offsets.
private func split(_ input: [UInt8], at offsets: [Int]) -> [[UInt8]] {
    var chunks: [[UInt8]] = []
    var start = 0
    for offset in offsets {
        chunks.append(Array(input[start..<offset]))
        start = offset
    }
    chunks.append(Array(input[start...]))
    return chunks
}

private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

/// Builds a multipart body from header lines and bodies.
private func multipartBody(
    _ parts: [(headers: [String], body: [UInt8])],
    boundary: String = boundary,
    preamble: String? = nil,
    epilogue: String? = nil
) -> [UInt8] {
    var output: [UInt8] = []
    if let preamble { output += bytes(preamble + "\r\n") }
    for (index, part) in parts.enumerated() {
        output += bytes((index == 0 ? "" : "\r\n") + "--\(boundary)\r\n")
        for header in part.headers { output += bytes(header + "\r\n") }
        output += bytes("\r\n")
        output += part.body
    }
    output += bytes((parts.isEmpty ? "" : "\r\n") + "--\(boundary)--")
    if let epilogue { output += bytes("\r\n" + epilogue) }
    return output
}

/// Bytes that stress the delimiter search: CR, LF, dashes and boundary prefixes, plus every byte value.
private let trickyBinary: [UInt8] =
    Array(0...255) + bytes("\r\n--") + bytes("\r\n--XbOuNdAr") + bytes("--XbOuNdArY") + [0x0D, 0x0D, 0x0A, 0x0A]
    + bytes("\n--XbOuNdArY\r\n") + bytes("\r--XbOuNdArY") + bytes("\r\n-") + [0, 0x0D]
    + bytes("\r\n--XbOuNdArX") + bytes("\r\n")

/// A deterministic pseudo-random generator (SplitMix64) so failures reproduce.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private let sampleForm = multipartBody(
    [
        (["Content-Disposition: form-data; name=\"title\""], bytes("Hello -- world\r\nsecond line")),
        (
            [
                "Content-Disposition: form-data; name=\"upload\"; filename=\"data.bin\"",
                "Content-Type: application/octet-stream",
            ],
            trickyBinary
        ),
        (["Content-Disposition: form-data; name=\"empty\""], []),
    ],
    preamble: "This is the preamble.\r\n-- it has dashes --",
    epilogue: "This is the epilogue.\r\n--XbOuNdArY\r\n"
)

// MARK: - Boundary extraction

@Suite("MultipartParser.boundary(fromContentType:)")
struct MultipartBoundaryTests {
    @Test(arguments: [
        ("multipart/form-data; boundary=abc123", "abc123"),
        ("multipart/form-data;boundary=abc", "abc"),
        ("Multipart/Form-Data; BOUNDARY=abc", "abc"),
        ("multipart/form-data; charset=utf-8; boundary=\"a b'()+_,-./:=?\"", "a b'()+_,-./:=?"),
        ("multipart/form-data; boundary=\"quoted\"; charset=utf-8", "quoted"),
        (
            "  multipart/form-data ; boundary = ----WebKitFormBoundary7MA4YWxkTrZu0gW ",
            "----WebKitFormBoundary7MA4YWxkTrZu0gW"
        ),
        ("multipart/form-data; boundary=x", "x"),
        ("multipart/form-data; boundary=" + String(repeating: "b", count: 70), String(repeating: "b", count: 70)),
        ("multipart/form-data; boundary=first; boundary=second", "first"),
    ])
    func extractsValidBoundaries(_ contentType: String, _ expected: String) {
        #expect(MultipartParser.boundary(fromContentType: contentType) == expected)
    }

    @Test(arguments: [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=" + String(repeating: "b", count: 71),
        "multipart/form-data; boundary=\"ends with space \"",
        "multipart/form-data; boundary=bad\u{7F}char",
        "multipart/form-data; boundary=\"semi;colon\"",
        "multipart/form-data; boundary=caf\u{E9}",
        "multipart/mixed; boundary=abc",
        "application/x-www-form-urlencoded; boundary=abc",
        "text/plain",
        "",
        "multipart/form-data; notboundary=abc",
    ])
    func rejectsInvalidContentTypes(_ contentType: String) {
        #expect(MultipartParser.boundary(fromContentType: contentType) == nil)
    }
}

// MARK: - Parsing

@Suite("MultipartParser")
struct MultipartParserTests {
    @Test func parsesSimpleForm() {
        let input = bytes(
            "--XbOuNdArY\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue a\r\n"
                + "--XbOuNdArY\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nvalue b\r\n--XbOuNdArY--\r\n"
        )
        let parts = parseWhole(input)
        #expect(parts.map(\.name) == ["a", "b"])
        #expect(parts.map(\.body) == [bytes("value a"), bytes("value b")])
        #expect(parts[0].headers == [["Content-Disposition", "form-data; name=\"a\""]])
        #expect(parts[0].filename == nil && parts[0].contentType == nil)
    }

    @Test func parsesFileWithBinaryBytes() {
        let parts = parseWhole(sampleForm)
        #expect(parts.count == 3)
        #expect(parts[0].name == "title")
        #expect(parts[0].body == bytes("Hello -- world\r\nsecond line"))
        #expect(parts[1].name == "upload")
        #expect(parts[1].filename == "data.bin")
        #expect(parts[1].contentType == "application/octet-stream")
        #expect(parts[1].body == trickyBinary)
        #expect(parts[2].name == "empty")
        #expect(parts[2].body.isEmpty)
    }

    @Test func splittingAtEveryPositionGivesIdenticalParts() {
        let expected = parseWhole(sampleForm)
        #expect(expected.count == 3)
        for offset in 0...sampleForm.count {
            let outcome = feed(split(sampleForm, at: [offset]))
            #expect(outcome.error == nil, "split at \(offset)")
            #expect(outcome.parts == expected, "split at \(offset)")
        }
    }

    @Test func splittingAtEveryPairOfPositionsGivesIdenticalParts() {
        let input = multipartBody(
            [
                (["Content-Disposition: form-data; name=\"f\"; filename=\"x\""], bytes("a\r\n--XbOuNdAr\r\n-\r")),
                ([], bytes("--")),
            ],
            preamble: "pre",
            epilogue: "post"
        )
        let expected = parseWhole(input)
        #expect(expected.count == 2)
        for first in 0...input.count {
            for second in first...input.count {
                let outcome = feed(split(input, at: [first, second]))
                #expect(outcome.parts == expected && outcome.error == nil, "split at \(first), \(second)")
            }
        }
    }

    @Test func feedingOneByteAtATimeGivesIdenticalParts() {
        let expected = parseWhole(sampleForm)
        let outcome = feed(sampleForm.map { [$0] })
        #expect(outcome.error == nil)
        #expect(outcome.parts == expected)
    }

    @Test func randomBodiesAndChunkingRoundTrip() {
        var random = SplitMix64(state: 0x5EED)
        let alphabet = bytes("\r\n-XbOuNdArY ab") + [0, 0xFF]
        for iteration in 0..<300 {
            let boundary = ["XbOuNdArY", "b", "--", String(repeating: "z", count: 70)][iteration % 4]
            let delimiter = bytes("\r\n--" + boundary)
            var parts: [(headers: [String], body: [UInt8])] = []
            for index in 0..<Int.random(in: 0...4, using: &random) {
                var body: [UInt8]
                repeat {
                    body = (0..<Int.random(in: 0...120, using: &random)).map { _ in
                        alphabet.randomElement(using: &random)!
                    }
                } while (bytes("\r\n") + body + bytes("\r\n")).firstRange(of: delimiter) != nil
                parts.append((["Content-Disposition: form-data; name=\"p\(index)\""], body))
            }
            let input = multipartBody(parts, boundary: boundary, preamble: "pre", epilogue: "epi")
            var offsets: [Int] = []
            var offset = 0
            while true {
                offset += Int.random(in: 1...40, using: &random)
                guard offset < input.count else { break }
                offsets.append(offset)
            }
            let drains = (0...offsets.count).map { _ in Bool.random(using: &random) }
            let outcome = feed(split(input, at: offsets), boundary: boundary, drainAfter: { drains[$0] })
            #expect(outcome.error == nil, "iteration \(iteration)")
            #expect(outcome.parts.map(\.body) == parts.map(\.body), "iteration \(iteration)")
            #expect(outcome.parts.map(\.name) == parts.indices.map { "p\($0)" }, "iteration \(iteration)")
        }
    }

    @Test func skipsPreambleAndEpilogue() {
        let input = bytes(
            "preamble line 1\r\n--XbOuNdAr\r\n-- not a boundary\r\n--XbOuNdArY\r\n"
                + "Content-Disposition: form-data; name=\"a\"\r\n\r\nA\r\n--XbOuNdArY--\r\nepilogue\r\n--XbOuNdArY\r\ngarbage"
        )
        let parts = parseWhole(input)
        #expect(parts.map(\.body) == [bytes("A")])
    }

    @Test func acceptsCRLFBeforeTheFirstBoundary() {
        let parts = parseWhole(bytes("\r\n--XbOuNdArY\r\n\r\nA\r\n--XbOuNdArY--"))
        #expect(parts.map(\.body) == [bytes("A")])
    }

    @Test func dashBoundaryAfterPreambleNeedsCRLF() {
        // "--XbOuNdArY" not at the start of the body and not after CRLF is preamble text.
        let parts = parseWhole(bytes("x--XbOuNdArY\r\n\r\n--XbOuNdArY\r\n\r\nA\r\n--XbOuNdArY--"))
        #expect(parts.map(\.body) == [bytes("A")])
    }

    @Test func acceptsTransportPaddingAfterBoundaries() {
        let input = bytes(
            "--XbOuNdArY \t \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nA\r\n--XbOuNdArY\t\r\n"
                + "Content-Disposition: form-data; name=\"b\"\r\n\r\nB\r\n--XbOuNdArY--  \r\nepilogue"
        )
        let parts = parseWhole(input)
        #expect(parts.map(\.body) == [bytes("A"), bytes("B")])
    }

    @Test func partWithoutHeadersAndEmptyBody() {
        let parts = parseWhole(bytes("--XbOuNdArY\r\n\r\n\r\n--XbOuNdArY\r\n\r\nx\r\n--XbOuNdArY--"))
        #expect(parts.count == 2)
        #expect(parts[0].headers.isEmpty && parts[0].body.isEmpty && parts[0].name == nil)
        #expect(parts[1].body == bytes("x"))
    }

    @Test func bodyWithNoParts() {
        let outcome = feed([bytes("--XbOuNdArY--\r\n")])
        #expect(outcome.error == nil)
        #expect(outcome.parts.isEmpty)
    }

    @Test func bodyKeepsDelimiterLookalikes() {
        let body = bytes(
            "x--XbOuNdArY\n--XbOuNdArY\r--XbOuNdArY\r\n-XbOuNdArY\r\n--XbOuNdAr\r\n--xbounday\r\n\r\n--"
        )
        let parts = parseWhole(multipartBody([([], body)]))
        #expect(parts.map(\.body) == [body])
    }

    @Test func bodyEndingInCRLFKeepsIt() {
        let parts = parseWhole(bytes("--XbOuNdArY\r\n\r\nline\r\n\r\n\r\n--XbOuNdArY--"))
        #expect(parts.map(\.body) == [bytes("line\r\n\r\n")])
    }

    @Test func appendAfterEndIsIgnored() throws {
        var parser = MultipartParser(boundary: boundary, limits: MultipartLimits())
        parser.append(ByteBuffer(string: "--XbOuNdArY\r\n\r\nA\r\n--XbOuNdArY--"))
        var events = 0
        while try parser.next() != nil { events += 1 }
        #expect(events == 4)  // head, body, partEnd, end
        parser.append(ByteBuffer(string: "\r\n--XbOuNdArY\r\n\r\nB\r\n--XbOuNdArY--"))
        #expect(try parser.next() == nil)
        try parser.finish()
    }

    @Test func largeChunkBodyIsSlicedNotCopied() throws {
        var parser = MultipartParser(boundary: boundary, limits: MultipartLimits())
        parser.append(ByteBuffer(string: "--XbOuNdArY\r\n\r\nabcdef\r\n--"))
        #expect(try parser.next().map(isPartHead) == true)
        guard case .body(let first) = try parser.next() else {
            Issue.record("expected body")
            return
        }
        #expect(first.readableBytes == 6)
        #expect(try parser.next() == nil)  // "\r\n--" is held back

        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 65_536)
        let chunk = ByteBuffer(bytes: payload + bytes("\r\n--XbOuNdArY--"))
        parser.append(chunk)
        guard case .body(let heldBack) = try parser.next() else {
            Issue.record("expected held-back body")
            return
        }
        #expect(heldBack.readableBytes == 4)
        guard case .body(let large) = try parser.next() else {
            Issue.record("expected body")
            return
        }
        #expect(large.readableBytes == payload.count)
        let chunkStart = chunk.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let sliceStart = large.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(chunkStart == sliceStart, "body must be a slice of the appended chunk")
        guard case .partEnd = try parser.next(), case .end = try parser.next() else {
            Issue.record("expected part end and end")
            return
        }
        try parser.finish()
    }

    @Test func heldBackBytesNeverExceedDelimiterLength() throws {
        // Bytes that are not a delimiter prefix are released at once; a prefix is held back.
        var parser = MultipartParser(boundary: boundary, limits: MultipartLimits())
        parser.append(ByteBuffer(string: "--XbOuNdArY\r\n\r\n"))
        _ = try parser.next()
        var released = 0
        var maximumHeldBack = 0
        let body = bytes(String(repeating: "\r\n--XbOuNdAr", count: 200))
        for (index, byte) in body.enumerated() {
            parser.append(ByteBuffer(bytes: [byte]))
            while case .body(let slice) = try parser.next() { released += slice.readableBytes }
            maximumHeldBack = max(maximumHeldBack, index + 1 - released)
        }
        #expect(maximumHeldBack == boundary.utf8.count + 3)
    }

    @Test func severalAppendsBeforeDrainingFindSplitDelimiters() throws {
        let rest = bytes("ab\r\n--XbOuNdArY--")
        for offset in 1..<rest.count {
            var parser = MultipartParser(boundary: boundary, limits: MultipartLimits())
            parser.append(ByteBuffer(string: "--XbOuNdArY\r\n\r\n"))
            #expect(try parser.next().map(isPartHead) == true)
            parser.append(ByteBuffer(bytes: rest[..<offset]))
            parser.append(ByteBuffer(bytes: rest[offset...]))
            var body: [UInt8] = []
            var sawEnd = false
            while let event = try parser.next() {
                switch event {
                case .body(var slice): body += slice.readBytes(length: slice.readableBytes) ?? []
                case .end: sawEnd = true
                case .partHead, .partEnd: break
                }
            }
            try parser.finish()
            #expect(body == bytes("ab"), "split at \(offset)")
            #expect(sawEnd, "split at \(offset)")
        }
    }

    @Test func boundaryCharactersWithSpecialMeaning() {
        let special = "a b'()+_,-./:=?"
        let parts = parseWhole(
            multipartBody([(["Content-Disposition: form-data; name=\"x\""], bytes("v"))], boundary: special),
            boundary: special
        )
        #expect(parts.map(\.body) == [bytes("v")])
    }

    // MARK: Content-Disposition and headers

    @Test(
        arguments: [
            ("form-data; name=\"a\\\"b\"; filename=\"c\\\\d.txt\"", "a\"b", "c\\d.txt"),
            ("form-data; name=plain; filename=file.txt", "plain", "file.txt"),
            ("FORM-DATA; NAME=\"x\"; FileName=\"y\"", "x", "y"),
            ("form-data; name=\"a;b\"; filename=\"semi;colon=.txt\"", "a;b", "semi;colon=.txt"),
            ("form-data;name=\"tight\";filename=\"t\"", "tight", "t"),
            ("form-data; name = \"spaced\" ; filename = \"s\" ", "spaced", "s"),
            (
                "form-data; name=\"f\"; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt", "f",
                "€ rates.txt"
            ),
            ("form-data; filename*=utf-8'en'na%C3%AFve.txt; name=\"f\"; filename=\"naive.txt\"", "f", "naïve.txt"),
            ("form-data; name=\"f\"; filename*=iso-8859-1'en'%A3%20rates", "f", "£ rates"),
            ("form-data; name=\"f\"; filename=\"ok.txt\"; filename*=UTF-8''%zz", "f", "ok.txt"),
            ("form-data; name=\"f\"; filename=\"ok.txt\"; filename*=KOI8-R''%C1", "f", "ok.txt"),
            ("form-data; name*=UTF-8''%C3%A9t%C3%A9; name=\"ete\"", "été", nil),
            ("form-data; name=\"résumé\"; filename=\"résumé.pdf\"", "résumé", "résumé.pdf"),
            ("form-data; name=\"unterminated", "unterminated", nil),
            ("form-data; flag; name=\"n\"", "n", nil),
            ("form-data", nil, nil),
        ] as [(String, String?, String?)])
    func contentDispositionParameters(_ disposition: String, _ name: String?, _ filename: String?) {
        let head = MultipartPartHead(headers: [(name: "content-disposition", value: disposition)])
        #expect(head.name == name)
        #expect(head.filename == filename)
    }

    @Test func headersAreKeptInOrderAndLookedUpCaseInsensitively() {
        let input = multipartBody([
            (
                [
                    "Content-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"",
                    "content-type:  text/plain; charset=utf-8 \t",
                    "X-Custom: one",
                    "x-custom: two",
                    "X-Empty:",
                ],
                bytes("text")
            )
        ])
        let outcome = feed([input])
        #expect(outcome.error == nil)
        let part = outcome.parts.first
        #expect(
            part?.headers == [
                ["Content-Disposition", "form-data; name=\"doc\"; filename=\"a.txt\""],
                ["content-type", "text/plain; charset=utf-8"],
                ["X-Custom", "one"],
                ["x-custom", "two"],
                ["X-Empty", ""],
            ]
        )
        #expect(part?.contentType == "text/plain; charset=utf-8")
        let head = MultipartPartHead(headers: [(name: "X-Custom", value: "one"), (name: "x-custom", value: "two")])
        #expect(head.header("X-CUSTOM") == "one")
        #expect(head.header("missing") == nil)
    }

    // MARK: Errors

    @Test(arguments: [
        "",
        "preamble only",
        "--XbOuNdArY",
        "--XbOuNdArY\r\n",
        "--XbOuNdArY\r\nContent-Disposition: form-data; name=\"a\"\r\n",
        "--XbOuNdArY\r\n\r\nbody without closing delimiter",
        "--XbOuNdArY\r\n\r\nbody\r\n--XbOuNdArY",
        "--XbOuNdArY\r\n\r\nbody\r\n--XbOuNdArY\r\n",
        "--XbOuNdArY\r\n\r\nbody\r\n--XbOuNdArY-",
        "--XbOuNdArY\r\n\r\nbody\r\n--XbOuNdAr",
    ])
    func missingClosingDelimiterFailsOnFinish(_ input: String) {
        for chunks in [[bytes(input)], bytes(input).map { [$0] }] {
            let outcome = feed(chunks)
            #expect(outcome.error == MultipartError(reason: "multipart body ended before the closing boundary"))
        }
    }

    @Test(arguments: [
        ("--XbOuNdArY\r\nContent-Disposition: form-data\n\r\n", "bare LF in multipart part headers"),
        ("--XbOuNdArY\r\nContent-Disposition: form-data\r\n\n", "bare LF in multipart part headers"),
        ("--XbOuNdArY\r\n\n", "bare LF in multipart part headers"),
        ("--XbOuNdArY\r\nX-A: a\rb\r\n\r\n", "invalid character in multipart part header value"),
        ("--XbOuNdArY\r\nX-A: a\u{0}b\r\n\r\n", "invalid character in multipart part header value"),
        ("--XbOuNdArY\r\nX-A: a\u{7F}\r\n\r\n", "invalid character in multipart part header value"),
        ("--XbOuNdArY\r\nX-A: a\r\n folded\r\n\r\n", "obsolete line folding in multipart part headers"),
        ("--XbOuNdArY\r\nX-A: a\r\n\tfolded\r\n\r\n", "obsolete line folding in multipart part headers"),
        ("--XbOuNdArY\r\nno colon here\r\n\r\n", "invalid multipart part header line"),
        ("--XbOuNdArY\r\n: empty name\r\n\r\n", "invalid multipart part header line"),
        ("--XbOuNdArY\r\nX-A : space before colon\r\n\r\n", "invalid multipart part header line"),
        ("--XbOuNdArY\r\nX(A): bad name\r\n\r\n", "invalid multipart part header line"),
        ("--XbOuNdArYX\r\n\r\n", "invalid characters after multipart boundary"),
        ("--XbOuNdArY-\r\n\r\n", "invalid characters after multipart boundary"),
        ("--XbOuNdArY --\r\n\r\n", "invalid characters after multipart boundary"),
        ("--XbOuNdArY\rX\r\n", "invalid characters after multipart boundary"),
        ("--XbOuNdArY\n\r\n", "invalid characters after multipart boundary"),
        ("--XbOuNdArY\r\n\r\nbody\r\n--XbOuNdArYZ\r\n", "invalid characters after multipart boundary"),
    ])
    func malformedInputThrows(_ input: String, _ reason: String) {
        for chunks in [[bytes(input)], bytes(input).map { [$0] }] {
            let outcome = feed(chunks)
            #expect(outcome.error == MultipartError(reason: reason), "\(input.debugDescription)")
        }
    }

    @Test func errorIsSticky() throws {
        var parser = MultipartParser(boundary: boundary, limits: MultipartLimits())
        parser.append(ByteBuffer(string: "--XbOuNdArY\r\nbad\r\n\r\n"))
        let expected = MultipartError(reason: "invalid multipart part header line")
        #expect(throws: expected) { try parser.next() }
        parser.append(ByteBuffer(string: "more"))
        #expect(throws: expected) { try parser.next() }
        #expect(throws: expected) { try parser.finish() }
    }

    @Test func partCountLimit() {
        var limits = MultipartLimits()
        limits.maxParts = 2
        let two = multipartBody([([], bytes("1")), ([], bytes("2"))])
        let three = multipartBody([([], bytes("1")), ([], bytes("2")), ([], bytes("3"))])
        #expect(feed([two], limits: limits).error == nil)
        let outcome = feed([three], limits: limits)
        #expect(outcome.error == MultipartError(reason: "too many parts in multipart body"))
        #expect(outcome.parts.count == 2)
    }

    @Test func partHeaderSizeLimit() {
        var limits = MultipartLimits()
        limits.maxPartHeaderBytes = 64
        // "X-Pad: " + padding + CRLF, then the blank CRLF: exactly 64 bytes of headers.
        let fits = "X-Pad: " + String(repeating: "p", count: 64 - 7 - 2 - 2)
        let tooLong = fits + "p"
        let accepted = multipartBody([([fits], bytes("ok"))])
        let rejected = multipartBody([([tooLong], bytes("no"))])
        for chunking in [{ (input: [UInt8]) in [input] }, { (input: [UInt8]) in input.map { [$0] } }] {
            #expect(feed(chunking(accepted), limits: limits).error == nil)
            #expect(
                feed(chunking(rejected), limits: limits).error
                    == MultipartError(reason: "multipart part headers too large")
            )
        }
    }

    @Test func endlessHeaderLineFailsAtTheLimit() throws {
        var limits = MultipartLimits()
        limits.maxPartHeaderBytes = 100
        var parser = MultipartParser(boundary: boundary, limits: limits)
        parser.append(ByteBuffer(string: "--XbOuNdArY\r\nX-Long: "))
        #expect(try parser.next() == nil)
        var fed = 8
        var failed = false
        while fed <= 101 && !failed {
            parser.append(ByteBuffer(string: "a"))
            fed += 1
            do { _ = try parser.next() } catch { failed = true }
        }
        #expect(failed)
        #expect(fed == 101)
    }

    @Test func manySmallHeaderLinesCountTowardsTheLimit() {
        var limits = MultipartLimits()
        limits.maxPartHeaderBytes = 1000
        let headers = (0..<200).map { "A\($0): b" }
        let outcome = feed([multipartBody([(headers, [])])], limits: limits)
        #expect(outcome.error == MultipartError(reason: "multipart part headers too large"))
    }

    @Test func delimiterPrefixFloodIsBodyData() {
        let body = bytes(String(repeating: "\r\n--XbOuNdAr", count: 5_000))
        let input = multipartBody([([], body)])
        let chunks = stride(from: 0, to: input.count, by: 7).map { Array(input[$0..<min($0 + 7, input.count)]) }
        let outcome = feed(chunks)
        #expect(outcome.error == nil)
        #expect(outcome.parts.map(\.body) == [body])
    }

    @Test func longAndShortBoundaries() {
        for boundary in ["-", "a", String(repeating: "Q", count: 70)] {
            let body = bytes("x\r\n--\r\n-" + boundary.dropLast() + "\r\n")
            let input = multipartBody([([], body), ([], body)], boundary: boundary)
            let whole = feed([input], boundary: boundary)
            let bytewise = feed(input.map { [$0] }, boundary: boundary)
            #expect(whole.error == nil && bytewise.error == nil, "boundary \(boundary)")
            #expect(whole.parts.map(\.body) == [body, body], "boundary \(boundary)")
            #expect(bytewise.parts == whole.parts, "boundary \(boundary)")
        }
    }
}

private func isPartHead(_ event: MultipartEvent) -> Bool {
    if case .partHead = event { return true }
    return false
}
