import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A small HTTP/1.1 client for the MCP client's transports: keep-alive connections to one
/// origin, reused one request at a time, with the response handed over part by part (so an
/// event stream is read as it arrives).
final class MCPHTTPClient: Sendable {
    /// A part of a response as it arrives.
    enum Part: Sendable {
        case head(HTTPResponseHead)
        case body(ByteBuffer)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// One request waiting for, or on, a connection.
    private struct Job: Sendable {
        let head: HTTPRequestHead
        let body: ByteBuffer?
        let consume: @Sendable (Part) async throws -> Void
        let done: CheckedContinuation<Void, any Error>?
    }

    private final class Connection: Sendable {
        let channel: any Channel
        let jobs: AsyncStream<Job>.Continuation

        init(channel: any Channel, jobs: AsyncStream<Job>.Continuation) {
            self.channel = channel
            self.jobs = jobs
        }
    }

    let host: String
    let port: Int
    let secure: Bool
    private let hostField: String
    private let sslContext: NIOSSLContext?
    private let idle = Mutex<[Connection]>([])
    private let all = Mutex<[ObjectIdentifier: Connection]>([:])
    private let timeout: TimeAmount

    /// A client for `url`'s origin (`http://` or `https://`).
    init(origin url: URL, tls: TLSConfiguration = .makeClientConfiguration(), timeout: TimeAmount = .seconds(10)) throws {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else { throw Failure(description: "not an http(s) URL: \(url)") }
        self.host = host
        self.secure = scheme == "https"
        self.port = url.port ?? (secure ? 443 : 80)
        let bracketed = host.contains(":") ? "[\(host)]" : host
        self.hostField = url.port.map { "\(bracketed):\($0)" } ?? bracketed
        self.sslContext = secure ? try NIOSSLContext(configuration: tls) : nil
        self.timeout = timeout
    }

    /// Sends a request and hands its response's parts to `consume` as they arrive; returns when
    /// the response has ended.
    func execute(
        _ method: HTTPMethod, _ target: String, headers: [(String, String)] = [], body: ByteBuffer? = nil,
        consume: @escaping @Sendable (Part) async throws -> Void
    ) async throws {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: target)
        head.headers.add(name: "Host", value: hostField)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if let body { head.headers.add(name: "Content-Length", value: String(body.readableBytes)) }
        // A kept-alive connection the server has closed meanwhile fails before any answer: the
        // request then goes again on a new connection.
        let (connection, reused) = try await acquire()
        let answered = Mutex(false)
        let watched: @Sendable (Part) async throws -> Void = { part in
            answered.withLock { $0 = true }
            try await consume(part)
        }
        do {
            try await run(Job(head: head, body: body, consume: watched, done: nil), on: connection)
        } catch where reused && !answered.withLock({ $0 }) {
            try await run(Job(head: head, body: body, consume: consume, done: nil), on: try await connect())
        }
    }

    private func run(_ job: Job, on connection: Connection) async throws {
        try await withCheckedThrowingContinuation { done in
            let job = Job(head: job.head, body: job.body, consume: job.consume, done: done)
            if case .terminated = connection.jobs.yield(job) {
                done.resume(throwing: Failure(description: "the connection closed"))
            }
        }
    }

    /// Closes every connection (a request still running fails).
    func shutdown() {
        for connection in all.withLock({ all in defer { all = [:] }; return Array(all.values) }) {
            connection.jobs.finish()
            connection.channel.close(promise: nil)
        }
        idle.withLock { $0 = [] }
    }

    /// An idle connection that is still open, or a new one; and whether it was reused.
    private func acquire() async throws -> (Connection, reused: Bool) {
        while let connection = idle.withLock({ $0.popLast() }) {
            if connection.channel.isActive { return (connection, true) }
        }
        return (try await connect(), false)
    }

    private func connect() async throws -> Connection {
        let sslContext = self.sslContext
        let serverName = host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : host
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        let (jobs, continuation) = AsyncStream.makeStream(of: Job.self)
        let connection = Connection(channel: channel.channel, jobs: continuation)
        all.withLock { $0[ObjectIdentifier(connection)] = connection }
        Task { await run(channel, connection, jobs) }
        return connection
    }

    /// Serves a connection's requests one after the other until it closes.
    private func run(
        _ channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>, _ connection: Connection,
        _ jobs: AsyncStream<Job>
    ) async {
        var failure: any Error = Failure(description: "the connection closed")
        try? await channel.executeThenClose { inbound, outbound in
            var parts = inbound.makeAsyncIterator()
            for await job in jobs {
                do {
                    try await outbound.write(.head(job.head))
                    if let body = job.body { try await outbound.write(.body(.byteBuffer(body))) }
                    try await outbound.write(.end(nil))
                    var keepAlive = false
                    var ended = false
                    while let part = try await parts.next() {
                        switch part {
                        case .head(let head):
                            keepAlive = head.isKeepAlive
                            try await job.consume(.head(head))
                        case .body(let bytes):
                            try await job.consume(.body(bytes))
                        case .end:
                            ended = true
                        }
                        if ended { break }
                    }
                    guard ended else { throw failure }
                    job.done?.resume()
                    guard keepAlive else { break }
                    idle.withLock { $0.append(connection) }
                } catch {
                    failure = error
                    job.done?.resume(throwing: error)
                    break
                }
            }
        }
        connection.jobs.finish()
        idle.withLock { $0.removeAll { $0 === connection } }
        all.withLock { $0[ObjectIdentifier(connection)] = nil }
        // Requests queued behind the one that failed.
        for await job in jobs { job.done?.resume(throwing: failure) }
    }
}
