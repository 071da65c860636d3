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
    private enum State {
        case idle
        case leasing([CheckedContinuation<DatabaseConnection, any Error>])
        case leased(ConnectionLease<DatabaseConnection>)
        case released
    }

    let database: PostgresDatabase
    private let state: Mutex<State>
    /// Savepoint depth: 0 outside a transaction.
    let depth: Int
    /// The connection a transaction runs on (nil: lease lazily).
    private let pinned: DatabaseConnection?

    init(database: PostgresDatabase) {
        self.database = database
        self.state = Mutex(.idle)
        self.depth = 0
        self.pinned = nil
    }

    /// A handle on `connection` inside a transaction, `depth` savepoints deep.
    private init(database: PostgresDatabase, pinned connection: DatabaseConnection, depth: Int) {
        self.database = database
        self.state = Mutex(.released)
        self.depth = depth
        self.pinned = connection
    }

    /// A statement to run; pick how to read its result (``DBQuery/all(_:)``, ``DBQuery/one(_:)``…).
    public func query(_ sql: SQL) -> DBQuery { DBQuery(db: self, sql: sql) }

    /// Runs `sql` for its effect and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: SQL) async throws -> Int {
        try await connection().command(sql)
    }

    /// The connection, leased on first use; concurrent first uses share one lease.
    func connection() async throws -> DatabaseConnection {
        if let pinned { return pinned }
        enum Step {
            case ready(DatabaseConnection)
            case lease
            case wait
            case released
        }
        let step = state.withLock { state -> Step in
            switch state {
            case .idle:
                state = .leasing([])
                return .lease
            case .leasing: return .wait
            case .leased(let lease): return .ready(lease.connection)
            case .released: return .released
            }
        }
        switch step {
        case .ready(let connection):
            return connection
        case .released:
            throw Self.usedAfterRelease
        case .wait:
            return try await withCheckedThrowingContinuation { continuation in
                let ready = state.withLock { state -> DatabaseConnection? in
                    if case .leasing(var waiters) = state {
                        waiters.append(continuation)
                        state = .leasing(waiters)
                    }
                    if case .leased(let lease) = state { return lease.connection }
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        case .lease:
            let result: Result<ConnectionLease<DatabaseConnection>, any Error>
            do { result = .success(try await database.lease()) } catch { result = .failure(error) }
            let (waiters, released) = state.withLock {
                state -> ([CheckedContinuation<DatabaseConnection, any Error>], Bool) in
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
            for waiter in waiters { waiter.resume(with: result.map(\.connection)) }
            return try result.get().connection
        }
    }

    private static let usedAfterRelease = DatabaseError(.unavailable, "this DB handle was used after its request ended")

    /// Gives the connection back to the pool (done for you after the response); the handle
    /// cannot be used afterwards.
    public func release() {
        let (lease, waiters) = state.withLock {
            state -> (ConnectionLease<DatabaseConnection>?, [CheckedContinuation<DatabaseConnection, any Error>]) in
            defer { state = .released }
            switch state {
            case .leased(let lease): return (lease, [])
            case .leasing(let waiters): return (nil, waiters)
            case .idle, .released: return (nil, [])
            }
        }
        for waiter in waiters { waiter.resume(throwing: Self.usedAfterRelease) }
        lease?.release()
    }

    /// Runs `body` in a transaction: `COMMIT` when it returns, `ROLLBACK` when it throws.
    ///
    /// Inside a transaction, `transaction` nests with a savepoint: an error inside rolls back to
    /// the savepoint only. At the outermost level a serialization failure (SQLSTATE 40001) or
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
                let result = try await body(DB(database: database, pinned: connection, depth: depth + 1))
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
                let result = try await body(DB(database: database, pinned: connection, depth: 1))
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

/// A transaction's isolation level.
public enum IsolationLevel: Sendable {
    case readCommitted, repeatableRead, serializable

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
