import Foundation
import Logging
import NIOCore
import Synchronization
import Testing

@testable import FasterAPI

private typealias Support = FrameworkTestSupport

/// Ordering of app middleware and the built-in trusted-host, request-ID, access-log and
/// rate-limit middleware.
@Suite("Middleware")
struct MiddlewareTests {
    private struct Tag: Middleware {
        let name: String
        func handle(_ request: Request, next: Next) async throws -> Response {
            var request = request
            request.headers.add(name: "X-Order", value: name)
            var response = try await next(request)
            response.headers.add(name: "X-Unwind", value: name)
            return response
        }
    }

    @Test(arguments: TestMode.allCases)
    func firstAddedIsOutermost(_ mode: TestMode) async throws {
        let app = App()
        app.add(middleware: Tag(name: "A"), Tag(name: "B"))
        app.add(middleware: Tag(name: "C"))
        app.get("/") { request in request.headers.values(for: "x-order").joined(separator: ",") }
        try await app.test(mode) { client throws in
            let response = try await client.get("/")
            #expect(response.text == "A,B,C")
            #expect(response.headers.values(for: "x-unwind") == ["C", "B", "A"])
            // App middleware also runs for requests that match no route.
            let missing = try await client.get("/missing")
            #expect(missing.status == .notFound)
            #expect(missing.headers.values(for: "x-unwind") == ["C", "B", "A"])
        }
    }

    @Test(arguments: TestMode.allCases)
    func middlewareCanAnswerEarly(_ mode: TestMode) async throws {
        let calls = Mutex(0)
        let app = App()
        app.add(
            middleware: ClosureMiddleware { request, next in
                if request.headers["x-block"] != nil {
                    return Response(status: .forbidden, body: ResponseBody(string: "blocked"))
                }
                return try await next(request)
            })
        app.get("/") { _ in
            calls.withLock { $0 += 1 }
            return "handler"
        }
        try await app.test(mode) { client throws in
            let blocked = try await client.get("/", headers: HTTPHeaders([("X-Block", "1")]))
            #expect(blocked.status == .forbidden)
            #expect(blocked.text == "blocked")
            #expect(calls.withLock { $0 } == 0)
            #expect(try await client.get("/").text == "handler")
            #expect(calls.withLock { $0 } == 1)
        }
    }

    // MARK: - TrustedHostMiddleware

    @Test(arguments: TestMode.allCases)
    func trustedHosts(_ mode: TestMode) async throws {
        let app = App()
        app.add(middleware: TrustedHostMiddleware(allowedHosts: ["example.com", "*.Example.org", "[::1]"]))
        app.get("/") { _ in "ok" }
        try await app.test(mode) { client throws in
            let allowed = [
                "example.com", "EXAMPLE.com", "example.com:8080", "api.example.org", "a.b.example.org:443",
                "[::1]:8000",
            ]
            for host in allowed {
                let response = try await client.get("/", headers: HTTPHeaders([("Host", host)]))
                #expect(response.status == .ok, "\(host)")
            }
            let refused = ["evil.com", "example.com.evil.com", "example.org", "evilexample.org", "testserver", "[::2]"]
            for host in refused {
                let response = try await client.get("/", headers: HTTPHeaders([("Host", host)]))
                #expect(response.status == .badRequest, "\(host)")
                #expect(response.text == #"{"detail":"Invalid host header"}"#, "\(host)")
            }
        }
    }

    @Test(arguments: TestMode.allCases)
    func trustedHostWildcardAllowsEverything(_ mode: TestMode) async throws {
        let app = App()
        app.add(middleware: TrustedHostMiddleware(allowedHosts: ["*"]))
        app.get("/") { _ in "ok" }
        try await app.test(mode) { client throws in
            #expect(try await client.get("/", headers: HTTPHeaders([("Host", "anything.at.all")])).status == .ok)
        }
    }

    // MARK: - RequestIDMiddleware

