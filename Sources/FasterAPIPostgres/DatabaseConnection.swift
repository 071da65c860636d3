import Logging
import NIOCore
import PostgresNIO
import Synchronization
import _ConnectionPoolModule

/// A pooled connection and its prepared statements.
final class DatabaseConnection: PooledConnection {
    let id: Int
    let underlying: PostgresConnection
    let naming: PostgresConfiguration.ColumnNaming
    private let statements: Mutex<StatementCache>
    private let logger: Logger

    init(_ underlying: PostgresConnection, id: Int, configuration: PostgresConfiguration, logger: Logger) {
        self.id = id
        self.underlying = underlying
        self.naming = configuration.columnNaming
        self.statements = Mutex(StatementCache(capacity: max(1, configuration.statementCacheCapacity)))
        self.logger = logger
    }

    func onClose(_ closure: @escaping @Sendable ((any Error)?) -> Void) {
        underlying.closeFuture.whenComplete { _ in closure(nil) }
    }

    func close() {
        // PostgresConnection has several `close()`s; this is the pool's (closes the channel now).
        func closeNow<Connection: PooledConnection>(_ connection: Connection) { connection.close() }
        closeNow(underlying)
    }

    var isClosed: Bool { underlying.isClosed }

    /// Runs `sql` as a cached prepared statement; the rows arrive as they are read, and the
    /// column map is known if an earlier run of the statement recorded it.
    func rows(_ sql: SQL) async throws -> (rows: PreparedRows, key: StatementCache.Key, columns: ColumnMap?) {
        let (key, lookup) = try prepare(sql)
        if let evicted = lookup.evicted { await deallocate(evicted) }
        do {
            let rows = try await CachedStatement.$identity.withValue(.init(name: lookup.name, sql: sql.text)) {
                try await underlying.execute(CachedStatement(bindings: sql.bindings), logger: logger)
            }
            if !lookup.confirmed { statements.withLock { $0.confirm(key, columns: nil) } }
            return (rows, key, lookup.columns)
        } catch {
            let error = DatabaseError.wrap(error)
            // 0A000: the plan no longer fits the table (ALTER TABLE under `SELECT *`); 26000: the
            // statement is gone (DISCARD ALL, DEALLOCATE ALL).
            let invalidated = ["0A000", "26000"].contains((error as? DatabaseError)?.sqlState)
            if !lookup.confirmed || invalidated { statements.withLock { $0.forget(key, named: lookup.name) } }
            throw error
        }
    }

    /// Runs `sql` for its effect; returns the rows it affected (inserted, updated, deleted,
    /// copied or selected). Not prepared: PostgresNIO reports the affected rows only for
    /// unprepared statements.
    func command(_ sql: SQL) async throws -> Int {
        if let error = sql.encodingError { throw error }
        do {
            return try await underlying.query(sql.query, logger: logger).get().metadata.rows ?? 0
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// Runs trusted statement text without preparing it (transaction control, `SAVEPOINT`…).
    func simple(_ text: String) async throws {
        do {
            try await underlying.query(PostgresQuery(unsafeSQL: text), logger: logger)
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// Commits the open transaction. A transaction in which a statement failed is rolled back
    /// by the server on `COMMIT` without an error; that is reported as one here.
    func commit() async throws {
        let tag: String
        do {
            tag = try await underlying.query("COMMIT", logger: logger).get().metadata.command
        } catch {
            throw DatabaseError.wrap(error)
        }
        guard tag == "COMMIT" else {
            throw DatabaseError(
                .server, "the transaction was rolled back: a statement in it failed", sqlState: "25P02")
        }
    }

    /// Records the column map worked out from `key`'s first result.
    func remember(_ columns: ColumnMap, for key: StatementCache.Key) {
        statements.withLock { $0.confirm(key, columns: columns) }
    }

    /// How many statements are prepared (for tests).
    var preparedCount: Int { statements.withLock { $0.count } }

    private func prepare(_ sql: SQL) throws -> (StatementCache.Key, StatementCache.Lookup) {
        if let error = sql.encodingError { throw error }
        let key = StatementCache.Key(sql: sql.text, types: sql.parameterTypes)
        return (key, statements.withLock { $0.lookup(key) })
    }

    private func deallocate(_ name: String) async {
        do {
            try await underlying.query(PostgresQuery(unsafeSQL: "DEALLOCATE \"\(name)\""), logger: logger)
        } catch {
            logger.debug("Could not deallocate \(name): \(error)")
        }
    }
}

/// The rows of a prepared statement, read as they arrive.
typealias PreparedRows = AsyncThrowingMapSequence<PostgresRowSequence, PostgresRow>

/// The name and text of the prepared statement being run. PostgresNIO takes a prepared
/// statement's name and text from its type; ours vary by query, so the statement types read them
/// from this task-local, bound around each call.
struct StatementIdentity: Sendable {
    var name = ""
    var sql = ""
}

/// A cached statement that returns rows.
struct CachedStatement: PostgresPreparedStatement {
    @TaskLocal static var identity = StatementIdentity()
    static var name: String {
        precondition(!identity.name.isEmpty, "a cached statement's name was read outside its call")
        return identity.name
    }
    static var sql: String { identity.sql }

    let bindings: PostgresBindings

    func makeBindings() -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
}
