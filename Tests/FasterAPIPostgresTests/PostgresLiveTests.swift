import FasterAPI
import Foundation
import PeerSupport
import Testing

@testable import FasterAPIPostgres

/// The real PostgreSQL that `scripts/test.sh` starts (SCRAM, TLS on, a unix socket).
enum LivePostgres {
    static func url() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["FASTERAPI_PG_URL"] else {
            throw PeerServer.PeerError(message: "FASTERAPI_PG_URL is not set: run ./scripts/test.sh, which starts PostgreSQL")
        }
        return url
    }

    /// A configuration for the test server. Waits are generous: a debug build on a loaded
    /// machine takes seconds for SCRAM's key derivation.
    static func configuration(_ parameters: String = "sslmode=disable") throws -> PostgresConfiguration {
        var configuration = try PostgresConfiguration(url: "\(url())?\(parameters)")
        configuration.connectTimeout = .seconds(30)
        configuration.acquireTimeout = .seconds(30)
        return configuration
    }

    /// Runs `body` with a pool for `configuration`, running.
    static func withDatabase<T: Sendable>(
        _ configuration: PostgresConfiguration? = nil, _ body: (PostgresDatabase) async throws -> T
    ) async throws -> T {
        let database = try PostgresDatabase(try configuration ?? self.configuration())
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.run() }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }

    /// A table name no other test uses.
    static func table(_ prefix: String) -> String { "\(prefix)_\(UInt32.random(in: 0...UInt32.max))" }
}

/// A row of the tests' `items` tables.
struct TestItem: Codable, Equatable, Sendable {
    enum Status: String, Codable, Sendable { case draft, published }
    struct Details: Codable, Equatable, Sendable { var colour: String; var sizes: [Int] }

    var id: Int
    var name: String
    var unitPrice: Double
    var note: String?
    var status: Status
    var tags: [String]
    var details: Details?
    var createdAt: Date
    var uuid: UUID
}

@Suite("PostgreSQL queries")
struct PostgresQueryTests {
    /// Creates an items table with three rows and runs `body` with its name.
    private func withItems(_ body: (DB, String) async throws -> Void) async throws {
        try await LivePostgres.withDatabase { database in
            try await database.withConnection { db in
                let table = LivePostgres.table("items")
                try await db.execute(
                    """
                    CREATE TABLE \(unsafeRaw: table) (
                        id int PRIMARY KEY, name text NOT NULL, unit_price float8 NOT NULL, note text,
                        status text NOT NULL, tags text[] NOT NULL, details jsonb, created_at timestamptz NOT NULL,
                        uuid uuid NOT NULL)
                    """)
                for id in 1...3 {
                    let details: TestItem.Details? = id == 1 ? TestItem.Details(colour: "red", sizes: [1, 2]) : nil
                    try await db.execute(
                        """
                        INSERT INTO \(unsafeRaw: table) VALUES (\(id), \("item \(id)"), \(Double(id) * 1.5),
                            \(id == 2 ? "second" : nil), \(TestItem.Status.draft), \(["a", "b"]), \(details),
                            \(Date(timeIntervalSince1970: 1_700_000_000)), \(UUID()))
                        """)
                }
                do {
                    try await body(db, table)
                } catch {
                    try? await db.execute("DROP TABLE \(unsafeRaw: table)")
                    throw error
                }
                try await db.execute("DROP TABLE \(unsafeRaw: table)")
            }
        }
    }

    @Test("all decodes every row by column name: snake_case, NULL, enums, arrays, jsonb, dates, UUIDs")
    func all() async throws {
        try await withItems { db, table in
            let items = try await db.query("SELECT * FROM \(unsafeRaw: table) ORDER BY id").all(TestItem.self)
            #expect(items.map(\.id) == [1, 2, 3])
            #expect(items[0].unitPrice == 1.5 && items[0].name == "item 1")
            #expect(items[0].note == nil && items[1].note == "second")
            #expect(items[0].status == .draft && items[0].tags == ["a", "b"])
            #expect(items[0].details == TestItem.Details(colour: "red", sizes: [1, 2]) && items[1].details == nil)
            #expect(items[2].createdAt == Date(timeIntervalSince1970: 1_700_000_000))
        }
    }

