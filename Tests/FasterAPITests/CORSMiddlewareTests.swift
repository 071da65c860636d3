import Foundation
import NIOCore
import Testing

@testable import FasterAPI

/// `CORSMiddleware`: simple requests, preflights, credentials and `Vary`.
@Suite("CORSMiddleware")
struct CORSMiddlewareTests {
    private static let allowed = "https://app.example.com"
    private static let denied = "https://evil.example.net"

    private static func listApp(credentials: Bool = false) -> App {
        let app = App()
        app.add(
            middleware: CORSMiddleware(
                allowedOrigins: .list([allowed, "http://localhost:3000"]), allowedMethods: [.get, .post],
                allowedHeaders: ["X-Token", "Authorization"], exposedHeaders: ["X-Total", "X-Page"],
                allowCredentials: credentials, maxAge: 300))
        app.get("/items") { _ in "items" }
        app.post("/items") { _ in "created" }
        return app
    }

    private static func set(_ value: String?) -> Set<String> {
        Set(
            (value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter {
                !$0.isEmpty
            })
    }

    @Test(arguments: TestMode.allCases)
    func simpleRequestFromAnAllowedOrigin(_ mode: TestMode) async throws {
        try await Self.listApp().test(mode) { client throws in
            let response = try await client.get("/items", headers: HTTPHeaders([("Origin", Self.allowed)]))
            #expect(response.status == .ok)
            #expect(response.text == "items")
            #expect(response.headers["access-control-allow-origin"] == Self.allowed)
            #expect(Self.set(response.headers["access-control-expose-headers"]) == ["x-total", "x-page"])
            #expect(response.headers["access-control-allow-credentials"] == nil)
            #expect(Self.set(response.headers.values(for: "vary").joined(separator: ",")).contains("origin"))
        }
    }

    @Test(arguments: TestMode.allCases)
    func simpleRequestFromADeniedOriginGetsNoCORSHeaders(_ mode: TestMode) async throws {
        try await Self.listApp().test(mode) { client throws in
            let response = try await client.get("/items", headers: HTTPHeaders([("Origin", Self.denied)]))
            // The request is served; the browser withholds it from the page.
            #expect(response.status == .ok)
            #expect(response.headers["access-control-allow-origin"] == nil)
            #expect(response.headers["access-control-expose-headers"] == nil)

            let noOrigin = try await client.get("/items")
            #expect(noOrigin.status == .ok)
            #expect(noOrigin.headers["access-control-allow-origin"] == nil)
        }
    }

    @Test(arguments: TestMode.allCases)
    func preflightSucceeds(_ mode: TestMode) async throws {
        try await Self.listApp().test(mode) { client throws in
            let response = try await client.execute(
                .options, "/items",
                headers: HTTPHeaders([
                    ("Origin", Self.allowed), ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "x-token, Content-Type"),
                ]))
            #expect(response.status == .ok)
            #expect(response.headers["access-control-allow-origin"] == Self.allowed)
            #expect(Self.set(response.headers["access-control-allow-methods"]).isSuperset(of: ["get", "post"]))
            #expect(Self.set(response.headers["access-control-allow-headers"]).isSuperset(of: ["x-token"]))
            #expect(response.headers["access-control-max-age"] == "300")
            #expect(Self.set(response.headers.values(for: "vary").joined(separator: ",")).contains("origin"))
        }
    }

    @Test(arguments: TestMode.allCases)
    func preflightIsAnsweredEvenWithoutAMatchingRoute(_ mode: TestMode) async throws {
        try await Self.listApp().test(mode) { client throws in
            let response = try await client.execute(
                .options, "/not-a-route",
                headers: HTTPHeaders([("Origin", Self.allowed), ("Access-Control-Request-Method", "GET")]))
            #expect(response.status == .ok)
            #expect(response.headers["access-control-allow-origin"] == Self.allowed)
        }
    }

    @Test(arguments: TestMode.allCases)
    func preflightRefusals(_ mode: TestMode) async throws {
        try await Self.listApp().test(mode) { client throws in
            let cases: [(String, [(String, String)])] = [
                ("origin", [("Origin", Self.denied), ("Access-Control-Request-Method", "GET")]),
                ("method", [("Origin", Self.allowed), ("Access-Control-Request-Method", "DELETE")]),
                (
                    "header",
                    [
                        ("Origin", Self.allowed), ("Access-Control-Request-Method", "GET"),
                        ("Access-Control-Request-Headers", "X-Other"),
                    ]
                ),
            ]
            for (what, headers) in cases {
                let response = try await client.execute(.options, "/items", headers: HTTPHeaders(headers))
                #expect(response.status == .badRequest, "\(what)")
                #expect(response.headers["access-control-allow-origin"] == nil, "\(what)")
                #expect(response.text.contains(what), "\(what): \(response.text)")
            }
        }
    }

