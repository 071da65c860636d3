import FasterAPIPostgres
import Foundation
import PeerSupport
import Synchronization
import Testing

/// What goes wrong with a real PostgreSQL in production (killed backends, restarts, exhausted
/// pools, runaway statements, dropped listeners), done to a real server.
@Suite("PostgreSQL faults", .serialized, .timeLimit(.minutes(3)))
struct PostgresFaultTests {
    /// An operator (or a failover) runs `pg_terminate_backend` on a busy connection.
    @Test("A backend killed mid-query fails the query as connectionLost, and the pool recovers")
    func terminatedBackend() async throws {
        var configuration = try FaultSupport.configuration(url: FaultSupport.mainURL())
        configuration.maximumConnections = 2
        let applicationName = FaultSupport.uniqueName("fa-kill")
        configuration.applicationName = applicationName
        try await FaultSupport.withDatabase(configuration) { database in
            let outcome = try await withThrowingTaskGroup(
                of: FaultSupport.Outcome.self, returning: FaultSupport.Outcome.self
            ) { group in
                group.addTask {
                    await FaultSupport.timed {
                        try await database.withConnection { db in try await db.execute("SELECT pg_sleep(10)") }
                    }
                }
                // The other connection finds the sleeping backend (once it has started) and kills it.
                let killed = try await FaultSupport.eventually(within: .seconds(5)) {
                    let results = try await database.withConnection { db in
                        try await db.query(
                            """
                            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                            WHERE application_name = \(applicationName) AND query LIKE 'SELECT pg_sleep(10)%'
                              AND state = 'active' AND pid <> pg_backend_pid()
                            """
                        ).all(Bool.self)
                    }
                    return results.contains(true)
                }
                try #require(killed, "the sleeping query never showed up in pg_stat_activity")
                let outcome = try await group.next()
                return try #require(outcome)
            }
            let error = try #require(
                outcome.error as? DatabaseError,
                "the killed query should fail with a DatabaseError, not \(String(describing: outcome.error))")
            #expect(error.kind == .connectionLost, "\(error)")
            #expect(outcome.elapsed < .seconds(8), "the killed query took \(outcome.elapsed) to fail")

            // The dead connection is gone from the pool: every later request succeeds.
            for _ in 0..<5 {
                let one = try await database.withConnection { db in try await db.query("SELECT 1").scalar(Int.self) }
                #expect(one == 1)
            }
            let total = try await withThrowingTaskGroup(of: Int.self, returning: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await database.withConnection { db in try await db.query("SELECT 1").scalar(Int.self) }
                    }
                }
                var total = 0
                for try await one in group { total += one }
                return total
            }
            #expect(total == 4)
        }
    }

    /// The database server restarts (upgrade, crash, failover) while the app serves requests.
    @Test("While the server is down requests fail fast; after it is back they succeed again")
    func serverRestart() async throws {
        _ = try FaultSupport.mainURL()  // outside scripts/test.sh, fail with its explanation
        let instance = "faults"
        let port = "54341"
        await FaultSupport.removeInstance(instance)  // left over from an interrupted run
        do {
            let started = try await FaultSupport.pgScript(["start", instance, port])
            try #require(started.status == 0, "pg.sh start \(instance) failed: \(started.stderr)")
            let url = try #require(
                started.stdout.split(whereSeparator: \.isNewline).last.map { String($0) },
                "pg.sh start printed no URL: \(started.stderr)")
            var configuration = try FaultSupport.configuration(url: url)
            configuration.maximumConnections = 4
            configuration.acquireTimeout = .seconds(30)
            configuration.unavailableTimeout = .milliseconds(250)
            configuration.connectTimeout = .seconds(10)
            try await FaultSupport.withDatabase(configuration) { database in
                // Serving normally.
                let total = try await withThrowingTaskGroup(of: Int.self, returning: Int.self) { group in
                    for _ in 0..<20 {
                        group.addTask {
                            try await database.withConnection { db in try await db.query("SELECT 1").scalar(Int.self) }
                        }
                    }
                    var total = 0
                    for try await one in group { total += one }
                    return total
                }
                #expect(total == 20)

                // Down: every request fails, quickly, with a DatabaseError.
                let stopped = try await FaultSupport.pgScript(["stop", instance])
                try #require(stopped.status == 0, "pg.sh stop \(instance) failed: \(stopped.stderr)")
                for attempt in 1...5 {
                    let outcome = await FaultSupport.timed {
                        try await database.withConnection { db in try await db.query("SELECT 1").scalar(Int.self) }
                    }
                    if let error = outcome.error as? DatabaseError {
                        #expect(
                            [DatabaseError.Kind.unavailable, .connectionLost].contains(error.kind),
                            "attempt \(attempt): \(error)")
                    } else if let error = outcome.error {
                        Issue.record("attempt \(attempt) failed with \(type(of: error)), not a DatabaseError: \(error)")
                    } else {
                        Issue.record("attempt \(attempt) succeeded while the server was stopped")
                    }
                    #expect(outcome.elapsed < .seconds(3), "attempt \(attempt) took \(outcome.elapsed) to fail")
                }

                // Back: requests succeed again without restarting the pool.
                let restarted = try await FaultSupport.pgScript(["start", instance, port])
                try #require(restarted.status == 0, "pg.sh start \(instance) (again) failed: \(restarted.stderr)")
                var lastError: (any Error)?
                let recovered = try await FaultSupport.eventually(within: .seconds(20), every: .milliseconds(200)) {
                    do {
                        let one = try await database.withConnection { db in
                            try await db.query("SELECT 1").scalar(Int.self)
                        }
                        return one == 1
                    } catch {
                        lastError = error
                        return false
                    }
                }
                #expect(
                    recovered,
                    "no request succeeded within 20 s of the restart; last error: \(String(describing: lastError))")
                guard recovered else { return }
                for _ in 0..<5 {
                    let one = try await database.withConnection { db in
                        try await db.query("SELECT 1").scalar(Int.self)
                    }
                    #expect(one == 1)
                }
                #expect(await database.isReady())
            }
        } catch {
            await FaultSupport.removeInstance(instance)
            throw error
        }
        await FaultSupport.removeInstance(instance)
    }

    /// A handler fails (a Swift error, or a constraint the server enforces) halfway through its writes.
    @Test("A transaction interrupted by an error leaves no partial writes")
    func interruptedTransaction() async throws {
        struct Interrupted: Error {}
        let configuration = try FaultSupport.configuration(url: FaultSupport.mainURL())
        try await FaultSupport.withDatabase(configuration) { database in
            try await FaultSupport.withTable(database) { table in
                let one = 1, two = 2
                let first = "first", second = "second", again = "again"

                // A Swift error thrown by the body after two inserts.
                let thrown = await FaultSupport.timed {
                    try await database.transaction { db in
                        try await db.execute("INSERT INTO \(unsafeRaw: table) (id, name) VALUES (\(one), \(first))")
                        try await db.execute("INSERT INTO \(unsafeRaw: table) (id, name) VALUES (\(two), \(second))")
                        throw Interrupted()
                    }
                }
                #expect(
                    thrown.error is Interrupted,
                    "the body's error should propagate, got \(String(describing: thrown.error))")
                #expect(try await FaultSupport.count(database, table) == 0)

                // The server refuses the third insert (duplicate primary key).
                let refused = await FaultSupport.timed {
                    try await database.transaction { db in
                        try await db.execute("INSERT INTO \(unsafeRaw: table) (id, name) VALUES (\(one), \(first))")
                        try await db.execute("INSERT INTO \(unsafeRaw: table) (id, name) VALUES (\(two), \(second))")
                        try await db.execute("INSERT INTO \(unsafeRaw: table) (id, name) VALUES (\(one), \(again))")
                    }
                }
                let error = try #require(
                    refused.error as? DatabaseError,
                    "a duplicate key should fail with a DatabaseError, not \(String(describing: refused.error))")
                #expect(error.kind == .server, "\(error)")
                #expect(error.sqlState == "23505", "\(error)")
                #expect(error.isUniqueViolation)
                #expect(try await FaultSupport.count(database, table) == 0)

                // The same writes without the fault do commit (so the zeros above mean something).
                try await database.transaction { db in
                    try await db.execute("INSERT INTO \(unsafeRaw: table) (id, name) VALUES (\(one), \(first))")
                    try await db.execute("INSERT INTO \(unsafeRaw: table) (id, name) VALUES (\(two), \(second))")
                }
                #expect(try await FaultSupport.count(database, table) == 2)
            }
        }
    }

    /// Slow requests hold every connection, so a new request cannot get one.
    @Test("An exhausted pool fails the waiting request with poolTimeout after the acquire timeout")
    func poolExhaustion() async throws {
        var configuration = try FaultSupport.configuration(url: FaultSupport.mainURL())
        configuration.maximumConnections = 1
        configuration.acquireTimeout = .milliseconds(300)
        try await FaultSupport.withDatabase(configuration) { database in
            let (held, heldContinuation) = AsyncStream.makeStream(of: Void.self)
            let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { heldContinuation.finish() }
                    try await database.withConnection { db in
                        _ = try await db.query("SELECT 1").scalar(Int.self)
                        heldContinuation.yield()
                        for await _ in release { break }
                    }
                }
                defer { releaseContinuation.finish() }
                var holding = false
                for await _ in held {
                    holding = true
                    break
                }
                try #require(holding, "the first caller never got the only connection")

                let outcome = await FaultSupport.timed {
                    try await database.withConnection { db in try await db.query("SELECT 1").scalar(Int.self) }
                }
                let error = try #require(
                    outcome.error as? DatabaseError,
                    "with the only connection held, a caller should fail, not \(String(describing: outcome.error))")
                #expect(error.kind == .poolTimeout, "\(error)")
                #expect(error.message.contains("within"), "the message should name the timeout: \(error.message)")
                #expect(outcome.elapsed >= .milliseconds(250), "gave up after only \(outcome.elapsed)")
                #expect(outcome.elapsed < .milliseconds(2500), "waited \(outcome.elapsed)")

                releaseContinuation.yield()
                releaseContinuation.finish()
                try await group.waitForAll()
            }
            // The connection is free again, and the abandoned wait took nothing with it.
            for _ in 0..<3 {
                let one = try await database.withConnection { db in try await db.query("SELECT 1").scalar(Int.self) }
                #expect(one == 1)
            }
        }
    }

    /// A runaway query (missing index, huge scan) hits the server's `statement_timeout`.
    @Test("statement_timeout cancels a slow statement with 57014 and the connection stays usable")
    func statementTimeout() async throws {
        var configuration = try FaultSupport.configuration(url: FaultSupport.mainURL())
        configuration.statementTimeout = .milliseconds(200)
        try await FaultSupport.withDatabase(configuration) { database in
            try await database.withConnection { db in
                #expect(
                    try await db.query("SELECT current_setting('statement_timeout')").scalar(String.self) == "200ms")

                // Unprepared (execute) …
                let executed = await FaultSupport.timed { try await db.execute("SELECT pg_sleep(2)") }
                let error = try #require(
                    executed.error as? DatabaseError,
                    "the slow statement should fail with a DatabaseError, not \(String(describing: executed.error))")
                #expect(error.sqlState == "57014", "\(error)")
                #expect(error.kind == .server, "\(error)")
                #expect(executed.elapsed < .milliseconds(1500), "took \(executed.elapsed)")
                #expect(try await db.query("SELECT 1").scalar(Int.self) == 1)

                // … and prepared (query), which is then run again, quickly, as the same statement.
                let slow = 2.0
                let quick = 0.0
                let queried = await FaultSupport.timed {
                    try await db.query("SELECT 1 FROM pg_sleep(\(slow))").scalar(Int.self)
                }
                let queryError = try #require(
                    queried.error as? DatabaseError,
                    "the slow query should fail with a DatabaseError, not \(String(describing: queried.error))")
                #expect(queryError.sqlState == "57014", "\(queryError)")
                #expect(queried.elapsed < .milliseconds(1500), "took \(queried.elapsed)")
                #expect(try await db.query("SELECT 1 FROM pg_sleep(\(quick))").scalar(Int.self) == 1)
                #expect(try await db.query("SELECT 2").scalar(Int.self) == 2)
            }
            // The pool hands the same connection out again without trouble.
            let one = try await database.withConnection { db in try await db.query("SELECT 1").scalar(Int.self) }
            #expect(one == 1)
        }
    }

    /// The listener's connection is killed (server restart, idle-connection reaper, failover).
    @Test("LISTEN/NOTIFY delivers by channel, and resumes after the listener's backend is killed")
    func listenerReconnects() async throws {
        let base = try FaultSupport.configuration(url: FaultSupport.mainURL())
        var listenerConfiguration = base
        let listenerName = FaultSupport.uniqueName("fa-listener")
        listenerConfiguration.applicationName = listenerName
        let channelA = FaultSupport.uniqueName("fa_test")
        let channelB = channelA + "_b"
        let listener = PostgresListener(listenerConfiguration)
        let logA = NotificationLog()
        let logB = NotificationLog()
        let streamA = listener.notifications(on: channelA)
        let streamB = listener.notifications(on: channelB)

        try await FaultSupport.withDatabase(base) { database in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await listener.run() }
                group.addTask { for await note in streamA { logA.append(note) } }
                group.addTask { for await note in streamB { logB.append(note) } }
                defer { group.cancelAll() }

                // LISTEN goes out asynchronously: notify until the first notification arrives.
                var sent = 0
                let first = try await FaultSupport.eventually(within: .seconds(10)) {
                    sent += 1
                    try await FaultSupport.notify(database, channelA, "hello-\(sent)")
                    return logA.contains { $0.payload.hasPrefix("hello-") }
                }
                try #require(first, "no notification on \(channelA) within 10 s")
                let hello = try #require(logA.notifications.first)
                #expect(hello.channel == channelA)
                #expect(hello.payload.hasPrefix("hello-"))

                // Routing: each subscriber gets its own channel's notifications only.
                let toB = try await FaultSupport.eventually(within: .seconds(10)) {
                    sent += 1
                    try await FaultSupport.notify(database, channelB, "to-b-\(sent)")
                    return logB.contains { $0.payload.hasPrefix("to-b-") }
                }
                try #require(toB, "no notification on \(channelB) within 10 s")
                let toA = "to-a-final"
                try await FaultSupport.notify(database, channelA, toA)
                let gotToA = try await FaultSupport.eventually(within: .seconds(5)) {
                    logA.contains { $0.payload == toA }
                }
                #expect(gotToA, "the notification on \(channelA) never arrived")
                #expect(logA.notifications.allSatisfy { $0.channel == channelA }, "\(logA.notifications)")
                #expect(logB.notifications.allSatisfy { $0.channel == channelB }, "\(logB.notifications)")
                #expect(!logA.contains { $0.payload.hasPrefix("to-b-") })
                #expect(!logB.contains { $0.payload.hasPrefix("hello-") || $0.payload == toA })

                // Kill the listener's backend: it reconnects and listens on both channels again.
                let killed = try await FaultSupport.eventually(within: .seconds(5)) {
                    let results = try await database.withConnection { db in
                        try await db.query(
                            """
                            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                            WHERE application_name = \(listenerName) AND pid <> pg_backend_pid()
                            """
                        ).all(Bool.self)
                    }
                    return results.contains(true)
                }
                try #require(killed, "the listener's backend (\(listenerName)) was not found in pg_stat_activity")
                let resumed = try await FaultSupport.eventually(within: .seconds(15), every: .milliseconds(150)) {
                    sent += 1
                    try await FaultSupport.notify(database, channelA, "after-a-\(sent)")
                    try await FaultSupport.notify(database, channelB, "after-b-\(sent)")
                    return logA.contains { $0.payload.hasPrefix("after-a-") }
                        && logB.contains { $0.payload.hasPrefix("after-b-") }
                }
                #expect(
                    resumed,
                    """
                    no notifications after the listener's backend was killed: \(channelA) got \
                    \(logA.notifications.count), \(channelB) got \(logB.notifications.count) in all
                    """)
                #expect(logA.notifications.allSatisfy { $0.channel == channelA })
                #expect(logB.notifications.allSatisfy { $0.channel == channelB })
                if resumed { #expect(listener.isConnected) }
            }
        }
    }
}

