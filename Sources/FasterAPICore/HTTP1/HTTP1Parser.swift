import NIOCore

/// Why a request could not be parsed: the status to answer with. The connection always closes.
public struct HTTPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The status the server answers with.
    public let status: HTTPStatus
    /// A short, client-safe explanation.
    public let reason: String

    init(_ status: HTTPStatus, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    /// The status code and reason.
    public var description: String { "\(status.code): \(reason)" }
}

/// How a request's body is delimited (RFC 9112 §6.3).
enum HTTP1BodyFraming: Equatable, Sendable {
    case none
    case length(Int)
    case chunked
}

/// One step of parser output.
enum HTTP1ParserEvent {
    /// A complete request head; `framing` says whether body events follow.
    case head(HTTPRequestHead, framing: HTTP1BodyFraming, keepAlive: Bool, expectContinue: Bool)
    /// A piece of body, sliced from the input without copying.
    case body(ByteBuffer)
    /// The body is complete (only after a head whose framing is not `.none`).
    case end
}

/// Limits the HTTP/1.1 parser enforces.
public struct HTTP1ParserLimits: Sendable {
    /// Longest request line (method, target and version) accepted; longer gets 414.
    public var maxRequestLineLength: Int = 8 * 1024
    /// Largest request head (request line plus header fields) accepted; larger gets 431.
    public var maxHeadBytes: Int = 32 * 1024
    /// Most header fields accepted; more gets 431.
    public var maxHeaderCount: Int = 100
    /// Longest chunk-size line, extensions included; longer gets 400.
    public var maxChunkLineLength: Int = 4 * 1024

    /// The default limits.
    public init() {}
}

/// An incremental, strict HTTP/1.1 request parser (RFC 9112) as a value type.
///
/// Feed it the connection's unread bytes with ``next(_:)``; it consumes what it can and returns
/// one event, or nil when it needs more bytes. It never copies body bytes (they are slices of the
/// input) and scans each head byte once however the head is split across reads. Anything
/// ambiguous that could let two parties frame a message differently (request smuggling) is an
/// error: Content-Length with Transfer-Encoding, differing Content-Lengths, obs-fold, bare CR or
/// LF, bad chunk lines, transfer codings other than a final `chunked`.
struct HTTP1Parser {
    private enum State {
        /// Waiting for the end of a head: bytes before `scanned` hold no head end, and the request
        /// line's LF is at `lineEnd` once seen.
        case head(scanned: Int, lineEnd: Int?)
        case fixedBody(remaining: Int)
        case chunkLine
        case chunkData(remaining: Int)
        case chunkDataEnd
        /// Reading trailer fields: complete lines end before `lineStart`; `fields` counted so far.
        case trailers(lineStart: Int, fields: Int)
        case bodyComplete
    }

    private var state: State = .head(scanned: 0, lineEnd: nil)
    let limits: HTTP1ParserLimits

    init(limits: HTTP1ParserLimits = HTTP1ParserLimits()) {
        self.limits = limits
    }

    /// Whether the parser is between requests (no partial head or body pending).
    var isAtMessageBoundary: Bool {
        if case .head(let scanned, _) = state { return scanned == 0 }
        return false
    }

