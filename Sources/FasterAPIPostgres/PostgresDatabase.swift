import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import Synchronization
import _ConnectionPoolModule

/// A pool of PostgreSQL connections, run as a service for as long as the app runs
/// (`app.postgres(…)` adds it); connections open on demand up to the configured maximum.
///
/// The connections are split between the event loops: a handler (which runs on its HTTP
/// connection's loop) borrows a connection living on the same loop, so a query and its answer
/// never cross threads. When its loop's share is all in use it borrows from the least busy
/// other loop; callers on no event loop take the loops in turn.
///
/// Handlers take a request-scoped ``DB`` (`@Depends db: DB`); elsewhere, borrow one with
/// ``withConnection(_:)``:
///
/// ```swift
/// let count = try await database.withConnection { db in
///     try await db.query("SELECT count(*) FROM items").scalar(Int.self)
/// }
/// ```
public final class PostgresDatabase: Service, Sendable {
    /// The configuration it was made with.
    public let configuration: PostgresConfiguration
    let logger: Logger
    /// One pool per event loop (fewer if the maximum is smaller than the number of loops).
    private let slots: [PoolSlot]
    private let nextSlot = Mutex(0)
    private let requestIDs = ConnectionIDGenerator()

    /// A pool for `configuration`; nothing connects until ``run()`` runs and a caller asks.
    public init(
        _ configuration: PostgresConfiguration, logger: Logger = Logger(label: "FasterAPI.Postgres"),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        guard configuration.maximumConnections > 0, configuration.minimumConnections <= configuration.maximumConnections
        else {
            throw PostgresConfigurationError(
                "the pool needs 0 ≤ minimum ≤ maximum and a maximum of at least 1 (got \(configuration.minimumConnections)…\(configuration.maximumConnections))")
        }
        let connectionConfiguration = try configuration.connectionConfiguration()
        self.configuration = configuration
        self.logger = logger
        let loops = Array(eventLoopGroup.makeIterator().prefix(configuration.maximumConnections))
        let connectionIDs = ConnectionIDGenerator()
        slots = loops.enumerated().map { index, loop in
            // The maximum (and minimum) shared out between the loops, the first ones taking the rest.
            func share(_ total: Int) -> Int { total / loops.count + (index < total % loops.count ? 1 : 0) }
            return PoolSlot(
                loop: loop, minimum: share(configuration.minimumConnections),
                maximum: share(configuration.maximumConnections), ids: connectionIDs, configuration: configuration,
                connectionConfiguration: connectionConfiguration, logger: logger)
        }
    }

    /// Runs the pools until graceful shutdown (or cancellation), then closes their connections.
    public func run() async {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for slot in self.slots { group.addTask { await slot.pool.run() } }
            }
        }
    }

    /// Runs `body` with a connection borrowed from the pool (leased when the first query runs)
    /// and returns it afterwards, also when `body` throws.
    @discardableResult
    public func withConnection<Result>(_ body: (DB) async throws -> Result) async throws -> Result {
        let db = DB(database: self)
        defer { db.release() }
        return try await body(db)
    }

    /// Runs `body` in a transaction on a borrowed connection; see ``DB/transaction(isolation:readOnly:retries:_:)``.
    @discardableResult
    public func transaction<Result>(
        isolation: IsolationLevel? = nil, readOnly: Bool = false, retries: Int = 0,
        _ body: (DB) async throws -> Result
    ) async throws -> Result {
        try await withConnection { db in
            try await db.transaction(isolation: isolation, readOnly: readOnly, retries: retries, body)
        }
    }

    /// Whether a connection can be had and answers `SELECT 1` within `timeout`.
    public func isReady(timeout: Duration = .seconds(2)) async -> Bool {
        do {
            let lease = try await lease(timeout: timeout)
            defer { lease.release() }
            try await lease.connection.simple("SELECT 1")
            return true
        } catch {
            return false
        }
    }

    /// A connection, waiting at most `timeout` (or the short `unavailableTimeout` while the
    /// server cannot be reached and the pool has no connection open).
    func lease(timeout: Duration? = nil) async throws -> Lease {
        let slot = pickSlot()
        do {
            return Lease(underlying: try await slot.lease(id: requestIDs.next(), timeout: timeout), slot: slot)
        } catch {
            slot.inUse.withLock { $0 -= 1 }
            throw error
        }
    }

    /// The pool of the caller's event loop unless its share is all in use; then the least busy.
    /// Counts the caller in.
    private func pickSlot() -> PoolSlot {
        var preferred: PoolSlot
        if slots.count > 1, let current = MultiThreadedEventLoopGroup.currentEventLoop,
            let own = slots.first(where: { $0.loop === current })
        {
            preferred = own
        } else {
            preferred = slots[nextSlot.withLock { next in
                defer { next = (next + 1) % slots.count }
                return next
            }]
        }
        if slots.count > 1, preferred.inUse.withLock({ $0 >= preferred.maximum }) {
            let loads = slots.map { slot in (slot, slot.inUse.withLock { Double($0) / Double(slot.maximum) }) }
            if let (leastBusy, load) = loads.min(by: { $0.1 < $1.1 }), load < 1 { preferred = leastBusy }
        }
        preferred.inUse.withLock { $0 += 1 }
        return preferred
    }
}

/// A connection borrowed from one of the pools; give it back with ``release()``.
struct Lease: Sendable {
    let underlying: ConnectionLease<DatabaseConnection>
    let slot: PoolSlot

    var connection: DatabaseConnection { underlying.connection }

    func release() {
        slot.inUse.withLock { $0 -= 1 }
        underlying.release()
    }
}

