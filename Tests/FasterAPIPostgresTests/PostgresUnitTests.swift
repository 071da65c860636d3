import FasterAPI
import Foundation
import PostgresNIO
import Testing

@testable import FasterAPIPostgres

@Suite("PostgreSQL configuration")
struct PostgresConfigurationTests {
    @Test("A URL gives host, port, credentials, database, TLS and pool settings")
    func fullURL() throws {
        let config = try PostgresConfiguration(
            url: "postgresql://app%40corp:s%3Acret@db.example.com:6432/shop?sslmode=verify-full&sslrootcert=/etc/ca.pem"
                + "&application_name=api&statement_timeout=1500&connect_timeout=3&pool_min=2&pool_max=32")
        #expect(config.endpoint == .tcp(host: "db.example.com", port: 6432))
        #expect(config.username == "app@corp")
        #expect(config.password == "s:cret")
        #expect(config.database == "shop")
        #expect(config.tls.mode == .require)
        #expect(config.tls.verification == .full)
        #expect(config.tls.rootCertificatePath == "/etc/ca.pem")
        #expect(config.applicationName == "api")
        #expect(config.statementTimeout == .milliseconds(1500))
        #expect(config.connectTimeout == .seconds(3))
        #expect(config.minimumConnections == 2)
        #expect(config.maximumConnections == 32)
    }

    @Test("Defaults follow libpq: localhost:5432, TLS preferred without verification")
    func defaults() throws {
        let config = try PostgresConfiguration(url: "postgres://me@/")
        #expect(config.endpoint == .tcp(host: "localhost", port: 5432))
        #expect(config.password == nil)
        #expect(config.database == nil)
        #expect(config.tls.mode == .prefer)
        #expect(config.tls.verification == .none)
    }

    @Test("IPv6 hosts, unix sockets by host=/dir, and each sslmode")
    func hostsAndModes() throws {
        #expect(try PostgresConfiguration(url: "postgres://u@[::1]:5433/d").endpoint == .tcp(host: "::1", port: 5433))
        #expect(
            try PostgresConfiguration(url: "postgres://u@/d?host=/run/postgresql&port=5440").endpoint
                == .unixSocket(path: "/run/postgresql/.s.PGSQL.5440"))
        #expect(try PostgresConfiguration(url: "postgres://u@h/d?sslmode=disable").tls.mode == .disable)
        let require = try PostgresConfiguration(url: "postgres://u@h/d?sslmode=require").tls
        #expect(require.mode == .require && require.verification == .none)
        let requireWithRoot = try PostgresConfiguration(url: "postgres://u@h/d?sslmode=require&sslrootcert=/ca.pem").tls
        #expect(requireWithRoot.verification == .certificate)
        #expect(try PostgresConfiguration(url: "postgres://u@h/d?sslmode=verify-ca").tls.verification == .certificate)
    }

    @Test(
        "Bad URLs are refused with the reason",
        arguments: [
            ("mysql://u@h/d", "postgres://"),
            ("postgres://h/d", "no user"),
            ("postgres://u@h:99999/d", "port"),
            ("postgres://u@h/d?sslmode=sometimes", "sslmode"),
            ("postgres://u@h/d?pool_max=many", "pool_max"),
            ("postgres://u@h/d?colour=blue", "colour"),
        ])
    func badURLs(url: String, reason: String) {
        #expect {
            try PostgresConfiguration(url: url)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }
}

@Suite("SQL building")
struct SQLTests {
    @Test("Interpolated values become numbered parameters, never text")
    func parameters() {
        let name = "Robert'); DROP TABLE students;--"
        let sql: SQL = "SELECT * FROM students WHERE name = \(name) AND age > \(7)"
        #expect(sql.text == "SELECT * FROM students WHERE name = $1 AND age > $2")
        #expect(sql.parameterTypes == [.text, .int8])
    }

