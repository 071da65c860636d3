import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Receives Server-Sent Events from a URL, as browsers' `EventSource` does: the events as an
/// async sequence, reconnecting after the stream ends or the connection drops (waiting the
/// server's `retry` time, 3 s by default) with `Last-Event-ID`, until the server answers with
/// anything but `200 text/event-stream` (204 stops it quietly) or the consumer stops iterating.
///
/// ```swift
/// for try await event in EventSourceClient.events(from: "http://127.0.0.1:8000/events/ticks") {
///     print(event.event, event.data, event.lastEventID)
/// }
/// ```
public enum EventSourceClient {
    /// The events of `url` (`http://` or `https://`). `lastEventID` resumes a stream seen
    /// earlier; `reconnect: false` ends the sequence when the first response ends.
    public static func events(
        from url: String, lastEventID: String? = nil, headers: [(String, String)] = [], reconnect: Bool = true,
        tls: TLSConfiguration = .makeClientConfiguration(), timeout: TimeAmount = .seconds(10)
    ) -> AsyncThrowingStream<ServerSentEvent, any Error> {
        // Every event is kept until it is consumed, as a browser's EventSource does.
        let (stream, continuation) = AsyncThrowingStream<ServerSentEvent, any Error>.makeStream()
        let task = Task {
            var parser = ServerSentEventParser(lastEventID: lastEventID ?? "")
            do {
                while true {
                    let outcome = try await receive(
                        url: url, headers: headers, tls: tls, timeout: timeout, parser: &parser, into: continuation)
                    guard reconnect, outcome == .ended else { break }
                    try await Task.sleep(for: .milliseconds(parser.retry ?? 3000))
                }
                continuation.finish()
            } catch is CancellationError {
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    enum Outcome { case ended, stopped }

    /// Errors that end the sequence.
    public enum Failure: Error, Equatable {
        /// The server answered with a status or media type that is not an event stream.
        case notAnEventStream(status: Int, contentType: String?)
        /// The URL is not http:// or https://.
        case badURL(String)
    }

    /// One request: feeds the body through `parser` until it ends. Connection failures count as
    /// an end (the caller reconnects); a wrong answer throws.
    private static func receive(
        url: String, headers: [(String, String)], tls: TLSConfiguration, timeout: TimeAmount,
        parser: inout ServerSentEventParser, into continuation: AsyncThrowingStream<ServerSentEvent, any Error>.Continuation
    ) async throws -> Outcome {
        guard let destination = ClientTarget(url: url, plain: "http", secure: "https") else { throw Failure.badURL(url) }
        var request = "GET \(destination.target) HTTP/1.1\r\nHost: \(destination.hostField)\r\n"
        request += "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
        if !parser.lastEventID.isEmpty { request += "Last-Event-ID: \(parser.lastEventID)\r\n" }
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"

        let sslContext = destination.secure ? try NIOSSLContext(configuration: tls) : nil
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(timeout)
                .connect(host: destination.host, port: destination.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let sslContext {
                            try channel.pipeline.syncOperations.addHandler(
                                NIOSSLClientHandler(context: sslContext, serverHostname: destination.serverName))
                        }
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            return .ended
        }
        parser.startNewStream()
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var head = ByteBuffer()
            var body = HTTPBodyDecoder.raw
            var headDone = false
            do {
                for try await var chunk in inbound {
                    if !headDone {
                        head.writeBuffer(&chunk)
                        guard let end = head.readableBytesView.firstRange(of: [13, 10, 13, 10]) else { continue }
                        let length = end.upperBound - head.readableBytesView.startIndex
                        let response = ClientResponseHead(head.readString(length: length) ?? "")
                        let status = response?.status ?? 0
                        let contentType = response?.values("content-type").first
                        if status == 204 { return .stopped }
                        guard status == 200, contentType?.lowercased().hasPrefix("text/event-stream") == true else {
                            throw Failure.notAnEventStream(status: status, contentType: contentType)
                        }
                        if response?.tokens("transfer-encoding").contains("chunked") == true { body = .chunked(ChunkedDecoder()) }
                        headDone = true
                        chunk = head
                    }
                    for event in parser.feed(body.decode(&chunk)) { continuation.yield(event) }
                    _ = parser.takeComments()  // heartbeats
                    if body.isFinished { break }
                }
            } catch let failure as Failure {
                throw failure
            } catch {
                // A dropped connection is an end like any other: reconnect.
            }
            return .ended
        }
    }
}

/// An HTTP/1.1 response body's framing: read to the connection's end, or chunked.
enum HTTPBodyDecoder {
    case raw
    case chunked(ChunkedDecoder)

    var isFinished: Bool {
        if case .chunked(let decoder) = self { return decoder.isFinished }
        return false
    }

    /// The body bytes in `input` (consumed).
    mutating func decode(_ input: inout ByteBuffer) -> [UInt8] {
        switch self {
        case .raw:
            defer { input.clear() }
            return Array(input.readableBytesView)
        case .chunked(var decoder):
            let bytes = decoder.decode(&input)
            self = .chunked(decoder)
            return bytes
        }
    }
}

/// Decodes the chunked transfer coding incrementally (chunk extensions and trailers skipped).
struct ChunkedDecoder {
    private enum State {
        case size
        case data(remaining: Int)
        case dataEnd
        case trailers
        case finished
    }

    private var state = State.size
    private var line: [UInt8] = []

    var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    mutating func decode(_ input: inout ByteBuffer) -> [UInt8] {
        var output: [UInt8] = []
        while input.readableBytes > 0 {
            switch state {
            case .data(let remaining):
                let count = min(remaining, input.readableBytes)
                output += input.readBytes(length: count)!
                state = remaining == count ? .dataEnd : .data(remaining: remaining - count)
            case .size, .dataEnd, .trailers:
                guard let byte = input.readInteger(as: UInt8.self) else { break }
                guard byte == 10 else {
                    if byte != 13 { line.append(byte) }
                    continue
                }
                let text = String(decoding: line, as: UTF8.self)
                line.removeAll()
                switch state {
                case .size:
                    let size = Int(text.split(separator: ";").first.map(String.init) ?? "", radix: 16) ?? 0
                    state = size == 0 ? .trailers : .data(remaining: size)
                case .dataEnd:
                    state = .size
                case .trailers:
                    if text.isEmpty { state = .finished }
                default:
                    break
                }
            case .finished:
                input.clear()
            }
        }
        return output
    }
}