/// One event loop's pool, how many callers use or wait for it, and whether it can reach the server.
final class PoolSlot: Sendable {
    typealias Pool = ConnectionPool<
        DatabaseConnection, Int, ConnectionIDGenerator, LeaseRequest, Int, KeepAlive,
        NoOpConnectionPoolMetrics<Int>, ContinuousClock
    >

    let loop: any EventLoop
    let pool: Pool
    let maximum: Int
    /// Callers holding or waiting for one of its connections.
    let inUse = Mutex(0)
    private let configuration: PostgresConfiguration
    private let health: Health

    init(
        loop: any EventLoop, minimum: Int, maximum: Int, ids: ConnectionIDGenerator,
        configuration: PostgresConfiguration, connectionConfiguration: PostgresConnection.Configuration, logger: Logger
    ) {
        let health = Health()
        self.loop = loop
        self.maximum = maximum
        self.configuration = configuration
        self.health = health
        var poolConfiguration = ConnectionPoolConfiguration()
        poolConfiguration.minimumConnectionCount = minimum
        poolConfiguration.maximumConnectionSoftLimit = maximum
        poolConfiguration.maximumConnectionHardLimit = maximum
        poolConfiguration.idleTimeout = configuration.idleTimeout
        pool = Pool(
            configuration: poolConfiguration,
            idGenerator: ids,
            requestType: LeaseRequest.self,
            keepAliveBehavior: KeepAlive(keepAliveFrequency: configuration.keepAliveInterval),
            observabilityDelegate: NoOpConnectionPoolMetrics(connectionIDType: Int.self),
            clock: ContinuousClock()
        ) { id, pool in
            do {
                let connection = try await PostgresConnection.connect(
                    on: loop, configuration: connectionConfiguration, id: id, logger: logger)
                health.opened()
                connection.closeFuture.whenComplete { _ in health.closed() }
                return ConnectionAndMetadata(
                    connection: DatabaseConnection(connection, id: id, configuration: configuration, logger: logger),
                    maximalStreamsOnConnection: 1)
            } catch {
                let failure =
                    DatabaseError.wrap(error) as? DatabaseError
                    ?? DatabaseError(.unavailable, "cannot connect to the database: \(error)")
                // With no connection open, callers waiting now fail at once rather than at their timeout.
                for waiting in health.failed(failure) { pool.cancelLeaseConnection(waiting) }
                logger.warning("Cannot connect to PostgreSQL: \(failure)")
                throw error
            }
        }
    }

    func lease(id: Int, timeout: Duration?) async throws -> ConnectionLease<DatabaseConnection> {
        var timeout = timeout ?? configuration.acquireTimeout
        if health.unreachable != nil { timeout = min(timeout, configuration.unavailableTimeout) }
        health.waiting.withLock { _ = $0.insert(id) }
        let timer = loop.scheduleTask(in: TimeAmount(timeout)) { [pool] in
            pool.cancelLeaseConnection(id)
        }
        defer {
            timer.cancel()
            health.waiting.withLock { _ = $0.remove(id) }
        }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    pool.leaseConnection(LeaseRequest(id: id, continuation: continuation))
                    // Cancelled before the request was queued: the handler below came too early.
                    if Task.isCancelled { pool.cancelLeaseConnection(id) }
                }
            } onCancel: { [pool] in
                pool.cancelLeaseConnection(id)
            }
        } catch let error as ConnectionPoolError {
            if Task.isCancelled { throw CancellationError() }
            if let failure = health.unreachable { throw DatabaseError(.unavailable, failure.message) }
            switch error {
            case .requestCancelled:
                throw DatabaseError(
                    .poolTimeout, "no database connection became free within \(timeout) (all \(maximum) in use)")
            case .connectionCreationCircuitBreakerTripped:
                throw DatabaseError(.unavailable, "the database cannot be reached (new connections keep failing)")
            default:
                throw DatabaseError.wrap(error)
            }
        }
    }
}

/// A caller waiting for a connection.
struct LeaseRequest: ConnectionRequestProtocol {
    let id: Int
    let continuation: CheckedContinuation<ConnectionLease<DatabaseConnection>, any Error>

    func complete(with result: Result<ConnectionLease<DatabaseConnection>, ConnectionPoolError>) {
        continuation.resume(with: result)
    }
}

/// Idle connections answer `SELECT 1` now and then, so dead ones are found before a caller gets
/// them.
struct KeepAlive: ConnectionKeepAliveBehavior {
    let keepAliveFrequency: Duration?

    func runKeepAlive(for connection: DatabaseConnection) async throws {
        try await connection.simple("SELECT 1")
    }
}

/// Whether a pool can reach the server: how many of its connections are open, and the last
/// connection attempt's error if it failed while none was open. Also who is waiting meanwhile.
final class Health: Sendable {
    private struct State {
        var open = 0
        var failure: DatabaseError?
    }

    private let state = Mutex(State())
    /// The lease requests waiting now.
    let waiting = Mutex<Set<Int>>([])

    /// Why the server cannot be reached, while no connection is open and the last attempt failed.
    var unreachable: DatabaseError? { state.withLock { $0.open == 0 ? $0.failure : nil } }

    func opened() {
        state.withLock { state in
            state.open += 1
            state.failure = nil
        }
    }

    func closed() { state.withLock { $0.open -= 1 } }

    /// Records a failed attempt; returns the requests to fail now (all waiting ones, if no
    /// connection is open; none while others serve).
    func failed(_ error: DatabaseError) -> Set<Int> {
        let unreachable = state.withLock { state in
            state.failure = error
            return state.open == 0
        }
        return unreachable ? waiting.withLock { $0 } : []
    }
}