    @Test("nil binds NULL; enums bind their raw value; other Encodable values bind as jsonb")
    func kinds() {
        enum Colour: String, Codable { case red }
        struct Tag: Codable { var label: String }
        let missing: Int? = nil
        let sql: SQL = "VALUES (\(missing), \(Colour.red), \(Tag(label: "x")), \([1, 2]))"
        #expect(sql.text == "VALUES ($1, $2, $3, $4)")
        #expect(sql.parameterTypes == [.null, .text, .jsonb, .int8Array])
        #expect(sql.parameters[0].bytes == nil)
    }

    @Test("Fragments compose with their placeholders renumbered; identifiers are quoted")
    func fragments() {
        let filter: SQL = "price > \(10) AND name <> \("x")"
        let column = "weird\"name"
        let sql: SQL = "SELECT \(identifier: column) FROM items WHERE owner = \(3) AND \(filter) ORDER BY \(unsafeRaw: "id")"
        #expect(sql.text == "SELECT \"weird\"\"name\" FROM items WHERE owner = $1 AND price > $2 AND name <> $3 ORDER BY id")
        #expect(sql.parameterTypes == [.int8, .int8, .text])
        #expect(("SELECT \(1)" as SQL + " , \(2)").text == "SELECT $1 , $2")
    }

    @Test("Only placeholders are renumbered: $1 inside literals, dollar quotes and identifiers stays")
    func placeholdersOnly() {
        let fragment: SQL = "'$1 off' || \(identifier: "a$1") || $$ $1 $$ || \(5)"
        let sql: SQL = "SELECT \(1), \(fragment)"
        #expect(sql.text == "SELECT $1, '$1 off' || \"a$1\" || $$ $1 $$ || $2")
    }
}

@Suite("Prepared-statement cache")
struct StatementCacheTests {
    private func key(_ sql: String) -> StatementCache.Key { .init(sql: sql, types: [.int8]) }

    @Test("A statement is named once and found again; new names are never reused")
    func hits() {
        var cache = StatementCache(capacity: 2)
        let first = cache.lookup(key("a"))
        #expect(first.evicted == nil && !first.confirmed)
        cache.confirm(key("a"), columns: nil)
        let again = cache.lookup(key("a"))
        #expect(again.name == first.name && again.confirmed)
        #expect(cache.lookup(StatementCache.Key(sql: "a", types: [.int4])).name != first.name)
    }

    @Test("A full cache evicts the least recently used statement")
    func leastRecentlyUsed() {
        var cache = StatementCache(capacity: 2)
        let a = cache.lookup(key("a")).name
        let b = cache.lookup(key("b")).name
        _ = cache.lookup(key("a"))
        let c = cache.lookup(key("c"))
        #expect(c.evicted == b)
        #expect(cache.count == 2 && cache.evictions == 1)
        #expect(cache.lookup(key("a")).name == a)
        #expect(cache.lookup(key("b")).evicted == c.name)
    }

    @Test("A statement whose first run failed is forgotten and prepared under a new name")
    func forgetting() {
        var cache = StatementCache(capacity: 4)
        let first = cache.lookup(key("bad")).name
        cache.forget(key("bad"), named: "someone else's")
        #expect(cache.lookup(key("bad")).name == first)
        cache.forget(key("bad"), named: first)
        #expect(cache.lookup(key("bad")).name != first)
    }
}

@Suite("Row naming and COPY text")
struct RowFormatTests {
    @Test(
        "snake_case columns also answer to camelCase keys",
        arguments: [
            ("unit_price", "unitPrice"), ("id", "id"), ("created_at_utc", "createdAtUtc"), ("_private", "_private"),
            ("trailing_", "trailing_"), ("a__b", "a_B"),
        ])
    func camelCase(column: String, key: String) {
        #expect(ColumnMap.camelCase(column) == key)
    }

