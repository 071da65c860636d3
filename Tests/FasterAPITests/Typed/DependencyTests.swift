import Foundation
import Synchronization
import Testing

@testable import FasterAPI

// Dependencies of typed routes: resolvers built from inputs and other dependencies, the
// once-per-request cache, teardown and background work after the response, app singletons,
// group dependencies, overrides, and how their validation problems are reported.

/// What happened during requests, in order (kept in the app's state, so each test has its own).
final class DepLog: Sendable {
    private let lines = Mutex<[String]>([])

    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

/// Counts resolutions (kept in the app's state).
final class DepCounter: Sendable {
    private let value = Mutex(0)

    func next() -> Int {
        value.withLock {
            $0 += 1; return $0
        }
    }
    var count: Int { value.withLock { $0 } }
}

/// An application singleton, read with `@Depends` from `app.state`.
final class DepStore: Sendable {
    let name: String
    init(name: String) { self.name = name }
}

struct DepTenant: Dependency {
    var name: String

    @Resolver static func resolve(@Header xTenant: String) -> DepTenant { DepTenant(name: xTenant) }
}

/// Built from another dependency and a query parameter.
struct DepRegion: Dependency {
    var tenant: String
    var region: String

    @Resolver static func resolve(@Depends tenant: DepTenant, @Query(minLength: 2) region: String = "eu") -> DepRegion {
        DepRegion(tenant: tenant.name, region: region)
    }
}

struct DepCounted: Dependency {
    var serial: Int

    @Resolver static func resolve(request: Request) -> DepCounted {
        DepCounted(serial: request.app.state[DepCounter.self]!.next())
    }
}

struct DepUsesCounted: Dependency {
    var serial: Int

    @Resolver static func resolve(@Depends counted: DepCounted) -> DepUsesCounted {
        DepUsesCounted(serial: counted.serial)
    }
}

/// Opens on resolution, closes in teardown.
struct DepSession: Dependency {
    @Resolver static func resolve(scope: RequestScope, request: Request) -> DepSession {
        let log = request.app.state[DepLog.self]!
        log.add("open session")
        scope.onTeardown { log.add("close session") }
        return DepSession()
    }
}

struct DepTransaction: Dependency {
    @Resolver static func resolve(@Depends session: DepSession, scope: RequestScope, request: Request)
        -> DepTransaction
    {
        let log = request.app.state[DepLog.self]!
        log.add("begin")
        scope.onTeardown { log.add("commit") }
        return DepTransaction()
    }
}

struct DepPage: Dependency {
    var skip: Int
    var limit: Int

    @Resolver static func resolve(@Query(ge: 0) skip: Int = 0, @Query(ge: 1, le: 50) limit: Int = 10) -> DepPage {
        DepPage(skip: skip, limit: limit)
    }
}

/// A group's guard: a header that must hold the right key.
struct DepRequireKey: Dependency {
    @Resolver static func resolve(@Header xKey: String, request: Request) throws -> DepRequireKey {
        guard xKey == "open-sesame" else { throw HTTPError(.unauthorized, detail: "Bad key") }
        request.app.state[DepLog.self]?.add("key checked")
        return DepRequireKey()
    }
}

@Routes struct DepAPI {
    @GET("/region")
    func region(@Depends region: DepRegion) -> [String: String] {
        ["tenant": region.tenant, "region": region.region]
    }

    @GET("/counted")
    func counted(@Depends first: DepCounted, @Depends second: DepCounted, @Depends derived: DepUsesCounted)
        -> [Int]
    {
        [first.serial, second.serial, derived.serial]
    }

    @GET("/session")
    func session(@Depends session: DepSession, request: Request) -> [String] {
        let log = request.app.state[DepLog.self]!
        log.add("handler")
        return log.all
    }

    @GET("/session/conflict")
    func conflict(@Depends session: DepSession, request: Request) throws -> String {
        request.app.state[DepLog.self]!.add("handler")
        throw HTTPError(.conflict, detail: "Already exists")
    }

    @GET("/session/invalid")
    func invalid(@Depends session: DepSession, @Query(ge: 1) n: Int, request: Request) -> String {
        request.app.state[DepLog.self]!.add("handler")
        return "\(n)"
    }

    @POST("/transaction")
    func transaction(@Depends transaction: DepTransaction, tasks: BackgroundTasks, request: Request) -> [String] {
        let log = request.app.state[DepLog.self]!
        log.add("handler")
        tasks.add { log.add("task 1") }
        tasks.add { log.add("task 2") }
        return log.all
    }

