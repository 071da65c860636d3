import NIOCore

/// An established QUIC connection as an application sees it: streams to open and to accept,
/// each read and written with `async` calls. Back-pressure both ways: the peer may send only
/// as much as the application has read (plus the stream's window), and a write waits while
/// more than `QUICSession.writeHighWater` bytes of the stream are still unsent. Usable from
/// any task; the connection itself lives on its socket's event loop.
public final class QUICSession: Sendable {
    /// Unsent bytes a stream may hold before `write` waits (it resumes below half of it).
    public static let writeHighWater = 1 << 20

    let driver: NIOLoopBound<QUICSessionDriver>
    let eventLoop: any EventLoop
    /// Streams the peer opens, in the order they appear.
    public let incomingStreams: AsyncStream<QUICStream>
    /// The application protocol agreed in the handshake (ALPN).
    public let applicationProtocol: String?

    init(driver: QUICSessionDriver, eventLoop: any EventLoop, incomingStreams: AsyncStream<QUICStream>) {
        self.driver = NIOLoopBound(driver, eventLoop: eventLoop)
        self.eventLoop = eventLoop
        self.incomingStreams = incomingStreams
        self.applicationProtocol = driver.connection.applicationProtocol
    }

    /// Opens a bidirectional stream, waiting while the peer's stream limit is reached.
    public func openBidirectionalStream() async throws -> QUICStream {
        let driver = self.driver
        let id = try await eventLoop.flatSubmit { driver.value.open(bidirectional: true) }.get()
        return QUICStream(id: id, driver: driver, eventLoop: eventLoop)
    }

    /// Opens a unidirectional (send-only) stream, waiting while the peer's limit is reached.
    public func openUnidirectionalStream() async throws -> QUICStream {
        let driver = self.driver
        let id = try await eventLoop.flatSubmit { driver.value.open(bidirectional: false) }.get()
        return QUICStream(id: id, driver: driver, eventLoop: eventLoop)
    }

    /// Closes the connection with an application error code (0: no error) and a reason.
    public func close(errorCode: UInt64 = 0, reason: String = "") async {
        let driver = self.driver
        try? await eventLoop.submit { driver.value.close(errorCode: errorCode, reason: reason) }.get()
    }

    /// Starts a key update (RFC 9001 §6): packets from now on go under the next keys. False
    /// before the handshake is confirmed or while the previous update is unanswered.
    public func updateKeys() async throws -> Bool {
        let driver = self.driver
        return try await eventLoop.submit { driver.value.connection.updateKeys() }.get()
    }

    /// The token the server gave for a later connection (NEW_TOKEN), if any yet.
    public func addressToken() async throws -> [UInt8]? {
        let driver = self.driver
        return try await eventLoop.submit { driver.value.connection.addressToken }.get()
    }

    /// The connection's counters, congestion window and smoothed RTT now.
    public func statistics() async throws -> (counters: QUICConnection.Statistics, congestionWindow: Int, smoothedRTT: Duration) {
        let driver = self.driver
        return try await eventLoop.submit {
            let connection = driver.value.connection
            return (connection.statistics, connection.congestionWindow, connection.smoothedRTT)
        }.get()
    }

    /// Waits until the connection is closed (by either side, a timeout or a reset); returns why.
    public func closed() async -> QUICTransportError {
        let driver = self.driver
        return (try? await eventLoop.flatSubmit { driver.value.closedPromise.futureResult }.get())
            ?? QUICTransportError(.internalError, "the event loop shut down")
    }
}

/// Why a stream operation failed.
public enum QUICStreamError: Error, Sendable, Equatable {
    /// The peer abandoned sending on the stream (RESET_STREAM with this code).
    case reset(errorCode: UInt64)
    /// The peer will not read the stream any more (STOP_SENDING with this code).
    case stopped(errorCode: UInt64)
    /// The stream cannot be written (receive-only, or already finished), or read (send-only,
    /// or read by another task at the same time).
    case notWritable
    /// More than `limit` bytes arrived for `readAll(limit:)`.
    case tooLarge(limit: Int)
    /// The connection closed.
    case connectionClosed(QUICTransportError)
}

/// One stream of a `QUICSession`. Reading gives the bytes in order, `nil` at the end; writing
/// waits while too much is unsent.
public final class QUICStream: Sendable {
    /// The stream ID (RFC 9000 §2.1: its two low bits say who opened it and which way it goes).
    public let id: UInt64
    let driver: NIOLoopBound<QUICSessionDriver>
    let eventLoop: any EventLoop

    init(id: UInt64, driver: NIOLoopBound<QUICSessionDriver>, eventLoop: any EventLoop) {
        self.id = id
        self.driver = driver
        self.eventLoop = eventLoop
    }

    /// Whether the stream carries data both ways.
    public var isBidirectional: Bool { id & 0x02 == 0 }

    /// The bytes that have arrived since the last read (waiting for some); `nil` once the peer
    /// has finished the stream. Throws `QUICStreamError.reset` when the peer reset it.
    public func read() async throws -> ByteBuffer? {
        let (driver, id) = (self.driver, self.id)
        return try await eventLoop.flatSubmit { driver.value.read(id) }.get()
    }