    @Test(arguments: TestMode.allCases)
    func plainOptionsWithoutRequestMethodIsNotAPreflight(_ mode: TestMode) async throws {
        try await Self.listApp().test(mode) { client throws in
            let response = try await client.execute(
                .options, "/items", headers: HTTPHeaders([("Origin", Self.allowed)]))
            // The router's automatic OPTIONS answer, with CORS headers added.
            #expect(response.status == .noContent)
            #expect(response.headers["allow"] != nil)
            #expect(response.headers["access-control-allow-origin"] == Self.allowed)
        }
    }

    @Test(arguments: TestMode.allCases)
    func credentialsEchoTheOriginNeverStar(_ mode: TestMode) async throws {
        let app = App()
        app.add(middleware: CORSMiddleware(allowedOrigins: .any, allowCredentials: true))
        app.get("/") { _ in "ok" }
        try await app.test(mode) { client throws in
            let simple = try await client.get("/", headers: HTTPHeaders([("Origin", Self.denied)]))
            #expect(simple.headers["access-control-allow-origin"] == Self.denied)
            #expect(simple.headers["access-control-allow-credentials"] == "true")
            #expect(Self.set(simple.headers.values(for: "vary").joined(separator: ",")).contains("origin"))

            let preflight = try await client.execute(
                .options, "/",
                headers: HTTPHeaders([
                    ("Origin", Self.allowed), ("Access-Control-Request-Method", "PUT"),
                    ("Access-Control-Request-Headers", "X-Anything"),
                ]))
            #expect(preflight.status == .ok)
            #expect(preflight.headers["access-control-allow-origin"] == Self.allowed)
            #expect(preflight.headers["access-control-allow-credentials"] == "true")
            // With no header list configured, the requested headers are allowed.
            #expect(Self.set(preflight.headers["access-control-allow-headers"]) == ["x-anything"])
            #expect(preflight.headers["access-control-max-age"] == "600")
        }
    }

    @Test(arguments: TestMode.allCases)
    func anyOriginWithoutCredentialsIsStarWithoutVary(_ mode: TestMode) async throws {
        let app = App()
        app.add(middleware: CORSMiddleware())
        app.get("/") { _ in "ok" }
        try await app.test(mode) { client throws in
            let response = try await client.get("/", headers: HTTPHeaders([("Origin", Self.allowed)]))
            #expect(response.headers["access-control-allow-origin"] == "*")
            #expect(!Self.set(response.headers.values(for: "vary").joined(separator: ",")).contains("origin"))
        }
    }

    @Test(arguments: TestMode.allCases)
    func varyIsMergedWithTheHandlersVary(_ mode: TestMode) async throws {
        let app = App()
        app.add(middleware: CORSMiddleware(allowedOrigins: .custom { $0.hasSuffix(".example.com") }))
        app.get("/") { _ in
            Response(headers: HTTPHeaders([("Vary", "Accept-Language")]), body: ResponseBody(string: "hi"))
        }
        app.get("/already") { _ in
            Response(headers: HTTPHeaders([("Vary", "origin")]), body: ResponseBody(string: "hi"))
        }
        try await app.test(mode) { client throws in
            let response = try await client.get("/", headers: HTTPHeaders([("Origin", "https://x.example.com")]))
            #expect(response.headers["access-control-allow-origin"] == "https://x.example.com")
            #expect(
                Self.set(response.headers.values(for: "vary").joined(separator: ",")) == ["accept-language", "origin"])

            let already = try await client.get("/already", headers: HTTPHeaders([("Origin", "https://y.example.com")]))
            #expect(already.headers.values(for: "vary") == ["origin"])

            let refused = try await client.get("/", headers: HTTPHeaders([("Origin", "https://example.org")]))
            #expect(refused.headers["access-control-allow-origin"] == nil)
        }
    }

    @Test(arguments: TestMode.allCases)
    func errorResponsesCarryCORSHeaders(_ mode: TestMode) async throws {
        let app = App()
        app.add(middleware: CORSMiddleware(allowedOrigins: .list([Self.allowed])))
        app.get("/fail") { _ -> String in throw HTTPError(.badRequest, detail: "bad") }
        try await app.test(mode) { client throws in
            // Browsers can only read error bodies when CORS headers are on them too.
            let fail = try await client.get("/fail", headers: HTTPHeaders([("Origin", Self.allowed)]))
            #expect(fail.status == .badRequest)
            #expect(fail.headers["access-control-allow-origin"] == Self.allowed)
            let missing = try await client.get("/missing", headers: HTTPHeaders([("Origin", Self.allowed)]))
            #expect(missing.status == .notFound)
            #expect(missing.headers["access-control-allow-origin"] == Self.allowed)
        }
    }
}