    @Test(arguments: TestMode.allCases)
    func requestIDs(_ mode: TestMode) async throws {
        let app = App()
        app.add(middleware: RequestIDMiddleware())
        app.get("/") { request in request.storage[RequestID.self]?.value ?? "none" }
        try await app.test(mode) { client throws in
            let echoed = try await client.get("/", headers: HTTPHeaders([("X-Request-ID", "abc-123_X.y")]))
            #expect(echoed.headers["x-request-id"] == "abc-123_X.y")
            #expect(echoed.text == "abc-123_X.y")

            for bad in ["has space", "semi;colon", String(repeating: "a", count: 129), "é"] {
                let replaced = try await client.get("/", headers: HTTPHeaders([("X-Request-ID", bad)]))
                let id = try #require(replaced.headers["x-request-id"])
                #expect(id != bad)
                #expect(UUID(uuidString: id) != nil, "\(id)")
                #expect(id == id.lowercased())
                #expect(replaced.text == id)
            }

            let fresh1 = try await client.get("/")
            let fresh2 = try await client.get("/")
            let id1 = try #require(fresh1.headers["x-request-id"])
            let id2 = try #require(fresh2.headers["x-request-id"])
            #expect(UUID(uuidString: id1) != nil)
            #expect(id1 != id2)
            #expect(fresh1.text == id1)
            #expect(fresh1.headers.values(for: "x-request-id").count == 1)
        }
    }

    @Test(arguments: TestMode.allCases)
    func requestIDWithCustomHeaderName(_ mode: TestMode) async throws {
        let app = App()
        app.add(middleware: RequestIDMiddleware(headerName: "X-Correlation-ID"))
        app.get("/") { request in request.storage[RequestID.self]?.value ?? "none" }
        try await app.test(mode) { client throws in
            let response = try await client.get("/", headers: HTTPHeaders([("X-Correlation-ID", "corr-1")]))
            #expect(response.headers["x-correlation-id"] == "corr-1")
            #expect(response.headers["x-request-id"] == nil)
            #expect(response.text == "corr-1")
        }
    }

    // MARK: - AccessLogMiddleware

    /// Keeps every log record in memory.
    private final class LogStore: Sendable {
        struct Record: Sendable {
            let level: Logger.Level
            let message: String
            let metadata: [String: String]
        }

        let records = Mutex<[Record]>([])
        var all: [Record] { records.withLock { $0 } }
    }