    @Test("one wants exactly one row; first takes the first or nil; scalar reads one value")
    func oneFirstScalar() async throws {
        try await withItems { db, table in
            let value1 = try await db.query("SELECT * FROM \(unsafeRaw: table) WHERE id = \(2)").one(TestItem.self).id
            #expect(value1 == 2)
            await #expect {
                try await db.query("SELECT * FROM \(unsafeRaw: table) WHERE id = \(99)").one(TestItem.self)
            } throws: { ($0 as? DatabaseError)?.kind == .noRows }
            await #expect {
                try await db.query("SELECT * FROM \(unsafeRaw: table)").one(TestItem.self)
            } throws: { ($0 as? DatabaseError)?.kind == .tooManyRows }
            let value2 = try await db.query("SELECT * FROM \(unsafeRaw: table) ORDER BY id DESC").first(TestItem.self)?.id
            #expect(value2 == 3)
            let value3 = try await db.query("SELECT * FROM \(unsafeRaw: table) WHERE false").first(TestItem.self)
            #expect(value3 == nil)
            let value4 = try await db.query("SELECT count(*) FROM \(unsafeRaw: table)").scalar(Int.self)
            #expect(value4 == 3)
            let value5 = try await db.query("SELECT note FROM \(unsafeRaw: table) WHERE id = 1").scalar(String?.self)
            #expect(value5 == nil)
        }
    }

    @Test("tuples read columns by position; execute returns the rows affected")
    func tuplesAndExecute() async throws {
        try await withItems { db, table in
            let pairs = try await db.query("SELECT id, name FROM \(unsafeRaw: table) ORDER BY id").tuples(Int.self, String.self)
            #expect(pairs.map(\.0) == [1, 2, 3] && pairs[1].1 == "item 2")
            let value6 = try await db.execute("UPDATE \(unsafeRaw: table) SET note = \("x") WHERE id >= \(2)")
            #expect(value6 == 2)
            let value7 = try await db.query("DELETE FROM \(unsafeRaw: table) WHERE id = \(1)").execute()
            #expect(value7 == 1)
            let value8 = try await db.execute("DELETE FROM \(unsafeRaw: table) WHERE id = \(1)")
            #expect(value8 == 0)
        }
    }

    @Test("stream reads a large result row by row")
    func stream() async throws {
        try await LivePostgres.withDatabase { database in
            try await database.withConnection { db in
                struct Number: Decodable { var n: Int }
                var sum = 0
                var count = 0
                for try await row in try await db.query("SELECT n FROM generate_series(1, \(200_000)) AS n").stream(Number.self) {
                    sum += row.n
                    count += 1
                }
                #expect(count == 200_000 && sum == 200_000 * 200_001 / 2)
            }
        }
    }

    @Test("A value that does not fit its Swift type fails naming the column and both types")
    func decodingErrors() async throws {
        try await LivePostgres.withDatabase { database in
            try await database.withConnection { db in
                struct Wrong: Decodable { var id: Int; var name: Int }
                await #expect {
                    try await db.query("SELECT 1 AS id, 'abc'::text AS name").one(Wrong.self)
                } throws: { error in
                    let error = error as? DatabaseError
                    return error?.kind == .decoding && error?.column == "name" && "\(error!)".contains("Int")
                }
                struct Missing: Decodable { var id: Int; var price: Double }
                await #expect {
                    try await db.query("SELECT 1 AS id").one(Missing.self)
                } throws: { "\($0)".contains("no column for 'price'") }
                struct NotOptional: Decodable { var id: Int; var note: String }
                await #expect {
                    try await db.query("SELECT 1 AS id, NULL::text AS note").one(NotOptional.self)
                } throws: { "\($0)".contains("'note'") && "\($0)".contains("NULL") }
            }
        }
    }

    @Test("Hostile strings stay data: interpolation binds, it never splices")
    func injection() async throws {
        try await LivePostgres.withDatabase { database in
            try await database.withConnection { db in
                let hostile = "x'; DROP TABLE pg_class; --"
                let value9 = try await db.query("SELECT \(hostile)::text").scalar(String.self)
                #expect(value9 == hostile)
            }
        }
    }

    @Test("Server errors carry SQLSTATE, message, detail and constraint")
    func serverErrors() async throws {
        try await withItems { db, table in
            await #expect {
                try await db.execute(
                    "INSERT INTO \(unsafeRaw: table) (id, name, unit_price, status, tags, created_at, uuid) VALUES (1, 'dup', 1, 'draft', '{}', now(), gen_random_uuid())")
            } throws: { error in
                guard let error = error as? DatabaseError else { return false }
                return error.kind == .server && error.sqlState == "23505" && error.isUniqueViolation
                    && error.constraint == "\(table)_pkey" && error.detail?.contains("(id)=(1)") == true
            }
            await #expect {
                try await db.execute("SELEC 1")
            } throws: { ($0 as? DatabaseError)?.sqlState == "42601" }
            // The connection is still good after errors.
            let value10 = try await db.query("SELECT 1").scalar(Int.self)
            #expect(value10 == 1)
        }
    }

    @Test("Statements are prepared once per connection and the cache stays within its bound")
    func preparedStatements() async throws {
        var configuration = try LivePostgres.configuration()
        configuration.statementCacheCapacity = 3
        configuration.maximumConnections = 1
        try await LivePostgres.withDatabase(configuration) { database in
            try await database.withConnection { db in
                for _ in 0..<5 { _ = try await db.query("SELECT \(1) + 1").scalar(Int.self) }
                let prepared = "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'fasterapi_%'"
                let preparedNow = try await db.query(SQL(unsafeSQL: prepared)).scalar(Int.self)
                #expect(preparedNow == 2)  // the select and this count
                for n in 0..<10 { _ = try await db.query("SELECT \(n) + \(unsafeRaw: String(n))").scalar(Int.self) }
                let value11 = try await db.query(SQL(unsafeSQL: prepared)).scalar(Int.self)
                #expect(value11 <= 3)
                let value12 = try await db.connection().preparedCount
                #expect(value12 == 3)
            }
        }
    }
}