    @Test("A column map finds exact names first, then converted ones")
    func columnMap() {
        let map = ColumnMap(names: ["id", "unit_price", "unitPrice"], naming: .snakeCaseToCamelCase)
        #expect(map.index(of: "unitPrice") == 2)
        #expect(map.index(of: "unit_price") == 1)
        let exact = ColumnMap(names: ["unit_price"], naming: .exact)
        #expect(exact.index(of: "unitPrice") == nil)
    }

    @Test("COPY text escapes backslash, tab, newline and carriage return, and writes NULL as \\N")
    func escaping() throws {
        struct Row: Encodable {
            var id: Int
            var note: String?
            var flag: Bool
            var score: Double
            var unitPrice: Double?
        }
        let encoder = CopyRowEncoder(naming: .snakeCaseToCamelCase)
        try encoder.encodeRow(Row(id: 1, note: "a\tb\nc\\d\re", flag: true, score: .infinity, unitPrice: nil))
        try encoder.encodeRow(Row(id: 2, note: nil, flag: false, score: 0.5, unitPrice: 2))
        #expect(encoder.columns == ["id", "note", "flag", "score", "unit_price"])
        #expect(
            String(buffer: encoder.buffer)
                == "1\ta\\tb\\nc\\\\d\\re\tt\tInfinity\t\\N\n2\t\\N\tf\t0.5\t2.0\n")
    }

    @Test("Arrays become PostgreSQL array literals; dates keep their microseconds")
    func arraysAndDates() throws {
        #expect(try CopyRowEncoder.arrayLiteral([1, 2]) == "{1,2}")
        #expect(try CopyRowEncoder.arrayLiteral(["a b", "c\"d", "e\\f"]) == #"{"a b","c\"d","e\\f"}"#)
        #expect(try CopyRowEncoder.arrayLiteral([Int?.none, 3]) == "{NULL,3}")
        #expect(try CopyRowEncoder.arrayLiteral([[1, 2], [3, 4]]) == "{{1,2},{3,4}}")
        #expect(CopyRowEncoder.timestamp(Date(timeIntervalSince1970: 1_700_000_000.000123)) == "2023-11-14T22:13:20.000123Z")
    }

    @Test("A row that is not a flat struct is refused with the reason")
    func notARow() {
        let encoder = CopyRowEncoder(naming: .exact)
        #expect(throws: DatabaseError.self) { try encoder.encodeRow([1, 2, 3]) }
    }
}

@Suite("Database errors as HTTP answers")
struct DatabaseErrorMappingTests {
    @Test(
        "Unique and foreign-key violations are 409, not-null and check violations 422, no row 404, an unreachable server 503",
        arguments: [
            (DatabaseError(.server, "dup", sqlState: "23505"), 409),
            (DatabaseError(.server, "fk", sqlState: "23503"), 409),
            (DatabaseError(.server, "null", sqlState: "23502"), 422),
            (DatabaseError(.server, "check", sqlState: "23514"), 422),
            (DatabaseError(.server, "syntax", sqlState: "42601"), 500),
            (DatabaseError(.noRows, "none"), 404),
            (DatabaseError(.unavailable, "down"), 503),
            (DatabaseError(.poolTimeout, "busy"), 503),
        ])
    func statuses(error: DatabaseError, status: Int) {
        #expect(DatabaseErrorMapping.default.response(for: error).status.code == status)
    }

    @Test("The mapping is configurable, and server errors do not leak the server's text")
    func custom() {
        let mapping = DatabaseErrorMapping { $0.sqlState == "23505" ? .badRequest : nil }
        #expect(mapping.response(for: DatabaseError(.server, "dup", sqlState: "23505")).status == .badRequest)
        let hidden = DatabaseErrorMapping.default.response(for: DatabaseError(.server, "relation secret_table", sqlState: "42P01"))
        #expect(hidden.status == .internalServerError)
        #expect(!String(buffer: hidden.body.buffer ?? ByteBuffer()).contains("secret_table"))
    }
}