    private struct CapturingLogHandler: LogHandler {
        let store: LogStore
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            for (key, value) in event.metadata ?? [:] { merged[key] = value }
            let record = LogStore.Record(
                level: event.level, message: event.message.description, metadata: merged.mapValues { "\($0)" })
            store.records.withLock { $0.append(record) }
        }
    }

    @Test(arguments: TestMode.allCases)
    func accessLogLinePerRequest(_ mode: TestMode) async throws {
        let store = LogStore()
        let logger = Logger(label: "access-test") { _ in CapturingLogHandler(store: store) }
        let app = App()
        app.add(middleware: RequestIDMiddleware(), AccessLogMiddleware(logger: logger))
        app.get("/items") { _ in "items" }
        app.post("/items") { _ -> String in throw HTTPError(.conflict) }
        try await app.test(mode) { client throws in
            _ = try await client.get("/items?page=2", headers: HTTPHeaders([("X-Request-ID", "req-42")]))
            _ = try await client.execute(.post, "/items", text: "x")
            _ = try await client.get("/missing")
        }
        let records = store.all
        #expect(records.count == 3)
        guard records.count == 3 else { return }

        #expect(records.allSatisfy { $0.level == .info })
        let first = records[0]
        let version = mode == .http2 ? "HTTP/2" : "HTTP/1.1"
        #expect(first.message.contains("\"GET /items?page=2 \(version)\" 200"), "\(first.message)")
        #expect(first.message.hasPrefix("127.0.0.1:"), "\(first.message)")
        #expect(first.message.hasSuffix("ms"), "\(first.message)")
        #expect(first.metadata["method"] == "GET")
        #expect(first.metadata["path"] == "/items")
        #expect(first.metadata["status"] == "200")
        #expect(first.metadata["request_id"] == "req-42")
        #expect(first.metadata["client"]?.hasPrefix("127.0.0.1:") == true)
        #expect(first.metadata["duration_ms"].flatMap(Double.init) != nil)

        #expect(records[1].message.contains("\"POST /items \(version)\" 409"), "\(records[1].message)")
        #expect(records[1].metadata["status"] == "409")
        #expect(records[2].message.contains("\"GET /missing \(version)\" 404"), "\(records[2].message)")
    }

    @Test func accessLogRespectsTheLoggerLevel() async throws {
        let store = LogStore()
        var logger = Logger(label: "access-quiet") { _ in CapturingLogHandler(store: store) }
        logger.logLevel = .warning
        let app = App()
        app.add(middleware: AccessLogMiddleware(logger: logger, level: .info))
        app.get("/") { _ in "ok" }
        try await app.test(.inProcess) { client throws in
            #expect(try await client.get("/").text == "ok")
        }
        #expect(store.all.isEmpty)

        let loudStore = LogStore()
        let loud = Logger(label: "access-loud") { _ in CapturingLogHandler(store: loudStore) }
        let app2 = App()
        app2.add(middleware: AccessLogMiddleware(logger: loud, level: .notice))
        app2.get("/") { _ in "ok" }
        try await app2.test(.inProcess) { client throws in _ = try await client.get("/") }
        #expect(loudStore.all.map(\.level) == [.notice])
    }

    // MARK: - RateLimitMiddleware

    @Test(arguments: TestMode.allCases)
    func rateLimitAnswers429AfterTheBurst(_ mode: TestMode) async throws {
        let app = App()
        // One token every ~17 minutes: nothing refills during the test.
        app.add(middleware: RateLimitMiddleware(capacity: 2, refillPerSecond: 0.001))
        app.get("/") { _ in "ok" }
        try await app.test(mode) { client throws in
            let first = try await client.get("/")
            #expect(first.status == .ok)
            #expect(first.headers["ratelimit-limit"] == "2")
            #expect(first.headers["ratelimit-remaining"] == "1")
            let second = try await client.get("/")
            #expect(second.status == .ok)
            #expect(second.headers["ratelimit-remaining"] == "0")

            let third = try await client.get("/")
            #expect(third.status == .tooManyRequests)
            #expect(third.text == #"{"detail":"Too Many Requests"}"#)
            #expect(third.headers["ratelimit-limit"] == "2")
            #expect(third.headers["ratelimit-remaining"] == "0")
            let retryAfter = try #require(third.headers["retry-after"].flatMap(Int.init))
            // About 1 / 0.001 s until the next token.
            #expect(retryAfter > 900 && retryAfter <= 1000)
            #expect(try await client.get("/").status == .tooManyRequests)
        }
    }

    @Test(arguments: TestMode.allCases)
    func rateLimitKeysAreSeparate(_ mode: TestMode) async throws {
        let app = App()
        app.add(
            middleware: RateLimitMiddleware(capacity: 1, refillPerSecond: 0.001) {
                $0.headers["x-api-key"] ?? "anonymous"
            })
        app.get("/") { _ in "ok" }
        try await app.test(mode) { client throws in
            let alice = HTTPHeaders([("X-API-Key", "alice")])
            let bob = HTTPHeaders([("X-API-Key", "bob")])
            #expect(try await client.get("/", headers: alice).status == .ok)
            #expect(try await client.get("/", headers: alice).status == .tooManyRequests)
            #expect(try await client.get("/", headers: bob).status == .ok)
            #expect(try await client.get("/").status == .ok)
            #expect(try await client.get("/").status == .tooManyRequests)
        }
    }

    @Test func rateLimitBucketsRefillAndEvict() {
        var buckets = RateLimitMiddleware.Buckets(maxKeys: 10)
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        guard case .allowed(let remaining) = buckets.take("k", capacity: 2, rate: 1, now: start) else {
            Issue.record("first request limited")
            return
        }
        #expect(remaining == 1)
        guard case .allowed = buckets.take("k", capacity: 2, rate: 1, now: start) else {
            Issue.record("second request limited")
            return
        }
        guard case .limited(let wait) = buckets.take("k", capacity: 2, rate: 1, now: start) else {
            Issue.record("third request allowed")
            return
        }
        #expect(abs(wait - 1) < 1e-9)
        // Half a second later half a token is back: still limited, half a second to wait.
        guard case .limited(let wait2) = buckets.take("k", capacity: 2, rate: 1, now: start + .milliseconds(500)) else {
            Issue.record("allowed with half a token")
            return
        }
        #expect(abs(wait2 - 0.5) < 1e-9)
        // A full second after that, one token is back (the bucket never exceeds capacity).
        guard case .allowed(let after) = buckets.take("k", capacity: 2, rate: 1, now: start + .seconds(100)) else {
            Issue.record("not refilled")
            return
        }
        #expect(after == 1)
        // The table is bounded.
        for index in 0..<50 {
            _ = buckets.take("key-\(index)", capacity: 2, rate: 1, now: start + .seconds(Int64(200 + index)))
        }
        #expect(buckets.tokens.count <= 10)
        #expect(buckets.tokens["key-49"] != nil)
    }
}