    /// Reads until the end of the stream, refusing more than `limit` bytes.
    public func readAll(limit: Int = .max) async throws -> ByteBuffer {
        var all = ByteBuffer()
        while var piece = try await read() {
            guard all.readableBytes + piece.readableBytes <= limit else { throw QUICStreamError.tooLarge(limit: limit) }
            all.writeBuffer(&piece)
        }
        return all
    }

    /// Queues `bytes` (and the end of the stream when `finish`); waits while more than
    /// `QUICSession.writeHighWater` bytes of the stream are unsent.
    public func write(_ bytes: ByteBuffer, finish: Bool = false) async throws {
        let (driver, id) = (self.driver, self.id)
        try await eventLoop.flatSubmit { driver.value.write(bytes, on: id, fin: finish) }.get()
    }

    /// Ends the stream (FIN) once what was written is sent.
    public func finish() async throws { try await write(ByteBuffer(), finish: true) }

    /// Abandons sending (RESET_STREAM with `errorCode`).
    public func reset(errorCode: UInt64) async {
        let (driver, id) = (self.driver, self.id)
        try? await eventLoop.submit { driver.value.reset(id, errorCode: errorCode) }.get()
    }

    /// Asks the peer to stop sending (STOP_SENDING with `errorCode`).
    public func stopSending(errorCode: UInt64) async {
        let (driver, id) = (self.driver, self.id)
        try? await eventLoop.submit { driver.value.stopSending(id, errorCode: errorCode) }.get()
    }
}

/// Runs a `QUICConnection` for a `QUICSession` on its event loop: it files stream events for
/// readers, wakes waiting writers and openers, and hands datagrams to `output` (the socket's
/// owner, which also routes connection IDs).
final class QUICSessionDriver {
    var connection: QUICConnection
    let eventLoop: any EventLoop
    /// Where datagrams and connection-ID changes go.
    var output: ([QUICConnection.Action]) -> Void = { _ in }
    /// Called once the handshake completes.
    var onEstablished: (QUICSession) -> Void = { _ in }
    private var incoming: AsyncStream<QUICStream>.Continuation
    private var incomingStreams: AsyncStream<QUICStream>
    private(set) var session: QUICSession?
    let closedPromise: EventLoopPromise<QUICTransportError>

    /// What arrived on a stream and is not yet read.
    private struct Inbound {
        var buffer = ByteBuffer()
        var finished = false
        var resetCode: UInt64?
        var reader: EventLoopPromise<ByteBuffer?>?
    }

    private var inbound: [UInt64: Inbound] = [:]
    private var writers: [UInt64: EventLoopPromise<Void>] = [:]
    private var stopCodes: [UInt64: UInt64] = [:]
    private var openers: [(bidirectional: Bool, promise: EventLoopPromise<UInt64>)] = []
    private var closeError: QUICTransportError?

    init(connection: QUICConnection, eventLoop: any EventLoop) {
        self.connection = connection
        self.eventLoop = eventLoop
        (incomingStreams, incoming) = AsyncStream.makeStream(of: QUICStream.self)
        closedPromise = eventLoop.makePromise()
    }

    /// Takes in a datagram.
    func receive(_ datagram: [UInt8], from address: SocketAddress?, ecn: NIOExplicitCongestionNotificationState) {
        handle(connection.receive(datagram, from: address, ecn: ecn))
    }

    /// Runs the connection's timers (the owner hears only of what they did, or of the end).
    func tick(now: QUICInstant) {
        let actions = connection.tick(now: now)
        if !actions.isEmpty || connection.isFinished { handle(actions) }
    }

    /// Files the connection's actions: events for readers and the session, datagrams out.
    func handle(_ actions: [QUICConnection.Action]) {
        var out: [QUICConnection.Action] = []
        var pending = actions
        while !pending.isEmpty {
            var more: [QUICConnection.Action] = []
            for action in pending {
                switch action {
                case .send, .newConnectionID, .retiredConnectionID:
                    out.append(action)
                case .handshakeComplete:
                    let session = QUICSession(driver: self, eventLoop: eventLoop, incomingStreams: incomingStreams)
                    self.session = session
                    onEstablished(session)
                case .streamData(let id, let bytes, let fin):
                    guard arrive(id) else { continue }
                    inbound[id]!.buffer.writeBytes(bytes)
                    if fin { inbound[id]!.finished = true }
                    more += deliver(id)
                case .streamReset(let id, let code):
                    guard arrive(id) else { continue }
                    inbound[id]!.resetCode = code
                    more += deliver(id)
                case .stopSending(let id, let code):
                    stopCodes[id] = code
                    writers.removeValue(forKey: id)?.fail(QUICStreamError.stopped(errorCode: code))
                case .closed(let error):
                    closed(error)
                }
            }
            pending = more
        }
        wakeWriters()
        wakeOpeners()
        output(out)
    }