@Suite("PostgreSQL transactions")
struct PostgresTransactionTests {
    private func withTable(_ body: (PostgresDatabase, String) async throws -> Void) async throws {
        try await LivePostgres.withDatabase { database in
            let table = LivePostgres.table("accounts")
            try await database.withConnection { db in
                try await db.execute("CREATE TABLE \(unsafeRaw: table) (id int PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0))")
                try await db.execute("INSERT INTO \(unsafeRaw: table) VALUES (1, 100), (2, 100)")
            }
            do {
                try await body(database, table)
            } catch {
                _ = try? await database.withConnection { try await $0.execute("DROP TABLE \(unsafeRaw: table)") }
                throw error
            }
            try await database.withConnection { try await $0.execute("DROP TABLE \(unsafeRaw: table)") }
        }
    }

    private func balances(_ database: PostgresDatabase, _ table: String) async throws -> [Int] {
        try await database.withConnection { db in
            try await db.query("SELECT balance FROM \(unsafeRaw: table) ORDER BY id").tuples(Int.self).map { $0 }
        }
    }

    @Test("A transaction commits when its body returns and rolls back every write when it throws")
    func commitAndRollback() async throws {
        try await withTable { database, table in
            try await database.transaction { tx in
                try await tx.execute("UPDATE \(unsafeRaw: table) SET balance = balance - 30 WHERE id = 1")
                try await tx.execute("UPDATE \(unsafeRaw: table) SET balance = balance + 30 WHERE id = 2")
            }
            let value13 = try await balances(database, table)
            #expect(value13 == [70, 130])
            await #expect {
                try await database.transaction { tx in
                    try await tx.execute("UPDATE \(unsafeRaw: table) SET balance = balance + 500 WHERE id = 2")
                    try await tx.execute("UPDATE \(unsafeRaw: table) SET balance = balance - 500 WHERE id = 1")
                }
            } throws: { ($0 as? DatabaseError)?.sqlState == "23514" }
            let value14 = try await balances(database, table)
            #expect(value14 == [70, 130])
        }
    }

    @Test("Nested transactions are savepoints: an inner failure undoes only the inner writes")
    func savepoints() async throws {
        try await withTable { database, table in
            try await database.transaction { tx in
                try await tx.execute("UPDATE \(unsafeRaw: table) SET balance = 1 WHERE id = 1")
                await #expect(throws: DatabaseError.self) {
                    try await tx.transaction { inner in
                        try await inner.execute("UPDATE \(unsafeRaw: table) SET balance = 2 WHERE id = 2")
                        try await inner.execute("UPDATE \(unsafeRaw: table) SET balance = -1 WHERE id = 2")
                    }
                }
                try await tx.transaction { inner in
                    try await inner.execute("UPDATE \(unsafeRaw: table) SET balance = 3 WHERE id = 2")
                }
            }
            let value15 = try await balances(database, table)
            #expect(value15 == [1, 3])
        }
    }

    @Test("A read-only transaction refuses writes")
    func readOnly() async throws {
        try await withTable { database, table in
            await #expect {
                try await database.transaction(readOnly: true) { tx in
                    try await tx.execute("UPDATE \(unsafeRaw: table) SET balance = 0")
                }
            } throws: { ($0 as? DatabaseError)?.sqlState == "25006" }
            let value16 = try await balances(database, table)
            #expect(value16 == [100, 100])
        }
    }

    @Test("Serialization failures are retried: concurrent serializable increments all land")
    func serializableRetries() async throws {
        try await withTable { database, table in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await database.transaction(isolation: .serializable, retries: 50) { tx in
                            let balance = try await tx.query("SELECT balance FROM \(unsafeRaw: table) WHERE id = 2").scalar(Int.self)
                            try await Task.sleep(for: .milliseconds(5))
                            try await tx.execute("UPDATE \(unsafeRaw: table) SET balance = \(balance + 1) WHERE id = 2")
                        }
                    }
                }
                try await group.waitForAll()
            }
            // Without retries, concurrent read-then-write transactions fail with 40001 (or lose updates).
            let value17 = try await balances(database, table)
            #expect(value17 == [100, 108])
        }
    }
}

