import FasterAPI
import Logging

extension App {
    /// Connects the app to PostgreSQL: the pool starts and stops with the app, handlers take a
    /// request-scoped ``DB`` (`@Depends db: DB`), and a ``DatabaseError`` that escapes a handler
    /// becomes an HTTP answer as `errors` says (409 for a unique violation, 422 for a not-null or
    /// check violation… by default).
    ///
    /// ```swift
    /// let database = try app.postgres(PostgresConfiguration(url: databaseURL))
    /// ```
    @discardableResult
    public func postgres(_ configuration: PostgresConfiguration, errors: DatabaseErrorMapping = .default) throws
        -> PostgresDatabase
    {
        let database = try PostgresDatabase(configuration, logger: logger)
        state[PostgresDatabase.self] = database
        addService(database)
        errorHandler(for: DatabaseError.self) { [logger] request, error in
            let response = errors.response(for: error)
            if response.status.code >= 500 {
                logger.error("\(request.method) \(request.path): \(error)")
            }
            return response
        }
        return database
    }

    /// A readiness probe at `path`: 200 `{"status":"ready"}` while `database` hands out a
    /// connection that answers within `timeout`, else 503 `{"status":"unavailable"}`.
    public func readinessCheck(at path: String = "/ready", database: PostgresDatabase, timeout: Duration = .seconds(2)) {
        get(path) { _ in
            let ready = await database.isReady(timeout: timeout)
            return JSON(["status": ready ? "ready" : "unavailable"], status: ready ? .ok : .serviceUnavailable)
        }
    }
}
