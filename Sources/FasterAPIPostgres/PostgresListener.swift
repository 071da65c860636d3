import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// `LISTEN`/`NOTIFY` as a service: it owns one connection (not from the pool), listens on every
/// channel someone subscribed to, and after the connection fails reconnects (backing off up to
/// `maxReconnectDelay`) and listens again. Notifications sent while it is reconnecting are lost:
/// PostgreSQL keeps none for a session that is not there.
///
/// ```swift
/// let listener = PostgresListener(configuration)
/// app.addService(listener)
/// for await note in listener.notifications(on: "orders") { print(note.payload) }
/// ```
public final class PostgresListener: Service, Sendable {
    /// One notification.
    public struct Notification: Sendable, Equatable {
        /// The channel it was sent on.
        public let channel: String
        /// Its payload (`NOTIFY orders, 'payload'`).
        public let payload: String
    }

    private struct State {
        var subscribers: [String: [Int: AsyncStream<Notification>.Continuation]] = [:]
        var nextID = 0
        /// Channels subscribed to after the current connection began listening.
        var added: AsyncStream<String>.Continuation?
        var connected = false
        var stopped = false
    }

    private let configuration: PostgresConfiguration
    private let logger: Logger
    private let maxReconnectDelay: Duration
    private let eventLoopGroup: any EventLoopGroup
    private let state = Mutex(State())

    /// A listener for the server `configuration` names.
    public init(
        _ configuration: PostgresConfiguration, logger: Logger = Logger(label: "FasterAPI.PostgresListener"),
        maxReconnectDelay: Duration = .seconds(5), eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.logger = logger
        self.maxReconnectDelay = maxReconnectDelay
        self.eventLoopGroup = eventLoopGroup
    }

    /// Whether it is connected and listening.
    public var isConnected: Bool { state.withLock { $0.connected } }

    /// The notifications sent on `channel` from now on, until the consumer stops iterating or
    /// the service stops. The name is used quoted, as it is: `NOTIFY` it with the same case
    /// (`pg_notify('Orders', …)` or `NOTIFY "Orders"`).
    public func notifications(on channel: String) -> AsyncStream<Notification> {
        precondition(
            !channel.isEmpty && channel.utf8.count <= 63 && !channel.contains("\"") && !channel.contains("\0"),
            "'\(channel)' cannot be a PostgreSQL channel name (1 to 63 bytes, no double quote or NUL)")
        let (stream, continuation) = AsyncStream.makeStream(of: Notification.self, bufferingPolicy: .bufferingNewest(10_000))
        let id = state.withLock { state -> Int? in
            guard !state.stopped else { return nil }
            state.nextID += 1
            if state.subscribers[channel] == nil { state.added?.yield(channel) }
            state.subscribers[channel, default: [:]][state.nextID] = continuation
            return state.nextID
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { state in
                state.subscribers[channel]?[id] = nil
            }
        }
        return stream
    }

    /// Connects, listens and reconnects until graceful shutdown or cancellation.
    public func run() async throws {
        let connectionConfiguration = try configuration.connectionConfiguration()
        await cancelWhenGracefulShutdown {
            var delay = Duration.milliseconds(100)
            var attempt = 0
            while !Task.isCancelled {
                attempt += 1
                do {
                    let connection = try await PostgresConnection.connect(
                        on: self.eventLoopGroup.any(), configuration: connectionConfiguration, id: attempt,
                        logger: self.logger)
                    delay = .milliseconds(100)
                    await withTaskCancellationHandler {
                        await self.listen(on: connection)
                    } onCancel: {
                        connection.close().whenComplete { _ in }
                    }
                    try? await connection.close()
                } catch {
                    self.logger.warning("PostgreSQL listener cannot connect: \(error)")
                }
                guard !Task.isCancelled else { break }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, self.maxReconnectDelay)
            }
        }
        let subscribers = state.withLock { state in
            state.stopped = true
            state.connected = false
            return state.subscribers.values.flatMap(\.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }

    /// Listens on every subscribed channel (and those added meanwhile) until the connection fails.
    private func listen(on connection: PostgresConnection) async {
        let (added, addedContinuation) = AsyncStream.makeStream(of: String.self)
        let channels = state.withLock { state in
            state.added = addedContinuation
            state.connected = true
            return Array(state.subscribers.keys)
        }
        for channel in channels { addedContinuation.yield(channel) }
        do {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    try? await connection.closeFuture.get()
                    addedContinuation.finish()
                    throw DatabaseError(.connectionLost, "the listener's connection closed")
                }
                for await channel in added {
                    group.addTask {
                        do {
                            try await connection.listen(on: channel) { notifications in
                                for try await notification in notifications {
                                    self.deliver(Notification(channel: channel, payload: notification.payload))
                                }
                            }
                        } catch {
                            // The connection goes too, so the loop reconnects and listens afresh.
                            addedContinuation.finish()
                            connection.close().whenComplete { _ in }
                            throw error
                        }
                    }
                }
            }
        } catch {
            logger.warning("PostgreSQL listener lost its connection: \(error)")
        }
        state.withLock { state in
            state.added = nil
            state.connected = false
        }
    }

    private func deliver(_ notification: Notification) {
        let subscribers = state.withLock { $0.subscribers[notification.channel].map { Array($0.values) } ?? [] }
        for subscriber in subscribers { subscriber.yield(notification) }
    }
}