    /// Consumes bytes from `buffer` and returns the next event, or nil if more bytes are needed.
    mutating func next(_ buffer: inout ByteBuffer) throws(HTTPParseError) -> HTTP1ParserEvent? {
        switch state {
        case .head(let scanned, let lineEnd):
            return try parseHead(&buffer, scanned: scanned, lineEnd: lineEnd)
        case .fixedBody(let remaining):
            guard buffer.readableBytes > 0 else { return nil }
            let count = min(remaining, buffer.readableBytes)
            let slice = buffer.readSlice(length: count)!
            state = count == remaining ? .bodyComplete : .fixedBody(remaining: remaining - count)
            return .body(slice)
        case .bodyComplete:
            state = .head(scanned: 0, lineEnd: nil)
            return .end
        case .chunkLine:
            return try parseChunkLine(&buffer)
        case .chunkData(let remaining):
            guard buffer.readableBytes > 0 else { return nil }
            let count = min(remaining, buffer.readableBytes)
            let slice = buffer.readSlice(length: count)!
            state = count == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - count)
            return .body(slice)
        case .chunkDataEnd:
            guard buffer.readableBytes >= 2 else { return nil }
            guard buffer.readInteger(as: UInt16.self) == 0x0D0A else {
                throw HTTPParseError(.badRequest, "chunk data not followed by CRLF")
            }
            state = .chunkLine
            return try parseChunkLine(&buffer)
        case .trailers(let lineStart, let fields):
            return try parseTrailers(&buffer, lineStart: lineStart, fields: fields)
        }
    }

    // MARK: - Head

    private mutating func parseHead(
        _ buffer: inout ByteBuffer, scanned: Int, lineEnd: Int?
    ) throws(HTTPParseError) -> HTTP1ParserEvent? {
        // Tolerate empty lines before a request line (RFC 9112 §2.2).
        if scanned == 0 {
            while buffer.readableBytes >= 2, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == 0x0D0A {
                buffer.moveReaderIndex(forwardBy: 2)
            }
            if buffer.readableBytes == 1, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == 0x0D {
                return nil
            }
        }
        let limits = self.limits
        // Find the blank line ending the head, and the request line's end, looking at each byte
        // once however the head is split across reads.
        let scan = buffer.withUnsafeReadableBytes { raw -> (end: Int?, scanned: Int, lineEnd: Int?) in
            let limit = min(raw.count, limits.maxHeadBytes + 4)
            var i = max(scanned, 3)
            while i < limit {
                if raw[i] == 0x0A, raw[i - 1] == 0x0D, raw[i - 2] == 0x0A, raw[i - 3] == 0x0D {
                    return (i + 1, i, nil)
                }
                i += 1
            }
            // Incomplete: note where the request line ends, searching only bytes not searched
            // before (`scanned` is at least 3 once bytes were seen, maybe past a short buffer).
            var lineEnd = lineEnd
            var j = max(0, scanned - 3)
            while lineEnd == nil, j < limit {
                if raw[j] == 0x0A { lineEnd = j }
                j += 1
            }
            return (nil, raw.isEmpty ? 0 : max(limit, 3), lineEnd)
        }
        guard let headEnd = scan.end else {
            // A request line may take its limit plus CRLF.
            if let lineEnd = scan.lineEnd {
                if lineEnd + 1 > limits.maxRequestLineLength + 2 {
                    throw HTTPParseError(.uriTooLong, "request line too long")
                }
            } else if buffer.readableBytes > limits.maxRequestLineLength + 1 {
                throw HTTPParseError(.uriTooLong, "request line too long")
            }
            if buffer.readableBytes > limits.maxHeadBytes + 4 {
                throw HTTPParseError(.requestHeaderFieldsTooLarge, "request head too large")
            }
            state = .head(scanned: scan.scanned, lineEnd: scan.lineEnd)
            return nil
        }
        let headBytes = buffer.readSlice(length: headEnd)!
        state = .head(scanned: 0, lineEnd: nil)
        return try parseCompleteHead(headBytes)
    }

    private mutating func parseCompleteHead(_ head: ByteBuffer) throws(HTTPParseError) -> HTTP1ParserEvent {
        let limits = self.limits
        let result: Result<ParsedHead, HTTPParseError> = head.withUnsafeReadableBytes { raw in
            do throws(HTTPParseError) {
                return .success(try Self.parseHeadBytes(raw, limits: limits))
            } catch {
                return .failure(error)
            }
        }
        let parsed = try result.get()
        let fieldsStorage = head.getSlice(at: head.readerIndex + parsed.fieldsStart, length: parsed.fieldsLength)!
        let headers = HTTPHeaders(validatedStorage: fieldsStorage, fields: parsed.fields)
        let requestHead = HTTPRequestHead(
            method: parsed.method, target: parsed.target, version: parsed.version, headers: headers)
        switch parsed.framing {
        case .none: state = .head(scanned: 0, lineEnd: nil)
        case .length(let n): state = .fixedBody(remaining: n)
        case .chunked: state = .chunkLine
        }
        return .head(
            requestHead, framing: parsed.framing, keepAlive: parsed.keepAlive,
            expectContinue: parsed.expectContinue)
    }

    private struct ParsedHead {
        var method: HTTPMethod
        var target: String
        var version: HTTPVersion
        var fields: [HTTPHeaders.Field]
        var fieldsStart: Int
        var fieldsLength: Int
        var framing: HTTP1BodyFraming
        var keepAlive: Bool
        var expectContinue: Bool
    }

    /// Parses a complete head (ending in CRLF CRLF).
    private static func parseHeadBytes(_ raw: UnsafeRawBufferPointer, limits: HTTP1ParserLimits) throws(HTTPParseError)
        -> ParsedHead
    {
        // An over-long request line is 414 whatever else is wrong with it, however it was split.
        let window = min(raw.count, limits.maxRequestLineLength + 2)
        guard let lineFeed = UnsafeRawBufferPointer(rebasing: raw[0..<window]).firstIndex(of: 0x0A),
            lineFeed <= limits.maxRequestLineLength + 1
        else { throw HTTPParseError(.uriTooLong, "request line too long") }
        // Request line: method SP request-target SP HTTP-version CRLF
        var i = 0
        let count = raw.count
        while i < count, raw[i] != 0x20 {
            guard HTTPByteClass.isTokenByte(raw[i]) else { throw HTTPParseError(.badRequest, "invalid method") }
            i += 1
        }
        guard i > 0, i < count else { throw HTTPParseError(.badRequest, "invalid request line") }
        let method = Self.method(UnsafeRawBufferPointer(rebasing: raw[0..<i]))
        i += 1
        let targetStart = i
        while i < count, raw[i] != 0x20 {
            let byte = raw[i]
            guard byte > 0x20, byte < 0x7F else { throw HTTPParseError(.badRequest, "invalid request target") }
            i += 1
        }
        let targetEnd = i
        guard targetEnd > targetStart, i < count else { throw HTTPParseError(.badRequest, "invalid request line") }
        i += 1
        // "HTTP/" DIGIT "." DIGIT CRLF
        guard i + 10 <= count,
            raw[i] == UInt8(ascii: "H"), raw[i + 1] == UInt8(ascii: "T"), raw[i + 2] == UInt8(ascii: "T"),
            raw[i + 3] == UInt8(ascii: "P"), raw[i + 4] == UInt8(ascii: "/"),
            isDigit(raw[i + 5]), raw[i + 6] == UInt8(ascii: "."), isDigit(raw[i + 7]),
            raw[i + 8] == 0x0D, raw[i + 9] == 0x0A
        else { throw HTTPParseError(.badRequest, "invalid HTTP version") }
        var version = HTTPVersion(major: Int(raw[i + 5] - 48), minor: Int(raw[i + 7] - 48))
        guard version.major == 1 else {
            throw HTTPParseError(.httpVersionNotSupported, "only HTTP/1.0 and HTTP/1.1 are served here")
        }
        // A later 1.x is answered as the highest version we implement (RFC 9110 §2.5).
        if version.minor > 1 { version = .http1_1 }
        let target = String(decoding: UnsafeRawBufferPointer(rebasing: raw[targetStart..<targetEnd]), as: UTF8.self)
        i += 10

        // Header fields.
        let fieldsStart = i
        var fields: [HTTPHeaders.Field] = []
        fields.reserveCapacity(12)
        var contentLength: Int? = nil
        var transferCodings: [Substring] = []
        var hasTransferEncoding = false
        var hostCount = 0
        var connectionClose = false
        var connectionKeepAlive = false
        var expectContinue = false
        while true {
            guard i + 1 < count else { throw HTTPParseError(.badRequest, "truncated head") }
            if raw[i] == 0x0D {
                guard raw[i + 1] == 0x0A else { throw HTTPParseError(.badRequest, "bare CR") }
                break
            }
            if raw[i] == 0x20 || raw[i] == 0x09 {
                throw HTTPParseError(.badRequest, "obsolete line folding is not accepted")
            }
            let nameStart = i
            while i < count, raw[i] != UInt8(ascii: ":") {
                guard HTTPByteClass.isTokenByte(raw[i]) else {
                    throw HTTPParseError(.badRequest, "invalid header name")
                }
                i += 1
            }
            guard i < count, i > nameStart else { throw HTTPParseError(.badRequest, "invalid header line") }
            let nameEnd = i
            i += 1
            while i < count, raw[i] == 0x20 || raw[i] == 0x09 { i += 1 }
            let valueStart = i
            var valueEnd = i
            while i < count, raw[i] != 0x0D, raw[i] != 0x0A {
                let byte = raw[i]
                guard HTTPByteClass.isFieldValueByte(byte) else {
                    throw HTTPParseError(.badRequest, "invalid header value")
                }
                i += 1
                if byte != 0x20, byte != 0x09 { valueEnd = i }
            }
            guard i + 1 < count, raw[i] == 0x0D, raw[i + 1] == 0x0A else {
                throw HTTPParseError(.badRequest, "header line not ended by CRLF")
            }
            i += 2
            guard fields.count < limits.maxHeaderCount else {
                throw HTTPParseError(.requestHeaderFieldsTooLarge, "too many header fields")
            }
            fields.append(
                HTTPHeaders.Field(
                    nameStart: Int32(nameStart - fieldsStart), nameLength: Int32(nameEnd - nameStart),
                    valueStart: Int32(valueStart - fieldsStart), valueLength: Int32(valueEnd - valueStart)))

            let name = UnsafeRawBufferPointer(rebasing: raw[nameStart..<nameEnd])
            let value = UnsafeRawBufferPointer(rebasing: raw[valueStart..<valueEnd])
            switch name.count {
            case 4 where equalsLowercase(name, "host"):
                hostCount += 1
            case 6 where equalsLowercase(name, "expect"):
                if equalsLowercase(value, "100-continue") {
                    expectContinue = true
                } else {
                    throw HTTPParseError(.expectationFailed, "unsupported expectation")
                }
            case 10 where equalsLowercase(name, "connection"):
                for token in String(decoding: value, as: UTF8.self).split(separator: ",") {
                    let token = token.trimmingSpaces()
                    if token.caseInsensitiveEquals("close") { connectionClose = true }
                    if token.caseInsensitiveEquals("keep-alive") { connectionKeepAlive = true }
                }
            case 14 where equalsLowercase(name, "content-length"):
                let length = try parseContentLength(value)
                if let existing = contentLength, existing != length {
                    throw HTTPParseError(.badRequest, "conflicting Content-Length values")
                }
                contentLength = length
            case 17 where equalsLowercase(name, "transfer-encoding"):
                hasTransferEncoding = true
                for coding in String(decoding: value, as: UTF8.self).split(
                    separator: ",", omittingEmptySubsequences: false)
                {
                    let coding = coding.trimmingSpaces()
                    guard !coding.isEmpty else { throw HTTPParseError(.badRequest, "empty transfer coding") }
                    transferCodings.append(coding)
                }
            default:
                break
            }
        }
        let fieldsLength = i - fieldsStart

        if version == .http1_1 && hostCount != 1 {
            throw HTTPParseError(.badRequest, hostCount == 0 ? "missing Host header" : "more than one Host header")
        }
        if hostCount > 1 { throw HTTPParseError(.badRequest, "more than one Host header") }

        var framing = HTTP1BodyFraming.none
        if hasTransferEncoding {
            guard contentLength == nil else {
                throw HTTPParseError(.badRequest, "both Content-Length and Transfer-Encoding")
            }
            guard version == .http1_1 else {
                throw HTTPParseError(.badRequest, "Transfer-Encoding in an HTTP/1.0 request")
            }
            let chunkedCount = transferCodings.count { $0.caseInsensitiveEquals("chunked") }
            if transferCodings.contains(where: { !$0.caseInsensitiveEquals("chunked") }) {
                // A coding we do not implement: RFC 9112 §6.1 says 501.
                if transferCodings.last?.caseInsensitiveEquals("chunked") != true {
                    throw HTTPParseError(.badRequest, "chunked must be the final transfer coding")
                }
                throw HTTPParseError(.notImplemented, "unsupported transfer coding")
            }
            guard chunkedCount == 1 else { throw HTTPParseError(.badRequest, "chunked applied more than once") }
            framing = .chunked
        } else if let contentLength, contentLength > 0 {
            framing = .length(contentLength)
        }

        let keepAlive = version == .http1_1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        return ParsedHead(
            method: method, target: target, version: version, fields: fields, fieldsStart: fieldsStart,
            fieldsLength: fieldsLength, framing: framing, keepAlive: keepAlive,
            expectContinue: expectContinue && framing != .none && version == .http1_1)
    }

    /// `Content-Length = 1*DIGIT`, also as a list of identical values ("5, 5").
    private static func parseContentLength(_ value: UnsafeRawBufferPointer) throws(HTTPParseError) -> Int {
        var result: Int? = nil
        var current = 0
        var digits = 0
        var significant = 0
        func finish() throws(HTTPParseError) {
            guard digits > 0 else { throw HTTPParseError(.badRequest, "invalid Content-Length") }
            if let result, result != current { throw HTTPParseError(.badRequest, "conflicting Content-Length values") }
            result = current
            current = 0
            digits = 0
            significant = 0
        }
        var index = 0
        while index < value.count {
            let byte = value[index]
            if isDigit(byte) {
                if current > 0 || byte != 48 { significant += 1 }
                digits += 1
                guard significant <= 18 else { throw HTTPParseError(.contentTooLarge, "Content-Length too large") }
                current = current * 10 + Int(byte - 48)
            } else if byte == UInt8(ascii: ",") {
                try finish()
                index += 1
                while index < value.count, value[index] == 0x20 || value[index] == 0x09 { index += 1 }
                continue
            } else {
                throw HTTPParseError(.badRequest, "invalid Content-Length")
            }
            index += 1
        }
        try finish()
        return result!
    }

    // MARK: - Chunked bodies

    private mutating func parseChunkLine(_ buffer: inout ByteBuffer) throws(HTTPParseError) -> HTTP1ParserEvent? {
        let limits = self.limits
        let lineEnd = buffer.withUnsafeReadableBytes { raw in
            raw[0..<min(raw.count, limits.maxChunkLineLength)].firstIndex(of: 0x0A)
        }
        guard let lineEnd else {
            if buffer.readableBytes >= limits.maxChunkLineLength {
                throw HTTPParseError(.badRequest, "chunk line too long")
            }
            return nil
        }
        let size: Int = try buffer.withUnsafeReadableBytes { raw throws(HTTPParseError) in
            guard lineEnd > 0, raw[lineEnd - 1] == 0x0D else {
                throw HTTPParseError(.badRequest, "chunk line not ended by CRLF")
            }
            return try Self.parseChunkSize(UnsafeRawBufferPointer(rebasing: raw[0..<(lineEnd - 1)]))
        }
        buffer.moveReaderIndex(forwardBy: lineEnd + 1)
        if size == 0 {
            state = .trailers(lineStart: 0, fields: 0)
            return try parseTrailers(&buffer, lineStart: 0, fields: 0)
        }
        state = .chunkData(remaining: size)
        return try next(&buffer)
    }

    /// `chunk-size [ chunk-ext ]` where `chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] )`.
    private static func parseChunkSize(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> Int {
        var i = 0
        var size = 0
        var significant = 0
        while i < line.count, let digit = hexValue(line[i]) {
            if size > 0 || digit > 0 { significant += 1 }
            guard significant <= 15 else { throw HTTPParseError(.badRequest, "chunk size too large") }
            size = size << 4 | Int(digit)
            i += 1
        }
        guard i > 0 else { throw HTTPParseError(.badRequest, "invalid chunk size") }
        func skipWhitespace() { while i < line.count, line[i] == 0x20 || line[i] == 0x09 { i += 1 } }
        func token() throws(HTTPParseError) {
            let start = i
            while i < line.count, HTTPByteClass.isTokenByte(line[i]) { i += 1 }
            guard i > start else { throw HTTPParseError(.badRequest, "invalid chunk extension") }
        }
        while i < line.count {
            // Whitespace is allowed only before a ";" (BWS), never at the end of the line.
            skipWhitespace()
            guard i < line.count, line[i] == UInt8(ascii: ";") else {
                throw HTTPParseError(.badRequest, "invalid chunk size")
            }
            i += 1
            skipWhitespace()
            try token()
            skipWhitespace()
            guard i < line.count, line[i] == UInt8(ascii: "=") else { continue }
            i += 1
            skipWhitespace()
            if i < line.count, line[i] == UInt8(ascii: "\"") {
                i += 1
                var closed = false
                while i < line.count {
                    let byte = line[i]
                    if byte == UInt8(ascii: "\"") { closed = true; i += 1; break }
                    if byte == UInt8(ascii: "\\") { i += 1 }
                    guard i < line.count, HTTPByteClass.isFieldValueByte(line[i]) else {
                        throw HTTPParseError(.badRequest, "invalid chunk extension")
                    }
                    i += 1
                }
                guard closed else { throw HTTPParseError(.badRequest, "invalid chunk extension") }
            } else {
                try token()
            }
        }
        return size
    }

    private mutating func parseTrailers(
        _ buffer: inout ByteBuffer, lineStart: Int, fields: Int
    ) throws(HTTPParseError) -> HTTP1ParserEvent? {
        // The trailer section is header fields ended by an empty line; we validate and drop them,
        // under the same size and count limits as the head. Complete lines are not looked at again.
        let limits = self.limits
        let outcome: Result<(end: Int?, lineStart: Int, fields: Int), HTTPParseError> = buffer.withUnsafeReadableBytes {
            raw in
            var lineStart = lineStart
            var fields = fields
            let window = raw[0..<min(raw.count, limits.maxHeadBytes + 2)]
            while let lf = window[lineStart...].firstIndex(of: 0x0A) {
                guard lf > lineStart, raw[lf - 1] == 0x0D else {
                    return .failure(HTTPParseError(.badRequest, "trailer line not ended by CRLF"))
                }
                if lf == lineStart + 1 { return .success((lf + 1, lineStart, fields)) }
                let line = UnsafeRawBufferPointer(rebasing: raw[lineStart..<(lf - 1)])
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
                    line[0..<colon].allSatisfy(HTTPByteClass.isTokenByte),
                    line[(colon + 1)...].allSatisfy(HTTPByteClass.isFieldValueByte)
                else { return .failure(HTTPParseError(.badRequest, "invalid trailer field")) }
                fields += 1
                guard fields <= limits.maxHeaderCount else {
                    return .failure(HTTPParseError(.requestHeaderFieldsTooLarge, "too many trailer fields"))
                }
                lineStart = lf + 1
            }
            if raw.count > limits.maxHeadBytes {
                return .failure(HTTPParseError(.requestHeaderFieldsTooLarge, "trailer section too large"))
            }
            return .success((nil, lineStart, fields))
        }
        let result = try outcome.get()
        guard let end = result.end else {
            state = .trailers(lineStart: result.lineStart, fields: result.fields)
            return nil
        }
        buffer.moveReaderIndex(forwardBy: end)
        state = .head(scanned: 0, lineEnd: nil)
        return .end
    }

    // MARK: - Bytes

    private static func method(_ bytes: UnsafeRawBufferPointer) -> HTTPMethod {
        switch bytes.count {
        case 3 where bytes.elementsEqual("GET".utf8): .get
        case 3 where bytes.elementsEqual("PUT".utf8): .put
        case 4 where bytes.elementsEqual("POST".utf8): .post
        case 4 where bytes.elementsEqual("HEAD".utf8): .head
        case 5 where bytes.elementsEqual("PATCH".utf8): .patch
        case 6 where bytes.elementsEqual("DELETE".utf8): .delete
        case 7 where bytes.elementsEqual("OPTIONS".utf8): .options
        default: HTTPMethod(String(decoding: bytes, as: UTF8.self))
        }
    }
}

@inline(__always)
func isDigit(_ byte: UInt8) -> Bool { byte &- 48 < 10 }

/// The value of a hexadecimal digit.
@inline(__always)
package func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 48...57: byte - 48
    case 65...70: byte - 55
    case 97...102: byte - 87
    default: nil
    }
}

/// Whether `bytes` equal `lowercase` ignoring ASCII case (`lowercase` must be lower-case ASCII).
@inline(__always)
func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
    guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
    let expected = lowercase.utf8Start
    for i in 0..<bytes.count where asciiLower(bytes[i]) != expected[i] { return false }
    return true
}