@Suite("PostgreSQL COPY")
struct PostgresCopyTests {
    struct Row: Codable, Equatable, Sendable {
        var id: Int
        var label: String?
        var unitPrice: Double
    }

    @Test("COPY writes awkward text exactly: tabs, newlines, backslashes, NULL, quotes, Unicode")
    func awkwardText() async throws {
        try await LivePostgres.withDatabase { database in
            try await database.withConnection { db in
                let table = LivePostgres.table("copy")
                try await db.execute("CREATE TABLE \(unsafeRaw: table) (id int, label text, unit_price float8)")
                let labels: [String?] = ["tab\there", "new\nline", "back\\slash\\N", nil, "\\N", "quote'\"", "héllo ✓ 🎉", "", "cr\r"]
                let rows = labels.enumerated().map { Row(id: $0.offset, label: $0.element, unitPrice: Double($0.offset) / 3) }
                let value18 = try await db.copyIn(into: table, rows: rows)
                #expect(value18 == rows.count)
                let back = try await db.query("SELECT * FROM \(unsafeRaw: table) ORDER BY id").all(Row.self)
                #expect(back == rows)
                try await db.execute("DROP TABLE \(unsafeRaw: table)")
            }
        }
    }

    @Test("COPY fills array, timestamp and jsonb columns")
    func columnTypes() async throws {
        struct Tagged: Codable, Equatable, Sendable {
            struct Extra: Codable, Equatable, Sendable { var size: Int }
            var tags: [String]
            var scores: [Int]
            var at: Date
            var extra: Extra
        }
        try await LivePostgres.withDatabase { database in
            try await database.withConnection { db in
                let table = LivePostgres.table("copy")
                try await db.execute("CREATE TABLE \(unsafeRaw: table) (tags text[], scores int8[], at timestamptz, extra jsonb)")
                let rows = [
                    Tagged(tags: ["a b", "quote\"", "back\\slash", "tab\t"], scores: [1, -2], at: Date(timeIntervalSince1970: 1_700_000_000.123456), extra: .init(size: 3)),
                    Tagged(tags: [], scores: [], at: Date(timeIntervalSince1970: 0), extra: .init(size: 0)),
                ]
                try await db.copyIn(into: table, rows: rows)
                let back = try await db.query("SELECT * FROM \(unsafeRaw: table) ORDER BY at DESC").all(Tagged.self)
                #expect(back.map(\.tags) == rows.map(\.tags) && back.map(\.scores) == rows.map(\.scores))
                #expect(back.map(\.extra) == rows.map(\.extra))
                #expect(abs(back[0].at.timeIntervalSince1970 - 1_700_000_000.123456) < 0.000_001)
                try await db.execute("DROP TABLE \(unsafeRaw: table)")
            }
        }
    }

