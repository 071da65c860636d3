import FasterAPI
import PostgresNIO
import Synchronization
import _ConnectionPoolModule

/// A database handle for one request (or one ``PostgresDatabase/withConnection(_:)`` call): it
/// borrows a connection from the pool when its first query runs, keeps it for the rest of the
/// request, and gives it back after the response has been sent, also when the handler fails.
///
/// ```swift
/// @GET("/items/{id}")
/// func item(id: Int, @Depends db: DB) async throws -> Item {
///     try await db.query("SELECT id, name, unit_price FROM items WHERE id = \(id)").one(Item.self)
/// }
/// ```
public final class DB: Sendable {
    private typealias Waiter = CheckedContinuation<DatabaseConnection?, any Error>

    private enum State {
        case idle
        /// The first query is leasing; later ones wait for it.
        case leasing([Waiter])
        case leased(Lease)
        /// A transaction's handle, valid until its body returns.
        case pinned(DatabaseConnection)
        case released
    }

    let database: PostgresDatabase
    private let state: Mutex<State>
    /// Savepoint depth: 0 outside a transaction.
    let depth: Int

    init(database: PostgresDatabase) {
        self.database = database
        self.state = Mutex(.idle)
        self.depth = 0
    }

    /// A handle on `connection` inside a transaction, `depth` savepoints deep.
    private init(database: PostgresDatabase, pinned connection: DatabaseConnection, depth: Int) {
        self.database = database
        self.state = Mutex(.pinned(connection))
        self.depth = depth
    }

    /// A statement to run; pick how to read its result (``DBQuery/all(_:)``, ``DBQuery/one(_:)``…).
    public func query(_ sql: SQL) -> DBQuery { DBQuery(db: self, sql: sql) }