    @POST("/notify", status: .accepted)
    func notify(tasks: BackgroundTasks, request: Request, @Query to: String) -> [String] {
        let log = request.app.state[DepLog.self]!
        log.add("handler")
        for index in 1...3 { tasks.add { log.add("mail \(index) to \(to)") } }
        return log.all
    }

    @GET("/store")
    func store(@Depends store: DepStore) -> String { store.name }

    /// The dependency is declared last; its problems are reported first.
    @GET("/list")
    func list(@Query(ge: 1) n: Int, @Header xTrace: String, @Depends page: DepPage) -> [Int] {
        [n, page.skip, page.limit]
    }
}

@Routes struct DepAdminAPI {
    @GET("/stats")
    func stats(request: Request, @Query(ge: 1) days: Int = 7) -> String {
        request.app.state[DepLog.self]!.add("stats handler")
        return "stats for \(days) days"
    }
}

/// A route that reads the log: on a keep-alive connection its answer comes after the previous
/// request's after-response work, so the log is complete in both test modes.
private func makeApp() -> App {
    let app = App()
    app.state[DepLog.self] = DepLog()
    app.state[DepCounter.self] = DepCounter()
    app.state[DepStore.self] = DepStore(name: "primary")
    app.get("/log") { request in request.app.state[DepLog.self]!.all }
    return app
}

private func log(_ client: TestClient) async throws -> [String] {
    try await client.get("/log").json([String].self)
}

private func json(_ response: TestResponse) throws -> JSONValue { try JSONValue.parse(response.body) }
private func detail(_ issues: JSONValue...) -> JSONValue { ["detail": .array(issues)] }

@Suite("Dependencies")
struct DependencyTests {
    @Test(arguments: TestMode.allCases)
    func dependencyBuiltFromADependencyAndAQueryParameter(_ mode: TestMode) async throws {
        let app = makeApp()
        app.include(DepAPI())
        try await app.test(mode) { client throws in
            let response = try await client.get("/region?region=us", headers: ["X-Tenant": "acme"])
            #expect(try response.json([String: String].self) == ["tenant": "acme", "region": "us"])

            let defaulted = try await client.get("/region", headers: ["X-Tenant": "acme"])
            #expect(try defaulted.json([String: String].self) == ["tenant": "acme", "region": "eu"])

            let bad = try await client.get("/region?region=x")
            #expect(bad.status == .unprocessableContent)
            #expect(
                try json(bad)
                    == detail(
                        ["type": "missing", "loc": ["header", "x-tenant"], "msg": "Field required", "input": nil],
                        [
                            "type": "string_too_short", "loc": ["query", "region"],
                            "msg": "String should have at least 2 characters", "input": "x", "ctx": ["min_length": 2],
                        ]))
        }
    }

    @Test(arguments: TestMode.allCases)
    func resolvedOncePerRequest(_ mode: TestMode) async throws {
        let app = makeApp()
        app.include(DepAPI())
        let counter = app.state[DepCounter.self]!
        try await app.test(mode) { client throws in
            #expect(try await client.get("/counted").json([Int].self) == [1, 1, 1])
            #expect(counter.count == 1)
            #expect(try await client.get("/counted").json([Int].self) == [2, 2, 2])
            #expect(counter.count == 2)
        }
    }

    @Test(arguments: TestMode.allCases)
    func teardownRunsAfterTheResponse(_ mode: TestMode) async throws {
        let app = makeApp()
        app.include(DepAPI())
        try await app.test(mode) { client throws in
            // The handler sees the session open and not yet closed.
            let response = try await client.get("/session")
            #expect(try response.json([String].self) == ["open session", "handler"])
            #expect(try await log(client) == ["open session", "handler", "close session"])
        }
    }

    @Test(arguments: TestMode.allCases)
    func teardownRunsWhenTheHandlerThrows(_ mode: TestMode) async throws {
        let app = makeApp()
        app.include(DepAPI())
        try await app.test(mode) { client throws in
            let response = try await client.get("/session/conflict")
            #expect(response.status == .conflict)
            #expect(response.text == #"{"detail":"Already exists"}"#)
            #expect(try await log(client) == ["open session", "handler", "close session"])
        }
    }