/// Notifications a consumer task received, for the test to poll.
private final class NotificationLog: Sendable {
    private let received = Mutex<[PostgresListener.Notification]>([])

    func append(_ notification: PostgresListener.Notification) {
        received.withLock { $0.append(notification) }
    }

    var notifications: [PostgresListener.Notification] { received.withLock { $0 } }

    func contains(where predicate: (PostgresListener.Notification) -> Bool) -> Bool {
        notifications.contains(where: predicate)
    }
}

/// Helpers for the fault tests.
private enum FaultSupport {
    /// How a call ended, and how long it took.
    struct Outcome: Sendable {
        var error: (any Error)?
        var elapsed: Duration
    }

    /// The main test server's URL (`scripts/test.sh` starts it).
    static func mainURL() throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["FASTERAPI_PG_URL"],
            "FASTERAPI_PG_URL is not set: run ./scripts/test.sh, which starts PostgreSQL")
    }

    /// A configuration for `url`, without TLS, with generous waits (a debug build on a loaded
    /// machine takes seconds for SCRAM's key derivation); tests that time waits set their own.
    static func configuration(url: String) throws -> PostgresConfiguration {
        var configuration = try PostgresConfiguration(url: url + (url.contains("?") ? "&" : "?") + "sslmode=disable")
        configuration.connectTimeout = .seconds(30)
        configuration.acquireTimeout = .seconds(30)
        return configuration
    }

    /// Runs `body` with a pool for `configuration` whose service runs meanwhile.
    static func withDatabase<T: Sendable>(
        _ configuration: PostgresConfiguration, _ body: (PostgresDatabase) async throws -> T
    ) async throws -> T {
        let database = try PostgresDatabase(configuration)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.run() }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }

    /// A name no other test (or run) uses: `prefix_` and random lowercase letters and digits.
    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)_\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    }

    /// Runs `body`, returning its error (if any) and how long it took.
    static func timed<T>(_ body: () async throws -> T) async -> Outcome {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            _ = try await body()
            return Outcome(error: nil, elapsed: start.duration(to: clock.now))
        } catch {
            return Outcome(error: error, elapsed: start.duration(to: clock.now))
        }
    }

    /// Runs `attempt` every `interval` until it returns true (true) or `limit` has passed (false).
    static func eventually(
        within limit: Duration, every interval: Duration = .milliseconds(100), _ attempt: () async throws -> Bool
    ) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: limit)
        while true {
            if try await attempt() { return true }
            if clock.now >= deadline { return false }
            try await Task.sleep(for: interval)
        }
    }

    /// Creates a table `(id bigint PRIMARY KEY, name text NOT NULL)` with a unique name, runs
    /// `body` with the name, and drops the table afterwards (also when `body` throws).
    static func withTable(_ database: PostgresDatabase, _ body: (String) async throws -> Void) async throws {
        let table = uniqueName("fa_fault")
        try await database.withConnection { db in
            _ = try await db.execute(
                SQL(unsafeSQL: "CREATE TABLE \(table) (id bigint PRIMARY KEY, name text NOT NULL)"))
        }
        do {
            try await body(table)
        } catch {
            try? await drop(database, table)
            throw error
        }
        try await drop(database, table)
    }

    static func drop(_ database: PostgresDatabase, _ table: String) async throws {
        try await database.withConnection { db in
            _ = try await db.execute(SQL(unsafeSQL: "DROP TABLE IF EXISTS \(table)"))
        }
    }

    /// The number of rows in `table`.
    static func count(_ database: PostgresDatabase, _ table: String) async throws -> Int {
        try await database.withConnection { db in
            try await db.query("SELECT count(*) FROM \(unsafeRaw: table)").scalar(Int.self)
        }
    }

    /// `NOTIFY channel, 'payload'`, sent through the pool.
    static func notify(_ database: PostgresDatabase, _ channel: String, _ payload: String) async throws {
        try await database.withConnection { db in
            _ = try await db.execute("SELECT pg_notify(\(channel), \(payload))")
        }
    }

    /// Runs `scripts/pg.sh` (`FASTERAPI_PG_SCRIPT`, else the repository's) with `arguments`.
    static func pgScript(_ arguments: [String]) async throws -> Peers.Output {
        let script =
            ProcessInfo.processInfo.environment["FASTERAPI_PG_SCRIPT"]
            ?? Peers.repositoryRoot.appendingPathComponent("scripts/pg.sh").path
        return try await Peers.run("/bin/bash", [script] + arguments, timeout: 180)
    }

    /// Stops and deletes a throw-away instance (errors ignored: this is cleanup).
    static func removeInstance(_ name: String) async {
        _ = try? await pgScript(["stop", name])
        _ = try? await pgScript(["destroy", name])
    }
}