    /// Whether stream `id` has a reader's side: a stream the peer opened becomes known here
    /// (the session hears of it); one of ours the application stopped reading has none.
    private func arrive(_ id: UInt64) -> Bool {
        guard inbound[id] == nil else { return true }
        guard !connection.isLocal(id) else { return false }
        inbound[id] = Inbound()
        incoming.yield(QUICStream(id: id, driver: NIOLoopBound(self, eventLoop: eventLoop), eventLoop: eventLoop))
        return true
    }

    /// Hands buffered bytes (or the end, or the reset) to a waiting reader.
    private func deliver(_ id: UInt64) -> [QUICConnection.Action] {
        guard let reader = inbound[id]?.reader, let result = take(id) else { return [] }
        inbound[id]?.reader = nil  // (taking the end or a reset forgets the stream)
        switch result {
        case .success(let bytes):
            reader.succeed(bytes)
            return bytes.map { connection.consumed($0.readableBytes, on: id) } ?? []
        case .failure(let error):
            reader.fail(error)
            return []
        }
    }

    /// What a read of stream `id` gives now; nil when it must wait.
    private func take(_ id: UInt64) -> Result<ByteBuffer?, any Error>? {
        guard var state = inbound[id] else { return .failure(QUICStreamError.notWritable) }
        if let code = state.resetCode {
            inbound[id] = nil
            return .failure(QUICStreamError.reset(errorCode: code))
        }
        if state.buffer.readableBytes > 0 {
            let bytes = state.buffer
            state.buffer = ByteBuffer()
            inbound[id] = state
            return .success(bytes)
        }
        if state.finished {
            inbound[id] = nil
            return .success(nil)
        }
        if let closeError { return .failure(QUICStreamError.connectionClosed(closeError)) }
        return nil
    }

    func read(_ id: UInt64) -> EventLoopFuture<ByteBuffer?> {
        guard inbound[id]?.reader == nil else { return eventLoop.makeFailedFuture(QUICStreamError.notWritable) }
        switch take(id) {
        case .success(let bytes)?:
            if let bytes { handle(connection.consumed(bytes.readableBytes, on: id)) }
            return eventLoop.makeSucceededFuture(bytes)
        case .failure(let error)?:
            return eventLoop.makeFailedFuture(error)
        case nil:
            let promise = eventLoop.makePromise(of: ByteBuffer?.self)
            inbound[id]!.reader = promise
            return promise.futureResult
        }
    }

    func write(_ bytes: ByteBuffer, on id: UInt64, fin: Bool) -> EventLoopFuture<Void> {
        if let closeError { return eventLoop.makeFailedFuture(QUICStreamError.connectionClosed(closeError)) }
        if let code = stopCodes[id] { return eventLoop.makeFailedFuture(QUICStreamError.stopped(errorCode: code)) }
        guard connection.streams[id].map({ $0.canSend && !$0.finToSend && !$0.resetSent }) == true, writers[id] == nil else {
            return eventLoop.makeFailedFuture(QUICStreamError.notWritable)
        }
        var bytes = bytes
        handle(connection.send(&bytes, on: id, fin: fin))
        guard connection.unsentBytes(on: id) > QUICSession.writeHighWater else { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        writers[id] = promise
        return promise.futureResult
    }

    func open(bidirectional: Bool) -> EventLoopFuture<UInt64> {
        if let closeError { return eventLoop.makeFailedFuture(QUICStreamError.connectionClosed(closeError)) }
        if let id = bidirectional ? connection.openBidirectionalStream() : connection.openUnidirectionalStream() {
            if bidirectional { inbound[id] = Inbound() }
            return eventLoop.makeSucceededFuture(id)
        }
        handle(connection.flush())  // STREAMS_BLOCKED
        let promise = eventLoop.makePromise(of: UInt64.self)
        openers.append((bidirectional, promise))
        return promise.futureResult
    }

    func reset(_ id: UInt64, errorCode: UInt64) { handle(connection.resetStream(id, errorCode: errorCode)) }

    func stopSending(_ id: UInt64, errorCode: UInt64) {
        inbound[id] = nil
        handle(connection.stopSending(id, errorCode: errorCode))
    }

    func close(errorCode: UInt64, reason: String) { handle(connection.close(applicationError: errorCode, reason: reason)) }

    private func wakeWriters() {
        for (id, writer) in writers where connection.unsentBytes(on: id) <= QUICSession.writeHighWater / 2 {
            writers[id] = nil
            writer.succeed()
        }
    }

    private func wakeOpeners() {
        while let (bidirectional, promise) = openers.first {
            guard let id = bidirectional ? connection.openBidirectionalStream() : connection.openUnidirectionalStream() else { return }
            openers.removeFirst()
            if bidirectional { inbound[id] = Inbound() }
            promise.succeed(id)
        }
    }

    /// The connection is gone: every waiting reader, writer and opener hears why.
    private func closed(_ error: QUICTransportError) {
        guard closeError == nil else { return }
        closeError = error
        let failure = QUICStreamError.connectionClosed(error)
        for (id, state) in inbound { if let reader = state.reader { inbound[id]!.reader = nil; reader.fail(failure) } }
        for writer in writers.values { writer.fail(failure) }
        writers = [:]
        for opener in openers { opener.promise.fail(failure) }
        openers = []
        incoming.finish()
        closedPromise.succeed(error)
    }
}
