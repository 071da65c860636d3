import Foundation
import NIOCore
import Synchronization
import Testing

@testable import FasterAPI

/// Start-up and shutdown hooks and typed application state.
@Suite("Lifespan")
struct LifespanTests {
    /// A thread-safe list of what happened, in order.
    private final class Journal: Sendable {
        private let entries = Mutex<[String]>([])
        func record(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }
    }

    private actor Counter {
        private(set) var value = 0
        func increment() -> Int {
            value += 1
            return value
        }
    }

    private struct Settings: Sendable {
        let greeting: String
    }

    @Test(arguments: TestMode.allCases)
    func startupRunsBeforeRequestsAndStateReachesHandlers(_ mode: TestMode) async throws {
        let journal = Journal()
        let app = App()
        app.onStartup { app in
            journal.record("startup 1")
            app.state[Settings.self] = Settings(greeting: "hello")
        }
        app.onStartup { app in
            journal.record("startup 2")
            app.state[Counter.self] = Counter()
        }
        app.get("/greet") { request in
            journal.record("request")
            let settings = try request.app.state.require(Settings.self)
            let count = await request.app.state[Counter.self]?.increment() ?? -1
            return "\(settings.greeting) \(count)"
        }
        try await app.test(mode) { client throws in
            #expect(journal.all == ["startup 1", "startup 2"])
            #expect(try await client.get("/greet").text == "hello 1")
            #expect(try await client.get("/greet").text == "hello 2")
        }
        #expect(Array(journal.all.prefix(4)) == ["startup 1", "startup 2", "request", "request"])
        #expect(app.state[Settings.self]?.greeting == "hello")
    }

    @Test(arguments: TestMode.allCases)
    func shutdownHooksHaveRunWhenTestReturns(_ mode: TestMode) async throws {
        let journal = Journal()
        let app = App()
        app.onShutdown { _ in
            // A hook that suspends, as closing a database pool would.
            try await Task.sleep(for: .milliseconds(200))
            journal.record("shutdown 1")
        }
        app.onShutdown { _ in journal.record("shutdown 2") }
        app.get("/") { _ in "ok" }
        try await app.test(mode) { client throws in
            #expect(try await client.get("/").text == "ok")
            #expect(journal.all.isEmpty)
        }
        // Like leaving Starlette's `with TestClient(app):` block: shutdown is complete, in order.
        #expect(journal.all == ["shutdown 1", "shutdown 2"])
    }

    @Test func shutdownHookFailureDoesNotStopTheOthers() async throws {
        struct HookFailed: Error {}
        let journal = Journal()
        let app = App()
        app.onShutdown { _ in throw HookFailed() }
        app.onShutdown { _ in journal.record("second") }
        await app.runShutdownHooks()
        #expect(journal.all == ["second"])
    }

    @Test(arguments: TestMode.allCases)
    func failingStartupFailsTheTestRun(_ mode: TestMode) async throws {
        struct StartupFailed: Error {}
        let journal = Journal()
        let app = App()
        app.onStartup { _ in throw StartupFailed() }
        app.get("/") { _ in "ok" }
        await #expect(throws: StartupFailed.self) {
            try await app.test(mode) { client throws in
                journal.record("body ran")
                _ = try await client.get("/")
            }
        }
        #expect(journal.all.isEmpty)
    }

    @Test(arguments: TestMode.allCases)
    func missingStateIs500(_ mode: TestMode) async throws {
        let app = App()
        app.get("/") { request in try request.app.state.require(Settings.self).greeting }
        try await app.test(mode) { client throws in
            let response = try await client.get("/")
            #expect(response.status == .internalServerError)
            // The detail is generic: type names stay in the log, not in the answer.
            #expect(try response.json(FrameworkTestSupport.DetailBody.self).detail == "Internal Server Error")
        }
    }

    @Test func stateIsKeyedByType() {
        let app = App()
        app.state[String.self] = "text"
        app.state[Int.self] = 5
        #expect(app.state[String.self] == "text")
        #expect(app.state[Int.self] == 5)
        #expect(app.state[Double.self] == nil)
        app.state[Int.self] = nil
        #expect(app.state[Int.self] == nil)
        #expect(throws: AppState.StateMissing.self) { try app.state.require(Int.self) }
    }

    @Test(arguments: TestMode.allCases)
    func configurationIsVisibleToHandlers(_ mode: TestMode) async throws {
        let app = App()
        app.configuration.maxBodyBytes = 1234
        app.get("/") { request in "\(request.app.configuration.maxBodyBytes)" }
        try await app.test(mode) { client throws in
            #expect(try await client.get("/").text == "1234")
        }
    }
}