    /// Runs `sql` for its effect and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: SQL) async throws -> Int {
        try await using { try await $0.command(sql) }
    }

    /// Runs `work` on the connection. When the connection is lost, the lease is given back, so
    /// the handle's next query borrows a fresh connection.
    func using<Result>(_ work: (DatabaseConnection) async throws -> Result) async throws -> Result {
        let connection = try await connection()
        do {
            return try await work(connection)
        } catch let error as DatabaseError where error.kind == .connectionLost {
            let lease = state.withLock { state -> Lease? in
                guard case .leased(let lease) = state, lease.connection === connection else { return nil }
                state = .idle
                return lease
            }
            lease?.release()
            throw error
        }
    }

    /// The connection, leased on first use; concurrent first uses share one lease.
    func connection() async throws -> DatabaseConnection {
        enum Step {
            case ready(DatabaseConnection)
            case lease
            case wait
            case released
        }
        while true {
            let step = state.withLock { state -> Step in
                switch state {
                case .idle:
                    state = .leasing([])
                    return .lease
                case .leasing: return .wait
                case .leased(let lease): return .ready(lease.connection)
                case .pinned(let connection): return .ready(connection)
                case .released: return .released
                }
            }
            switch step {
            case .ready(let connection):
                return connection
            case .released:
                throw Self.usedAfterRelease
            case .wait:
                // Nil: the lease failed before this caller queued; it tries again.
                if let connection = try await waitForLease() { return connection }
            case .lease:
                let result: Result<Lease, any Error>
                do { result = .success(try await database.lease()) } catch { result = .failure(error) }
                let (waiters, released) = state.withLock { state -> ([Waiter], Bool) in
                    guard case .leasing(let waiters) = state else { return ([], true) }
                    switch result {
                    case .success(let lease): state = .leased(lease)
                    case .failure: state = .idle
                    }
                    return (waiters, false)
                }
                if released, case .success(let lease) = result {
                    lease.release()  // the request ended while the lease was on its way
                    throw Self.usedAfterRelease
                }
                for waiter in waiters { waiter.resume(with: result.map { $0.connection }) }
                return try result.get().connection
            }
        }
    }

    private func waitForLease() async throws -> DatabaseConnection? {
        try await withCheckedThrowingContinuation { (continuation: Waiter) in
            enum Decision {
                case queued
                case ready(DatabaseConnection?)
                case released
            }
            let decision = state.withLock { state -> Decision in
                switch state {
                case .leasing(var waiters):
                    waiters.append(continuation)
                    state = .leasing(waiters)
                    return .queued
                case .leased(let lease): return .ready(lease.connection)
                case .pinned(let connection): return .ready(connection)
                case .idle: return .ready(nil)
                case .released: return .released
                }
            }
            switch decision {
            case .queued: break
            case .ready(let connection): continuation.resume(returning: connection)
            case .released: continuation.resume(throwing: Self.usedAfterRelease)
            }
        }
    }

    private static let usedAfterRelease = DatabaseError(.unavailable, "this DB handle was used after its request ended")

    /// Gives the connection back to the pool (done for you after the response); the handle
    /// cannot be used afterwards.
    public func release() {
        let (lease, waiters) = state.withLock { state -> (Lease?, [Waiter]) in
            defer { state = .released }
            switch state {
            case .leased(let lease): return (lease, [])
            case .leasing(let waiters): return (nil, waiters)
            case .idle, .pinned, .released: return (nil, [])
            }
        }
        for waiter in waiters { waiter.resume(throwing: Self.usedAfterRelease) }
        lease?.release()
    }

    /// Runs `body` in a transaction: `COMMIT` when it returns, `ROLLBACK` when it throws.
    ///
    /// Inside a transaction, `transaction` nests with a savepoint: an error inside rolls back to
    /// the savepoint only (the outer transaction's isolation, read-only mode and retries apply).
    /// The `DB` the body gets works until the body returns. At the outermost level a serialization failure (SQLSTATE 40001) or
    /// deadlock (40P01) runs `body` again, up to `retries` more times, after a short random
    /// pause; any other error is rethrown after the rollback.
    @discardableResult
    public func transaction<Result>(
        isolation: IsolationLevel? = nil, readOnly: Bool = false, retries: Int = 0,
        _ body: (DB) async throws -> Result
    ) async throws -> Result {
        let connection = try await connection()
        if depth > 0 {
            let savepoint = "fasterapi_savepoint_\(depth)"
            try await connection.simple("SAVEPOINT \(savepoint)")
            do {
                let result = try await Self.run(body, on: DB(database: database, pinned: connection, depth: depth + 1))
                try await connection.simple("RELEASE SAVEPOINT \(savepoint)")
                return result
            } catch {
                try? await connection.simple("ROLLBACK TO SAVEPOINT \(savepoint)")
                throw error
            }
        }
        var begin = "BEGIN"
        if let isolation { begin += " ISOLATION LEVEL \(isolation.sql)" }
        if readOnly { begin += " READ ONLY" }
        var attempt = 0
        while true {
            try await connection.simple(begin)
            do {
                let result = try await Self.run(body, on: DB(database: database, pinned: connection, depth: 1))
                try await connection.commit()
                return result
            } catch {
                do {
                    try await connection.simple("ROLLBACK")
                } catch {
                    connection.close()  // never hand back a connection stuck in a transaction
                }
                guard let failure = error as? DatabaseError, failure.isRetryable, attempt < retries else { throw error }
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...20) * attempt))
            }
        }
    }
}

extension DB {
    /// Runs a transaction's body on its handle, which stops working when the body ends.
    fileprivate static func run<Result>(_ body: (DB) async throws -> Result, on handle: DB) async throws -> Result {
        defer { handle.release() }
        return try await body(handle)
    }
}

/// A transaction's isolation level.
public enum IsolationLevel: Sendable {
    /// Each statement sees what was committed before it began (PostgreSQL's default).
    case readCommitted
    /// The transaction sees a snapshot taken at its first statement.
    case repeatableRead
    /// As if the transactions ran one after another; conflicts fail with 40001.
    case serializable

    var sql: String {
        switch self {
        case .readCommitted: "READ COMMITTED"
        case .repeatableRead: "REPEATABLE READ"
        case .serializable: "SERIALIZABLE"
        }
    }
}

extension DB: Dependency {
    /// How `@Depends db: DB` is built: from the app's ``PostgresDatabase`` (`app.postgres(…)`),
    /// released after the response.
    public static var dependency: DependencyProvider<DB> {
        DependencyProvider(inputs: []) { reader in
            let db = DB(database: try reader.request.app.state.require(PostgresDatabase.self))
            reader.scope.onTeardown { db.release() }
            return db
        }
    }
}