    @Test("COPY streams rows from an async sequence; a failing row aborts the whole copy")
    func asyncRows() async throws {
        try await LivePostgres.withDatabase { database in
            try await database.withConnection { db in
                let table = LivePostgres.table("copy")
                try await db.execute("CREATE TABLE \(unsafeRaw: table) (id int, label text, unit_price float8 NOT NULL)")
                let rows = AsyncStream<Row> { continuation in
                    for id in 0..<50_000 { continuation.yield(Row(id: id, label: "row \(id)", unitPrice: 1)) }
                    continuation.finish()
                }
                let value19 = try await db.copyIn(into: table, rows: rows)
                #expect(value19 == 50_000)
                let value20 = try await db.query("SELECT count(*) FROM \(unsafeRaw: table)").scalar(Int.self)
                #expect(value20 == 50_000)

                struct Loose: Encodable { var id: Int; var label: String?; var unitPrice: Double? }
                let bad = (0..<1000).map { Loose(id: $0, label: nil, unitPrice: $0 == 999 ? nil : 1) }
                await #expect {
                    try await db.copyIn(into: table, rows: bad)
                } throws: { ($0 as? DatabaseError)?.sqlState == "23502" }
                let value21 = try await db.query("SELECT count(*) FROM \(unsafeRaw: table)").scalar(Int.self)
                #expect(value21 == 50_000)
                try await db.execute("DROP TABLE \(unsafeRaw: table)")
            }
        }
    }
}

@Suite("PostgreSQL connections")
struct PostgresConnectionTests {
    @Test("More callers than connections: each waits its turn, none is lost")
    func queueing() async throws {
        var configuration = try LivePostgres.configuration()
        configuration.maximumConnections = 4
        let total = try await LivePostgres.withDatabase(configuration) { database in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        try await database.withConnection { db in try await db.query("SELECT 1").scalar(Int.self) }
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        #expect(total == 50)
    }

    @Test("TLS with the server's certificate verified against our CA (verify-full)")
    func verifiedTLS() async throws {
        let ca = try #require(ProcessInfo.processInfo.environment["FASTERAPI_PG_CA"])
        let configuration = try LivePostgres.configuration("sslmode=verify-full&sslrootcert=\(ca)")
        let ssl = try await LivePostgres.withDatabase(configuration) { database in
            try await database.withConnection { db in
                try await db.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").scalar(Bool.self)
            }
        }
        #expect(ssl)
    }

    @Test("A certificate that does not chain to a trusted root is refused")
    func untrustedCertificate() async throws {
        let configuration = try LivePostgres.configuration("sslmode=verify-full")
        try await LivePostgres.withDatabase(configuration) { database in
            await #expect {
                try await database.withConnection { try await $0.query("SELECT 1").scalar(Int.self) }
            } throws: { ($0 as? DatabaseError)?.kind == .unavailable }
        }
    }

    @Test("A wrong password is refused by SCRAM with the server's reason")
    func wrongPassword() async throws {
        let url = try LivePostgres.url().replacingOccurrences(of: ":fasterapi-secret@", with: ":wrong@")
        var configuration = try PostgresConfiguration(url: url + "?sslmode=disable")
        configuration.acquireTimeout = .seconds(30)
        try await LivePostgres.withDatabase(configuration) { database in
            await #expect {
                try await database.withConnection { try await $0.query("SELECT 1").scalar(Int.self) }
            } throws: { "\($0)".contains("password authentication failed") }
            #expect(await !database.isReady(timeout: .milliseconds(500)))
        }
    }

    @Test("The unix socket works as well as TCP, with the application name reported")
    func unixSocket() async throws {
        let socket = try #require(ProcessInfo.processInfo.environment["FASTERAPI_PG_SOCKET"])
        let port = try #require(URLComponents(string: try LivePostgres.url())?.port)
        let configuration = try LivePostgres.configuration("host=\(socket)&port=\(port)&application_name=fa-socket-test")
        #expect(configuration.endpoint == .unixSocket(path: "\(socket)/.s.PGSQL.\(port)"))
        let name = try await LivePostgres.withDatabase(configuration) { database in
            try await database.withConnection { db in
                try await db.query("SELECT current_setting('application_name')").scalar(String.self)
            }
        }
        #expect(name == "fa-socket-test")
    }
}