    @Test(arguments: TestMode.allCases)
    func teardownRunsWhenValidationFails(_ mode: TestMode) async throws {
        let app = makeApp()
        app.include(DepAPI())
        try await app.test(mode) { client throws in
            let response = try await client.get("/session/invalid?n=0")
            #expect(response.status == .unprocessableContent)
            #expect(
                try json(response)
                    == detail([
                        "type": "greater_than_equal", "loc": ["query", "n"],
                        "msg": "Input should be greater than or equal to 1", "input": "0", "ctx": ["ge": 1],
                    ]))
            // The handler never ran; what the dependency opened was still closed.
            #expect(try await log(client) == ["open session", "close session"])
        }
    }

    @Test(arguments: TestMode.allCases)
    func backgroundTasksRunInOrderAfterTheResponse(_ mode: TestMode) async throws {
        let app = makeApp()
        app.include(DepAPI())
        try await app.test(mode) { client throws in
            let response = try await client.execute(.post, "/notify?to=ann")
            #expect(response.status == .accepted)
            #expect(try response.json([String].self) == ["handler"])
            #expect(
                try await log(client) == ["handler", "mail 1 to ann", "mail 2 to ann", "mail 3 to ann"])
        }
    }

    @Test(arguments: TestMode.allCases)
    func backgroundTasksRunBeforeTeardownsWhichRunInReverse(_ mode: TestMode) async throws {
        let app = makeApp()
        app.include(DepAPI())
        try await app.test(mode) { client throws in
            let response = try await client.execute(.post, "/transaction")
            #expect(try response.json([String].self) == ["open session", "begin", "handler"])
            #expect(
                try await log(client) == [
                    "open session", "begin", "handler", "task 1", "task 2", "commit", "close session",
                ])
        }
    }

    @Test(arguments: TestMode.allCases)
    func appSingletonFromState(_ mode: TestMode) async throws {
        let app = makeApp()
        app.include(DepAPI())
        try await app.test(mode) { client throws in
            let response = try await client.get("/store")
            #expect(response.status == .ok)
            #expect(response.text == "primary")
        }
    }

    @Test func missingSingletonStopsTheAppAtStartup() async {
        await #expect(processExitsWith: .failure) {
            let app = App()
            app.include(DepAPI())
            _ = app.makeResponder()
        }
    }

    @Test func overriddenSingletonNeedsNoState() async {
        await #expect(processExitsWith: .success) {
            let app = App()
            app.dependencyOverrides[DepStore.self] = { _ in DepStore(name: "fake") }
            app.include(DepAPI())
            _ = app.makeResponder()
        }
    }

    @Test(arguments: TestMode.allCases)
    func groupDependencyRunsForEveryRouteAndStopsTheHandler(_ mode: TestMode) async throws {
        let app = makeApp()
        let admin = app.group("/admin", dependencies: [RouteDependency(DepRequireKey.self)])
        admin.include(DepAdminAPI())
        admin.get("/plain") { request in
            request.app.state[DepLog.self]!.add("plain handler")
            return "plain"
        }
        try await app.test(mode) { client throws in
            let missing = try await client.get("/admin/stats")
            #expect(missing.status == .unprocessableContent)
            #expect(
                try json(missing)
                    == detail(["type": "missing", "loc": ["header", "x-key"], "msg": "Field required", "input": nil]))

            let wrong = try await client.get("/admin/stats", headers: ["X-Key": "guess"])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text == #"{"detail":"Bad key"}"#)

            let plainMissing = try await client.get("/admin/plain")
            #expect(plainMissing.status == .unprocessableContent)
            #expect(
                try json(plainMissing)
                    == detail(["type": "missing", "loc": ["header", "x-key"], "msg": "Field required", "input": nil]))
            let plainWrong = try await client.get("/admin/plain", headers: ["X-Key": "guess"])
            #expect(plainWrong.status == .unauthorized)
            #expect(try await log(client) == [])

            let stats = try await client.get("/admin/stats?days=3", headers: ["X-Key": "open-sesame"])
            #expect(stats.text == "stats for 3 days")
            let plain = try await client.get("/admin/plain", headers: ["X-Key": "open-sesame"])
            #expect(plain.text == "plain")
            #expect(try await log(client) == ["key checked", "stats handler", "key checked", "plain handler"])
        }
    }

    @Test(arguments: TestMode.allCases)
    func groupDependencyProblemsComeBeforeTheRoutesOwn(_ mode: TestMode) async throws {
        let app = makeApp()
        app.group("/admin", dependencies: [RouteDependency(DepRequireKey.self)]).include(DepAdminAPI())
        try await app.test(mode) { client throws in
            let response = try await client.get("/admin/stats?days=0")
            #expect(
                try json(response)
                    == detail(
                        ["type": "missing", "loc": ["header", "x-key"], "msg": "Field required", "input": nil],
                        [
                            "type": "greater_than_equal", "loc": ["query", "days"],
                            "msg": "Input should be greater than or equal to 1", "input": "0", "ctx": ["ge": 1],
                        ]))
        }
    }

    @Test(arguments: TestMode.allCases)
    func includeDependenciesRunForEveryRoute(_ mode: TestMode) async throws {
        let app = makeApp()
        app.include(DepAdminAPI(), prefix: "/v2", dependencies: [RouteDependency(DepRequireKey.self)])
        try await app.test(mode) { client throws in
            #expect(try await client.get("/v2/stats").status == .unprocessableContent)
            #expect(try await client.get("/v2/stats", headers: ["X-Key": "no"]).status == .unauthorized)
            #expect(try await client.get("/v2/stats", headers: ["X-Key": "open-sesame"]).text == "stats for 7 days")
            #expect(try await log(client) == ["key checked", "stats handler"])
        }
    }

    @Test(arguments: TestMode.allCases)
    func groupDependencyTeardownRunsForClosureRoutes(_ mode: TestMode) async throws {
        let app = makeApp()
        app.group("/db", dependencies: [RouteDependency(DepSession.self)]).get("/ping") { request in
            request.app.state[DepLog.self]!.add("handler")
            return "pong"
        }
        try await app.test(mode) { client throws in
            #expect(try await client.get("/db/ping").text == "pong")
            #expect(try await log(client) == ["open session", "handler", "close session"])
        }
    }

    @Test(arguments: TestMode.allCases)
    func overridesReplaceDependenciesAndSingletons(_ mode: TestMode) async throws {
        let app = makeApp()
        app.dependencyOverrides[DepTenant.self] = { request in DepTenant(name: "test-\(request.query["as"] ?? "x")") }
        app.dependencyOverrides[DepStore.self] = { _ in DepStore(name: "fake") }
        app.include(DepAPI())
        try await app.test(mode) { client throws in
            // The overridden tenant's header is no longer required.
            let region = try await client.get("/region?as=qa")
            #expect(region.status == .ok)
            #expect(try region.json([String: String].self) == ["tenant": "test-qa", "region": "eu"])
            #expect(try await client.get("/store").text == "fake")
        }
    }

    @Test func removingAnOverrideRestoresTheDependency() async throws {
        let app = makeApp()
        app.dependencyOverrides[DepTenant.self] = { _ in DepTenant(name: "fake") }
        #expect(!app.dependencyOverrides.isEmpty)
        app.dependencyOverrides[DepTenant.self] = nil
        #expect(app.dependencyOverrides.isEmpty)
        app.include(DepAPI())
        try await app.test { client throws in
            let response = try await client.get("/region", headers: ["X-Tenant": "real"])
            #expect(try response.json([String: String].self) == ["tenant": "real", "region": "eu"])
        }
    }

    @Test(arguments: TestMode.allCases)
    func dependencyProblemsAreReportedFirstWithTheRoutesOwn(_ mode: TestMode) async throws {
        let app = makeApp()
        app.include(DepAPI())
        try await app.test(mode) { client throws in
            let response = try await client.get("/list?n=0&skip=-1&limit=99")
            #expect(response.status == .unprocessableContent)
            #expect(
                try json(response)
                    == detail(
                        [
                            "type": "greater_than_equal", "loc": ["query", "skip"],
                            "msg": "Input should be greater than or equal to 0", "input": "-1", "ctx": ["ge": 0],
                        ],
                        [
                            "type": "less_than_equal", "loc": ["query", "limit"],
                            "msg": "Input should be less than or equal to 50", "input": "99", "ctx": ["le": 50],
                        ],
                        [
                            "type": "greater_than_equal", "loc": ["query", "n"],
                            "msg": "Input should be greater than or equal to 1", "input": "0", "ctx": ["ge": 1],
                        ],
                        ["type": "missing", "loc": ["header", "x-trace"], "msg": "Field required", "input": nil]))

            let fine = try await client.get("/list?n=2&skip=4", headers: ["X-Trace": "t"])
            #expect(try fine.json([Int].self) == [2, 4, 10])
        }
    }
}
