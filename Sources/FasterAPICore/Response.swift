import NIOConcurrencyHelpers
import NIOCore

/// An HTTP response: status, header fields and a body.
public struct Response: Sendable {
    /// The status.
    public var status: HTTPStatus
    /// Header fields. The server adds `Content-Length` or `Transfer-Encoding`, `Date` and
    /// `Connection` itself.
    public var headers: HTTPHeaders
    /// The body.
    public var body: ResponseBody
    /// Work to run once the response has been sent (or the client has gone): a request's
    /// background tasks and dependency teardown. The connection moves on to its next request
    /// after it.
    public var afterSent: (@Sendable () async -> Void)?
    /// What takes the connection over once the head has been sent (a WebSocket session): set on
    /// a `101 Switching Protocols` answer over HTTP/1.1, or a `200` to an HTTP/2 extended CONNECT
    /// (RFC 8441), where the stream is taken over. Ignored on any other answer.
    public var upgrade: ConnectionUpgrade?

    /// A response from its parts; by default 200 with no header fields and no body.
    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders(), body: ResponseBody = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

extension Response {
    /// The answer to an error that escaped a responder: its status and detail as
    /// `{"detail": …}` if it is an ``HTTPStatusError``, else 500 without its text.
    init(error: any Error) {
        let status: HTTPStatus
        let detail: String
        if let error = error as? any HTTPStatusError {
            status = error.status
            detail = error.detail
        } else {
            status = .internalServerError
            detail = "Internal Server Error"
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        self.init(status: status, headers: headers, body: ResponseBody(string: "{\"detail\":\(jsonQuoted(detail))}"))
    }
}

/// Takes a connection over from HTTP after a `101 Switching Protocols` response (HTTP/1.1), or an
/// HTTP/2 stream after a `2xx` to an extended CONNECT.
public struct ConnectionUpgrade: Sendable {
    /// Runs the new protocol until it ends. It is called in a task of its own once the HTTP
    /// head has been written and HTTP has left the channel's pipeline; `run` owns the channel
    /// from then on (and closes it when done).
    public let run: @Sendable (UpgradedConnection) async throws -> Void

    /// An upgrade that runs `run`.
    public init(_ run: @escaping @Sendable (UpgradedConnection) async throws -> Void) { self.run = run }
}

/// A connection handed over by HTTP.
public struct UpgradedConnection: Sendable {
    /// The channel, carrying bytes: the connection (its pipeline holds only what lies below
    /// HTTP/1.1, such as TLS), or an HTTP/2 stream whose DATA frames carry them.
    public let channel: any Channel
    /// Bytes the client sent after the request, already read: the new protocol's first bytes.
    public let buffered: ByteBuffer
}

/// A response body: bytes in memory, or a producer that streams them.
public struct ResponseBody: Sendable {
    enum Storage: Sendable {
        case buffer(ByteBuffer)
        case stream(length: Int?, @Sendable (ResponseBodyWriter) async throws -> Void)
    }

    let storage: Storage

    /// No body.
    public static let empty = ResponseBody(buffer: ByteBuffer())

    /// A body already in memory.
    public init(buffer: ByteBuffer) { self.storage = .buffer(buffer) }

    /// A UTF-8 string body.
    public init(string: String) { self.storage = .buffer(ByteBuffer(string: string)) }

    /// A streamed body. `length`, if known, is sent as `Content-Length`; otherwise HTTP/1.1 uses
    /// chunked encoding. `produce` writes the bytes; it may suspend, and each write waits while
    /// the client is not keeping up.
    public init(length: Int? = nil, produce: @escaping @Sendable (ResponseBodyWriter) async throws -> Void) {
        self.storage = .stream(length: length, produce)
    }

    /// The bytes, if the body is in memory.
    public var buffer: ByteBuffer? {
        if case .buffer(let buffer) = storage { return buffer }
        return nil
    }

    /// The length, if known before sending.
    public var knownLength: Int? {
        switch storage {
        case .buffer(let buffer): buffer.readableBytes
        case .stream(let length, _): length
        }
    }

    /// The streaming producer, if the body is streamed.
    public var producer: (@Sendable (ResponseBodyWriter) async throws -> Void)? {
        if case .stream(_, let produce) = storage { return produce }
        return nil
    }

    /// Reads the whole body into memory (runs the producer of a streamed body).
    public func collect() async throws -> ByteBuffer {
        try await collectWithTrailers().body
    }

    /// Reads the whole body into memory with the trailer fields the producer gave.
    public func collectWithTrailers() async throws -> (body: ByteBuffer, trailers: HTTPHeaders) {
        switch storage {
        case .buffer(let buffer):
            return (buffer, HTTPHeaders())
        case .stream(_, let produce):
            let sink = CollectingSink()
            try await produce(ResponseBodyWriter(sink))
            return sink.collected.withLockedValue { $0 }
        }
    }
}

/// Where a streamed response body's bytes go: one per protocol codec (and the test client).
public protocol ResponseBodySink: Sendable {
    /// Sends `buffer`, returning once the transport can take more.
    func write(_ buffer: ByteBuffer) async throws
    /// Keeps trailer fields to send after the body, where the protocol can carry them.
    func writeTrailers(_ trailers: HTTPHeaders) async throws
}


/// The writer a streaming body producer is given.
public struct ResponseBodyWriter: Sendable {
    let sink: any ResponseBodySink

    /// Wraps a sink.
    public init(_ sink: any ResponseBodySink) { self.sink = sink }

    /// Sends bytes; suspends while the client is not reading fast enough.
    public func write(_ buffer: ByteBuffer) async throws {
        guard buffer.readableBytes > 0 else { return }
        try await sink.write(buffer)
    }

    /// Sends a UTF-8 string.
    public func write(_ string: String) async throws {
        try await write(ByteBuffer(string: string))
    }

    /// Ends the body with trailer fields (a checksum, a gRPC status): sent as a trailing
    /// HEADERS frame over HTTP/2 and after the last chunk in chunked HTTP/1.1; dropped when
    /// the body has a declared length over HTTP/1.1. Nothing may be written after them.
    public func writeTrailers(_ trailers: HTTPHeaders) async throws {
        try await sink.writeTrailers(trailers)
    }
}

final class CollectingSink: ResponseBodySink {
    let collected = NIOLockedValueBox((body: ByteBuffer(), trailers: HTTPHeaders()))
    func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        collected.withLockedValue { _ = $0.body.writeBuffer(&buffer) }
    }
    func writeTrailers(_ trailers: HTTPHeaders) async throws {
        collected.withLockedValue { $0.trailers = trailers }
    }
}
