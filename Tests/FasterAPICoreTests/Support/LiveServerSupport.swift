import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import FasterAPICore

// Support for tests that talk to a real `HTTPServer` over loopback TCP: starting a server on a
// free port, a raw byte-level client on NIO, and a small strict parser for what comes back.

// MARK: - Server

/// A running server on 127.0.0.1 and the port it got.
struct LiveServer<Responder: HTTPResponder>: Sendable {
    let server: HTTPServer<Responder>
    let port: Int
}

/// A configuration for tests: 127.0.0.1, port 0, and timeouts that keep a failing test short.
func testConfiguration(_ configure: (inout ServerConfiguration) -> Void = { _ in }) -> ServerConfiguration {
    var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
    configuration.requestHeadTimeout = .seconds(5)
    configuration.idleTimeout = .seconds(10)
    configuration.shutdownGracePeriod = .seconds(3)
    configure(&configuration)
    return configuration
}

/// A logger that keeps the test output to warnings and errors.
let quietLogger: Logger = {
    var logger = Logger(label: "FasterAPICoreTests")
    logger.logLevel = .warning
    return logger
}()

/// Starts a server for `responder`, runs `body`, then shuts the server down (also on error).
func withLiveServer<Responder: HTTPResponder, T>(
    _ responder: Responder,
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (LiveServer<Responder>) async throws -> T
) async throws -> T {
    let server = HTTPServer(responder: responder, configuration: testConfiguration(configure), logger: quietLogger)
    let address = try await server.start()
    let live = LiveServer(server: server, port: address.port ?? 0)
    do {
        let result = try await body(live)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

// MARK: - Responders

/// What a ``RecordingResponder`` saw, in order.
enum ResponderEvent: Equatable, Sendable {
    case called(String)
    case bodyComplete(String, Int)
    case bodyFailed(String, String)
}

/// A thread-safe log shared between a responder and the test.
final class EventLog<Event: Sendable>: Sendable {
    private let storage = Mutex<[Event]>([])
    func append(_ event: Event) { storage.withLock { $0.append(event) } }
    var events: [Event] { storage.withLock { $0 } }
}

/// A flag the test opens to let a waiting responder go on.
final class Gate: Sendable {
    private let open = Mutex(false)
    func release() { open.withLock { $0 = true } }
    var isOpen: Bool { open.withLock { $0 } }
    /// Waits (bounded) until the gate is released; returns whether it was.
    @discardableResult
    func wait(timeout: Duration = .seconds(10)) async -> Bool {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while !isOpen {
            if clock.now > end { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }
}

/// Echoes the request body (collected) with the target in `X-Target`; records every call.
///
/// Paths: `/sleep/<ms>/...` sleeps before answering; anything else answers at once.
struct RecordingResponder: HTTPResponder {
    let log = EventLog<ResponderEvent>()

    func respond(to request: HTTPRequest) async throws -> Response {
        let target = request.head.target
        log.append(.called(target))
        if target.hasPrefix("/sleep/"), let ms = Int(target.split(separator: "/")[1]) {
            try await Task.sleep(for: .milliseconds(ms))
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: .max)
        } catch {
            log.append(.bodyFailed(target, "\(error)"))
            throw error
        }
        log.append(.bodyComplete(target, body.readableBytes))
        var headers = HTTPHeaders()
        headers.add(name: "X-Target", value: target)
        headers.add(name: "Content-Type", value: "application/octet-stream")
        return Response(status: .ok, headers: headers, body: ResponseBody(buffer: body))
    }
}

/// A responder from a closure.
struct ClosureResponder: HTTPResponder {
    let handler: @Sendable (HTTPRequest) async throws -> Response
    init(_ handler: @escaping @Sendable (HTTPRequest) async throws -> Response) { self.handler = handler }
    func respond(to request: HTTPRequest) async throws -> Response { try await handler(request) }
}

// MARK: - Raw TCP client

/// What a raw connection has seen so far.
struct RawState: Sendable, CustomStringConvertible {
    var received: [UInt8] = []
    var closed = false
    var error: String? = nil

    var description: String {
        "closed=\(closed) error=\(error ?? "none") received(\(received.count))=\(String(decoding: received.prefix(600), as: UTF8.self).debugDescription)"
    }
}

/// Collects every byte the server sends and notes when it closes.
private final class CollectingHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let box: RawStateBox
    init(box: RawStateBox) { self.box = box }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        box.state.withLock { $0.received.append(contentsOf: buffer.readableBytesView) }
    }
    func channelInactive(context: ChannelHandlerContext) {
        box.state.withLock { $0.closed = true }
        context.fireChannelInactive()
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        box.state.withLock { $0.error = "\(error)" }
        context.close(promise: nil)
    }
}

/// Shared state box (a class, so the channel handler and the test see the same value).
final class RawStateBox: Sendable {
    let state = Mutex(RawState())
}

/// A raw TCP connection to the server: send exact bytes, see exact bytes.
final class RawConnection: Sendable {
    let channel: any Channel
    private let box: RawStateBox
    private let handler: CollectingHandler

    private init(channel: any Channel, box: RawStateBox, handler: CollectingHandler) {
        self.channel = channel
        self.box = box
        self.handler = handler
    }

    /// Connects to 127.0.0.1:`port`.
    static func connect(port: Int) async throws -> RawConnection {
        let box = RawStateBox()
        let handler = CollectingHandler(box: box)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return RawConnection(channel: channel, box: box, handler: handler)
    }

    /// A snapshot of what has arrived.
    var state: RawState { box.state.withLock { $0 } }
    var received: [UInt8] { state.received }
    var isClosed: Bool { state.closed }

    /// Sends bytes (fails if the connection is gone).
    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    /// Sends `pieces` one after the other with `pause` between them; stops early (without
    /// throwing) when the server closes. Returns how many pieces were sent.
    @discardableResult
    func send(pieces: [[UInt8]], pause: Duration) async -> Int {
        var sent = 0
        for (index, piece) in pieces.enumerated() {
            if isClosed { break }
            do { try await send(piece) } catch { break }
            sent += 1
            if index < pieces.count - 1 { try? await Task.sleep(for: pause) }
        }
        return sent
    }

    /// Waits until `condition` holds for the state, or `timeout` passes; returns the last state.
    @discardableResult
    func wait(timeout: Duration = .seconds(3), until condition: (RawState) -> Bool) async -> RawState {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while true {
            let snapshot = state
            if condition(snapshot) || clock.now > end { return snapshot }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Waits until the server closes (or `timeout` passes) and returns everything received.
    func readUntilClosed(timeout: Duration = .seconds(3)) async -> RawState {
        await wait(timeout: timeout) { $0.closed }
    }

    /// Waits until `count` complete responses have arrived (or the server closes, or `timeout`).
    func waitForResponses(
        _ count: Int, headRequests: Set<Int> = [], timeout: Duration = .seconds(3)
    ) async -> (responses: [ParsedResponse], state: RawState) {
        let state = await wait(timeout: timeout) { state in
            state.closed
                || ((try? ResponseParser.parseAll(state.received, headRequests: headRequests, closed: false))?
                    .responses.count ?? 0) >= count
        }
        let parsed = (try? ResponseParser.parseAll(state.received, headRequests: headRequests, closed: state.closed))
        return (parsed?.responses ?? [], state)
    }

    func close() async {
        try? await channel.close()
    }
}

/// Sends `bytes` on a new connection (optionally in pieces with pauses) and collects everything
/// the server sends until it closes or `timeout` passes.
func rawExchange(
    port: Int, pieces: [[UInt8]], pause: Duration = .milliseconds(0), timeout: Duration = .seconds(3)
) async throws -> RawState {
    let connection = try await RawConnection.connect(port: port)
    await connection.send(pieces: pieces, pause: pause)
    let state = await connection.readUntilClosed(timeout: timeout)
    await connection.close()
    return state
}

// MARK: - Response parsing

/// A response as it came over the wire.
struct ParsedResponse: Sendable, CustomStringConvertible {
    var version: String
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// Whether the body was chunk-encoded, and the chunk sizes seen.
    var chunkSizes: [Int]? = nil

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
    func headerValues(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }
    var text: String { String(decoding: body, as: UTF8.self) }
    var description: String {
        "\(version) \(status) \(headers.map { "\($0.name): \($0.value)" }) body=\(text.prefix(200))"
    }
}

struct ResponseParseError: Error, CustomStringConvertible {
    var description: String
}

/// A strict parser for HTTP/1.x responses as a client sees them (1xx included).
enum ResponseParser {
    /// Parses as many complete responses as `bytes` holds. `headRequests` are the indexes of
    /// final responses that answer HEAD (they have no body). When `closed`, a response without
    /// framing takes the rest of the bytes as its body.
    static func parseAll(
        _ bytes: [UInt8], headRequests: Set<Int> = [], closed: Bool
    ) throws -> (responses: [ParsedResponse], rest: Int) {
        var responses: [ParsedResponse] = []
        var index = 0
        var finalCount = 0
        while index < bytes.count {
            guard
                let (response, next) = try parseOne(
                    bytes, from: index, isHead: headRequests.contains(finalCount), closed: closed)
            else { break }
            responses.append(response)
            if response.status >= 200 { finalCount += 1 }
            index = next
        }
        return (responses, index)
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from: Int) -> Int? {
        guard bytes.count >= needle.count, from <= bytes.count - needle.count else { return nil }
        var i = from
        while i <= bytes.count - needle.count {
            if bytes[i] == needle[0], Array(bytes[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    private static let crlf: [UInt8] = [13, 10]

    static func parseOne(
        _ bytes: [UInt8], from start: Int, isHead: Bool, closed: Bool
    ) throws -> (ParsedResponse, Int)? {
        guard let headEnd = find([13, 10, 13, 10], in: bytes, from: start) else { return nil }
        let headText = String(decoding: bytes[start..<headEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), parts[1].count == 3 else {
            throw ResponseParseError(description: "bad status line: \(statusLine)")
        }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else {
                throw ResponseParseError(description: "bad header line: \(line)")
            }
            let name = String(line[..<colon])
            guard !name.isEmpty, !name.contains(" ") else {
                throw ResponseParseError(description: "bad header name: \(line)")
            }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
            headers.append((name, value))
        }
        var response = ParsedResponse(
            version: String(parts[0]), status: status, headers: headers.map { (name: $0.0, value: $0.1) }, body: [])
        var index = headEnd + 4
        if status < 200 || status == 204 || status == 304 || isHead {
            return (response, index)
        }
        let te = response.headerValues("transfer-encoding")
        let cl = response.headerValues("content-length")
        if !te.isEmpty {
            guard cl.isEmpty else { throw ResponseParseError(description: "both Content-Length and Transfer-Encoding") }
            guard te.joined(separator: ",").lowercased().trimmingCharacters(in: .whitespaces) == "chunked" else {
                throw ResponseParseError(description: "unexpected Transfer-Encoding \(te)")
            }
            var sizes: [Int] = []
            var body: [UInt8] = []
            while true {
                guard let lineEnd = find(crlf, in: bytes, from: index) else { return nil }
                let line = String(decoding: bytes[index..<lineEnd], as: UTF8.self)
                let sizeText = line.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
                guard !sizeText.isEmpty, sizeText.allSatisfy(\.isHexDigit), let size = Int(sizeText, radix: 16) else {
                    throw ResponseParseError(description: "bad chunk line: \(line)")
                }
                index = lineEnd + 2
                if size == 0 {
                    // Trailers (none expected) then CRLF.
                    guard let end = find(crlf, in: bytes, from: index) else { return nil }
                    guard end == index else { throw ResponseParseError(description: "unexpected trailers") }
                    index = end + 2
                    break
                }
                guard bytes.count >= index + size + 2 else { return nil }
                body.append(contentsOf: bytes[index..<(index + size)])
                guard bytes[index + size] == 13, bytes[index + size + 1] == 10 else {
                    throw ResponseParseError(description: "chunk data not followed by CRLF")
                }
                sizes.append(size)
                index += size + 2
            }
            response.body = body
            response.chunkSizes = sizes
            return (response, index)
        }
        if !cl.isEmpty {
            guard Set(cl).count == 1, let length = Int(cl[0]), length >= 0 else {
                throw ResponseParseError(description: "bad Content-Length \(cl)")
            }
            guard bytes.count >= index + length else { return nil }
            response.body = Array(bytes[index..<(index + length)])
            return (response, index + length)
        }
        // Close-delimited.
        guard closed else { return nil }
        response.body = Array(bytes[index...])
        return (response, bytes.count)
    }
}

// MARK: - Helpers

extension Array where Element == UInt8 {
    /// How many times `needle` occurs.
    func occurrences(of needle: String) -> Int {
        let pattern = Array(needle.utf8)
        guard !pattern.isEmpty, count >= pattern.count else { return 0 }
        var n = 0
        var i = 0
        while i <= count - pattern.count {
            if self[i] == pattern[0], Array(self[i..<(i + pattern.count)]) == pattern {
                n += 1
                i += pattern.count
            } else {
                i += 1
            }
        }
        return n
    }

    var text: String { String(decoding: self, as: UTF8.self) }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(3), _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let end = clock.now + timeout
    while !condition() {
        if clock.now > end { return false }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return true
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
