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
/// never cross threads. Callers on no event loop take the loops in turn.
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
    typealias Pool = ConnectionPool<
        DatabaseConnection, Int, ConnectionIDGenerator, LeaseRequest, Int, KeepAlive,
        NoOpConnectionPoolMetrics<Int>, ContinuousClock
    >

    /// The configuration it was made with.
    public let configuration: PostgresConfiguration
    let logger: Logger
    /// One pool per event loop (fewer if the maximum is smaller than the number of loops).
    private let pools: [(loop: any EventLoop, pool: Pool, maximum: Int)]
    private let nextPool = Mutex(0)
    private let health: Health
    private let requestIDs = ConnectionIDGenerator()

    /// A pool for `configuration`; nothing connects until ``run()`` runs and a caller asks.
    public init(
        _ configuration: PostgresConfiguration, logger: Logger = Logger(label: "FasterAPI.Postgres"),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        let connectionConfiguration = try configuration.connectionConfiguration()
        let health = Health()
        self.configuration = configuration
        self.logger = logger
        self.health = health
        let loops = Array(eventLoopGroup.makeIterator().prefix(max(1, configuration.maximumConnections)))
        let connectionIDs = ConnectionIDGenerator()
        pools = loops.enumerated().map { index, loop in
            // The maximum (and minimum) shared out between the loops, the first ones taking the rest.
            func share(_ total: Int) -> Int { total / loops.count + (index < total % loops.count ? 1 : 0) }
            var poolConfiguration = ConnectionPoolConfiguration()
            poolConfiguration.minimumConnectionCount = share(configuration.minimumConnections)
            poolConfiguration.maximumConnectionSoftLimit = share(configuration.maximumConnections)
            poolConfiguration.maximumConnectionHardLimit = share(configuration.maximumConnections)
            poolConfiguration.idleTimeout = configuration.idleTimeout
            let pool = Pool(
                configuration: poolConfiguration,
                idGenerator: connectionIDs,
                requestType: LeaseRequest.self,
                keepAliveBehavior: KeepAlive(keepAliveFrequency: configuration.keepAliveInterval, logger: logger),
                observabilityDelegate: NoOpConnectionPoolMetrics(connectionIDType: Int.self),
                clock: ContinuousClock()
            ) { id, pool in
                do {
                    let connection = try await PostgresConnection.connect(
                        on: loop, configuration: connectionConfiguration, id: id, logger: logger)
                    health.connected()
                    return ConnectionAndMetadata(
                        connection: DatabaseConnection(connection, id: id, configuration: configuration, logger: logger),
                        maximalStreamsOnConnection: 1)
                } catch {
                    let failure =
                        DatabaseError.wrap(error) as? DatabaseError
                        ?? DatabaseError(.unavailable, "cannot connect to the database: \(error)")
                    // Callers waiting now fail at once rather than at their timeout.
                    for waiting in health.failed(failure) { pool.cancelLeaseConnection(waiting) }
                    logger.warning("Cannot connect to PostgreSQL: \(failure)")
                    throw error
                }
            }
            return (loop, pool, share(configuration.maximumConnections))
        }
    }

    /// Runs the pools until graceful shutdown (or cancellation), then closes their connections.
    public func run() async {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for (_, pool, _) in self.pools { group.addTask { await pool.run() } }
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
    /// server cannot be reached), from the pool of the caller's event loop.
    func lease(timeout: Duration? = nil) async throws -> ConnectionLease<DatabaseConnection> {
        let (loop, pool, maximum) = pickPool()
        var timeout = timeout ?? configuration.acquireTimeout
        if health.lastFailure != nil { timeout = min(timeout, configuration.unavailableTimeout) }
        let id = requestIDs.next()
        health.waiting.withLock { _ = $0.insert(id) }
        let timer = loop.scheduleTask(in: TimeAmount(timeout)) { pool.cancelLeaseConnection(id) }
        defer {
            timer.cancel()
            health.waiting.withLock { _ = $0.remove(id) }
        }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    pool.leaseConnection(LeaseRequest(id: id, continuation: continuation))
                }
            } onCancel: {
                pool.cancelLeaseConnection(id)
            }
        } catch let error as ConnectionPoolError {
            if Task.isCancelled { throw CancellationError() }
            if let failure = health.lastFailure {
                throw DatabaseError(.unavailable, failure.message)
            }
            if error == .requestCancelled {
                throw DatabaseError(
                    .poolTimeout, "no database connection became free within \(timeout) (all \(maximum) in use)")
            }
            throw DatabaseError.wrap(error)
        }
    }

    private func pickPool() -> (loop: any EventLoop, pool: Pool, maximum: Int) {
        if pools.count > 1, let current = MultiThreadedEventLoopGroup.currentEventLoop,
            let own = pools.first(where: { $0.loop === current })
        {
            return own
        }
        return pools[nextPool.withLock { next in
            defer { next = (next + 1) % pools.count }
            return next
        }]
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
    let logger: Logger

    func runKeepAlive(for connection: DatabaseConnection) async throws {
        try await connection.simple("SELECT 1")
    }
}

/// Whether the server could be reached the last time a connection was opened, and who is
/// waiting for a connection meanwhile.
final class Health: Sendable {
    private let failure = Mutex<DatabaseError?>(nil)
    /// The lease requests waiting now.
    let waiting = Mutex<Set<Int>>([])

    /// The last connection attempt's error, if it failed and none has succeeded since.
    var lastFailure: DatabaseError? { failure.withLock { $0 } }

    func connected() { failure.withLock { $0 = nil } }

    /// Records a failed attempt; returns the requests waiting, to fail now.
    func failed(_ error: DatabaseError) -> Set<Int> {
        failure.withLock { $0 = error }
        return waiting.withLock { $0 }
    }
}