@Suite("PostgreSQL in an app")
struct PostgresAppTests {
    /// An app with a `users` table, a typed route using `@Depends db: DB`, and routes that fail.
    private func makeApp(maxConnections: Int = 1) throws -> (App, String) {
        let app = App()
        var configuration = try LivePostgres.configuration()
        configuration.maximumConnections = maxConnections
        let database = try app.postgres(configuration)
        let table = LivePostgres.table("accounts")
        app.onStartup { _ in
            _ = try await database.withConnection { db in
                try await db.execute(
                    "CREATE TABLE \(unsafeRaw: table) (id int PRIMARY KEY, email text NOT NULL UNIQUE CHECK (email LIKE '%@%'))")
            }
        }
        app.onShutdown { _ in
            _ = try await database.withConnection { try await $0.execute("DROP TABLE \(unsafeRaw: table)") }
        }
        app.include(AccountsAPI(table: table))
        app.readinessCheck(at: "/ready", database: database)
        return (app, table)
    }

    @Test("Handlers get a request-scoped DB; the lease is released after every response, also errors")
    func requestScope() async throws {
        let (app, _) = try makeApp(maxConnections: 1)
        try await app.test(.live) { client in
            // With one connection, every request after the first needs the previous lease back.
            for id in 1...5 {
                let created = try await client.execute(.post, "/accounts", json: Account(id: id, email: "u\(id)@x.org"))
                #expect(created.status == .created)
                let value22 = try await client.get("/accounts/\(id)").json(Account.self).email
                #expect(value22 == "u\(id)@x.org")
                let value23 = try await client.get("/accounts/\(id)/fail").status
                #expect(value23 == .internalServerError)
            }
            let value24 = try await client.get("/accounts/404").status
            #expect(value24 == .notFound)
            let value25 = try await client.get("/ready").status
            #expect(value25 == .ok)
        }
    }

    @Test("Constraint violations that escape a handler are 409 (unique) and 422 (check, not-null)")
    func errorStatuses() async throws {
        let (app, _) = try makeApp(maxConnections: 2)
        try await app.test(.live) { client in
            let value26 = try await client.execute(.post, "/accounts", json: Account(id: 1, email: "a@x.org")).status
            #expect(value26 == .created)
            let duplicate = try await client.execute(.post, "/accounts", json: Account(id: 2, email: "a@x.org"))
            #expect(duplicate.status == .conflict)
            #expect(duplicate.text.contains("duplicate key"))
            let value27 = try await client.execute(.post, "/accounts", json: Account(id: 3, email: "nope")).status
            #expect(value27 == .unprocessableContent)
        }
    }
}

/// An account of the app tests.
@Schema struct Account: Codable, Sendable {
    var id: Int
    var email: String
}

@Routes struct AccountsAPI {
    let table: String

    @POST("/accounts", status: .created)
    func create(@Body account: Account, @Depends db: DB) async throws -> Account {
        try await db.query(
            "INSERT INTO \(unsafeRaw: table) (id, email) VALUES (\(account.id), \(account.email)) RETURNING id, email"
        ).one(Account.self)
    }

    @GET("/accounts/{id}")
    func read(id: Int, @Depends db: DB) async throws -> Account {
        try await db.query("SELECT id, email FROM \(unsafeRaw: table) WHERE id = \(id)").one(Account.self)
    }

    @GET("/accounts/{id}/fail")
    func fail(id: Int, @Depends db: DB) async throws -> Account {
        _ = try await db.query("SELECT 1").scalar(Int.self)
        throw HTTPError(.internalServerError, detail: "failed after a query")
    }
}
