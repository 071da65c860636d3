import FasterAPI
import PostgresNIO
import _ConnectionPoolModule

/// Everything that goes wrong with the database, in one type: what the server said (SQLSTATE,
/// message, detail, hint and the constraint, table and column it names), a lost or unreachable
/// server, a pool that had no connection in time, or a row that did not fit its type.
public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure.
    public enum Kind: Sendable, Equatable {
        /// The server refused the statement; see ``sqlState``.
        case server
        /// The connection broke while it was in use (the server went away or killed the backend).
        case connectionLost
        /// No connection could be opened (server down, wrong password, TLS refused…).
        case unavailable
        /// Every connection stayed busy for the whole acquire timeout.
        case poolTimeout
        /// ``DBQuery/one(_:)`` found no row.
        case noRows
        /// ``DBQuery/one(_:)`` found more than one row.
        case tooManyRows
        /// A column's value did not fit the Swift type asked for.
        case decoding
        /// A value could not be sent (COPY rows, JSON parameters).
        case encoding
    }

    /// What kind of failure.
    public var kind: Kind
    /// The server's five-character SQLSTATE (`23505` for a unique violation), for `.server`.
    public var sqlState: String?
    /// The primary message.
    public var message: String
    /// The server's detail (`Key (email)=(a@b.c) already exists.`).
    public var detail: String?
    /// The server's hint.
    public var hint: String?
    /// The constraint the statement violated.
    public var constraint: String?
    /// The table the error concerns.
    public var table: String?
    /// The column the error concerns.
    public var column: String?

    /// An error of `kind`.
    public init(_ kind: Kind, _ message: String, sqlState: String? = nil) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
    }

    /// A unique or primary-key violation (23505).
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// A serialization failure (40001) or deadlock (40P01): worth retrying the transaction.
    public var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" }

    /// The message, SQLSTATE, detail and hint on one line.
    public var description: String {
        var text = sqlState.map { "\(message) (SQLSTATE \($0))" } ?? message
        if let detail { text += ". \(detail)" }
        if let hint { text += " Hint: \(hint)" }
        return text
    }

    /// Any error the driver or the pool throws, as a `DatabaseError` (others pass through).
    static func wrap(_ error: any Error) -> any Error {
        switch error {
        case let error as DatabaseError:
            return error
        case let error as PSQLError:
            return DatabaseError(error)
        case let error as PostgresDecodingError:
            return DatabaseError(decoding: error)
        case let error as ConnectionPoolError where error == .poolShutdown:
            return DatabaseError(.unavailable, "the connection pool has shut down")
        default:
            return error
        }
    }

    init(_ error: PSQLError) {
        if let info = error.serverInfo {
            self.init(.server, info[.message] ?? "server error", sqlState: info[.sqlState])
            detail = info[.detail]
            hint = info[.hint]
            constraint = info[.constraintName]
            table = info[.tableName]
            column = info[.columnName]
            // 57P01 (admin shutdown, pg_terminate_backend) and friends end the connection.
            if sqlState?.hasPrefix("57P") == true { kind = .connectionLost }
            return
        }
        switch error.code {
        case .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
            self.init(.connectionLost, "the connection to the database was lost")
        case .connectionError:
            self.init(.unavailable, "cannot connect to the database: \(error.underlying.map { "\($0)" } ?? "connection error")")
        case .queryCancelled:
            self.init(.server, "the query was cancelled", sqlState: "57014")
        case .tooManyParameters:
            self.init(.encoding, "a statement takes at most 65,535 parameters")
        default:
            self.init(.unavailable, "database error: \(error.code)")
        }
    }

    init(decoding error: PostgresDecodingError) {
        let reason = error.code == .missingData ? "is NULL" : "cannot be read"
        self.init(
            .decoding,
            "column '\(error.columnName)' (\(error.postgresType)) \(reason) as \(error.targetType)")
        column = error.columnName
    }
}

/// Which HTTP answer a ``DatabaseError`` that escapes a handler gets.
///
/// By default: a unique or foreign-key violation is 409, a not-null or check violation 422,
/// ``DBQuery/one(_:)`` finding nothing 404, an unreachable server or an exhausted pool 503 (with
/// `Retry-After: 1`), anything else 500 without the server's text.
public struct DatabaseErrorMapping: Sendable {
    /// The status for an error, or nil for the default.
    let status: @Sendable (DatabaseError) -> HTTPStatus?

    /// A mapping that asks `status` first and falls back to the default.
    public init(_ status: @escaping @Sendable (DatabaseError) -> HTTPStatus?) {
        self.status = status
    }

    /// The default mapping.
    public static let `default` = DatabaseErrorMapping { _ in nil }

    /// The response for `error`.
    func response(for error: DatabaseError) -> Response {
        let status = status(error) ?? Self.defaultStatus(error)
        var headers = HTTPHeaders()
        if status == .serviceUnavailable { headers.add(name: "Retry-After", value: "1") }
        // Client errors show the server's message; server errors do not leak it.
        let detail = status.code < 500 ? error.message : "database error"
        return HTTPError(status, detail: detail, headers: headers).response
    }

    static func defaultStatus(_ error: DatabaseError) -> HTTPStatus {
        switch error.kind {
        case .server:
            switch error.sqlState {
            case "23505", "23503": return .conflict
            case "23502", "23514": return .unprocessableContent
            default: return .internalServerError
            }
        case .noRows: return .notFound
        case .unavailable, .poolTimeout, .connectionLost: return .serviceUnavailable
        case .tooManyRows, .decoding, .encoding: return .internalServerError
        }
    }
}
