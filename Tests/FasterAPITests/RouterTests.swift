import Foundation
import NIOCore
import Testing

@testable import FasterAPI

private typealias Support = FrameworkTestSupport

/// Routing through the whole app: priorities, captures, methods, automatic answers, trailing
/// slashes and groups — in-process and over a socket.
@Suite("Router")
struct RouterTests {
    private static func priorityApp() -> App {
        let app = App()
        app.get("/users/me") { _ in "me" }
        app.get("/users/{id}") { request in "id:\(try request.path("id"))" }
        app.get("/users/{id}/posts") { request in "posts:\(try request.path("id"))" }
        app.get("/users/{rest...}") { request in "rest:\(try request.path("rest"))" }
        return app
    }

    @Test(arguments: TestMode.allCases)
    func staticBeatsParameterBeatsCatchAll(_ mode: TestMode) async throws {
        try await Self.priorityApp().test(mode) { client throws in
            #expect(try await client.get("/users/me").text == "me")
            #expect(try await client.get("/users/42").text == "id:42")
            #expect(try await client.get("/users/42/posts").text == "posts:42")
            #expect(try await client.get("/users/42/other/x").text == "rest:42/other/x")
        }
    }

    @Test(arguments: TestMode.allCases)
    func backtracksFromLiteralToParameterAndCatchAll(_ mode: TestMode) async throws {
        try await Self.priorityApp().test(mode) { client throws in
            // "me" is a literal with no "posts" child: the {id} branch must be tried next.
            #expect(try await client.get("/users/me/posts").text == "posts:me")
            // Neither the literal nor {id} leads anywhere: the catch-all takes the rest.
            #expect(try await client.get("/users/me/x").text == "rest:me/x")
            #expect(try await client.get("/users/42/posts/7").text == "rest:42/posts/7")
        }
    }

    @Test(arguments: TestMode.allCases)
    func matchedRoutePatternIsVisibleToHandlers(_ mode: TestMode) async throws {
        let app = App()
        app.get("/orgs/{org}/repos/{repo}") { request in
            "\(request.route ?? "-") \(request.pathParameters.map { "\($0.name)=\($0.value)" }.joined(separator: ","))"
        }
        try await app.test(mode) { client throws in
            #expect(
                try await client.get("/orgs/apple/repos/swift").text == "/orgs/{org}/repos/{repo} org=apple,repo=swift")
        }
    }

    @Test(arguments: TestMode.allCases)
    func parametersArePercentDecoded(_ mode: TestMode) async throws {
        let app = App()
        app.get("/files/{name}") { request in try request.path("name") }
        app.get("/users/me") { _ in "literal me" }
        try await app.test(mode) { client throws in
            #expect(try await client.get("/files/hello%20world").text == "hello world")
            #expect(try await client.get("/files/%C3%A9t%C3%A9").text == "été")
            #expect(try await client.get("/files/%E2%82%AC%F0%9F%98%80").text == "€😀")
            // '+' is only a space in query strings and forms, not in paths.
            #expect(try await client.get("/files/a+b").text == "a+b")
            // An encoded literal segment still matches the literal route.
            #expect(try await client.get("/users/%6De").text == "literal me")
        }
    }

    @Test(arguments: TestMode.allCases)
    func typedPathParameterRejectsNonIntegersWith422(_ mode: TestMode) async throws {
        let app = App()
        app.get("/items/{id}") { request in "item \(try request.path("id", as: Int.self))" }
        try await app.test(mode) { client throws in
            #expect(try await client.get("/items/12").text == "item 12")
            let response = try await client.get("/items/abc")
            #expect(response.status == .unprocessableContent)
            let body = try response.json(Support.ValidationBody.self)
            #expect(body.detail.count == 1)
            #expect(body.detail.first?.type == "int_parsing")
            #expect(body.detail.first?.loc == ["path", "id"])
            #expect(body.detail.first?.input == "abc")
        }
    }

    @Test(arguments: TestMode.allCases)
    func catchAllsKeepSlashes(_ mode: TestMode) async throws {
        let app = App()
        app.get("/files/{path...}") { request in "dots:\(try request.path("path"))" }
        app.get("/docs/{page:path}") { request in "colon:\(try request.path("page"))" }
        try await app.test(mode) { client throws in
            #expect(try await client.get("/files/a/b/c.txt").text == "dots:a/b/c.txt")
            #expect(try await client.get("/files/single").text == "dots:single")
            #expect(try await client.get("/docs/guide/intro/setup.md").text == "colon:guide/intro/setup.md")
            #expect(try await client.get("/docs/with%20space/x").text == "colon:with space/x")
        }
    }

    @Test(arguments: TestMode.allCases)
    func eachMethodHasItsOwnHandler(_ mode: TestMode) async throws {
        let app = App()
        app.get("/items") { _ in "list" }
        app.post("/items") { _ in "create" }
        app.delete("/items") { _ in "clear" }
        app.put("/items/{id}") { request in "replace \(try request.path("id"))" }
        app.patch("/items/{id}") { request in "update \(try request.path("id"))" }
        app.on(HTTPMethod("PURGE"), "/items") { _ in "purge" }
        try await app.test(mode) { client throws in
            #expect(try await client.get("/items").text == "list")
            #expect(try await client.execute(.post, "/items", text: "").text == "create")
            #expect(try await client.execute(.delete, "/items").text == "clear")
            #expect(try await client.execute(.put, "/items/3", text: "{}").text == "replace 3")
            #expect(try await client.execute(.patch, "/items/4", text: "{}").text == "update 4")
            #expect(try await client.execute(HTTPMethod("PURGE"), "/items").text == "purge")
        }
    }

    @Test(arguments: TestMode.allCases)
    func unknownPathIs404WithFastAPIBody(_ mode: TestMode) async throws {
        let app = App()
        app.get("/items") { _ in "list" }
        try await app.test(mode) { client throws in
            for path in ["/nope", "/items/1", "/", "/itemsx"] {
                let response = try await client.get(path)
                #expect(response.status == .notFound, "\(path)")
                #expect(response.headers["content-type"] == "application/json")
                #expect(response.text == #"{"detail":"Not Found"}"#)
            }
        }
    }

    @Test(arguments: TestMode.allCases)
    func wrongMethodIs405WithAllowHeader(_ mode: TestMode) async throws {
        let app = App()
        app.get("/items") { _ in "list" }
        app.post("/items") { _ in "create" }
        app.delete("/things") { _ in "gone" }
        try await app.test(mode) { client throws in
            let response = try await client.execute(.put, "/items", text: "x")
            #expect(response.status == .methodNotAllowed)
            #expect(response.text == #"{"detail":"Method Not Allowed"}"#)
            let allow = Set(
                (response.headers["allow"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(allow == ["GET", "POST", "HEAD", "OPTIONS"])

            // Without a GET there is no automatic HEAD to advertise.
            let things = try await client.get("/things")
            #expect(things.status == .methodNotAllowed)
            let thingsAllow = Set(
                (things.headers["allow"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(thingsAllow == ["DELETE", "OPTIONS"])
        }
    }

    @Test(arguments: TestMode.allCases)
    func headIsAnsweredByGetWithoutABody(_ mode: TestMode) async throws {
        let app = App()
        app.get("/doc") { _ in
            Response(
                status: .ok,
                headers: HTTPHeaders([("Content-Type", "text/plain; charset=utf-8"), ("X-Custom", "yes")]),
                body: ResponseBody(string: "a body of some length"))
        }
        try await app.test(mode) { client throws in
            let get = try await client.get("/doc")
            let head = try await client.execute(.head, "/doc")
            #expect(get.status == .ok)
            #expect(head.status == .ok)
            #expect(head.body.readableBytes == 0)
            #expect(get.text == "a body of some length")
            #expect(head.headers["content-type"] == get.headers["content-type"])
            #expect(head.headers["content-length"] == "21")
            #expect(head.headers["content-length"] == get.headers["content-length"])
            #expect(head.headers["x-custom"] == "yes")
            // The connection stays usable after a bodiless HEAD response.
            #expect(try await client.get("/doc").text == "a body of some length")
        }
    }

    @Test(arguments: TestMode.allCases)
    func optionsIsAnsweredAutomaticallyWith204AndAllow(_ mode: TestMode) async throws {
        let app = App()
        app.get("/items") { _ in "list" }
        app.post("/items") { _ in "create" }
        try await app.test(mode) { client throws in
            let response = try await client.execute(.options, "/items")
            #expect(response.status == .noContent)
            #expect(response.body.readableBytes == 0)
            let allow = Set(
                (response.headers["allow"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(allow == ["GET", "POST", "HEAD", "OPTIONS"])
            #expect(try await client.execute(.options, "/missing").status == .notFound)
        }
    }

    @Test(arguments: TestMode.allCases)
    func explicitOptionsAndHeadHandlersWin(_ mode: TestMode) async throws {
        let app = App()
        app.get("/r") { _ in "get" }
        app.on(.options, "/r") { _ in "custom options" }
        app.on(.head, "/r") { _ in
            Response(status: .ok, headers: HTTPHeaders([("X-Head", "explicit")]))
        }
        try await app.test(mode) { client throws in
            #expect(try await client.execute(.options, "/r").text == "custom options")
            let head = try await client.execute(.head, "/r")
            #expect(head.headers["x-head"] == "explicit")
        }
    }

    @Test(arguments: TestMode.allCases)
    func trailingSlashRedirectsByDefaultKeepingTheQuery(_ mode: TestMode) async throws {
        let app = App()
        #expect(app.configuration.trailingSlash == .redirect)
        app.get("/items") { _ in "items" }
        app.get("/folder/") { _ in "folder" }
        try await app.test(mode) { client throws in
            let extra = try await client.get("/items/?q=a%20b&page=2")
            #expect(extra.status == .temporaryRedirect)
            #expect(extra.headers["location"] == "/items?q=a%20b&page=2")

            let plain = try await client.get("/items/")
            #expect(plain.status == .temporaryRedirect)
            #expect(plain.headers["location"] == "/items")

            let missing = try await client.get("/folder")
            #expect(missing.status == .temporaryRedirect)
            #expect(missing.headers["location"] == "/folder/")

            #expect(try await client.get("/items").text == "items")
            #expect(try await client.get("/folder/").text == "folder")
            // A redirect is only offered when the other form exists.
            #expect(try await client.get("/other/").status == .notFound)
        }
    }

    @Test(arguments: TestMode.allCases)
    func trailingSlashIgnoreServesTheRoute(_ mode: TestMode) async throws {
        let app = App()
        app.configuration.trailingSlash = .ignore
        app.get("/items/{id}") { request in "item \(try request.path("id"))" }
        app.get("/folder/") { _ in "folder" }
        try await app.test(mode) { client throws in
            let response = try await client.get("/items/5/")
            #expect(response.status == .ok)
            #expect(response.text == "item 5")
            #expect(try await client.get("/folder").text == "folder")
        }
    }

    @Test(arguments: TestMode.allCases)
    func trailingSlashStrictIs404(_ mode: TestMode) async throws {
        let app = App()
        app.configuration.trailingSlash = .strict
        app.get("/items") { _ in "items" }
        app.get("/folder/") { _ in "folder" }
        try await app.test(mode) { client throws in
            #expect(try await client.get("/items/").status == .notFound)
            #expect(try await client.get("/folder").status == .notFound)
            #expect(try await client.get("/items").text == "items")
            #expect(try await client.get("/folder/").text == "folder")
        }
    }

    /// Appends `name` to the request's `X-Seen` header before calling the rest of the chain.
    private struct Mark: Middleware {
        let name: String
        func handle(_ request: Request, next: Next) async throws -> Response {
            var request = request
            request.headers.add(name: "X-Seen", value: name)
            var response = try await next(request)
            response.headers.add(name: "X-Group", value: name)
            return response
        }
    }

    private static func groupApp() -> App {
        let app = App()
        let api = app.group("/api/", tags: ["api"], middleware: [Mark(name: "api")])
        api.get("/") { _ in "api root" }
        api.get("/ping") { request in request.headers.values(for: "x-seen").joined(separator: ",") }
        let v1 = api.group("v1", tags: ["v1"], middleware: [Mark(name: "v1")])
        v1.get("/items", tags: ["items"]) { request in request.headers.values(for: "x-seen").joined(separator: ",") }
        app.get("/outside") { request in "outside:" + request.headers.values(for: "x-seen").joined(separator: ",") }
        return app
    }

    @Test func groupsPrefixPathsAndAccumulateTags() {
        let routes = Self.groupApp().routes
        #expect(routes.map(\.path) == ["/api", "/api/ping", "/api/v1/items", "/outside"])
        #expect(routes.map(\.method) == [.get, .get, .get, .get])
        #expect(routes[0].tags == ["api"])
        #expect(routes[1].tags == ["api"])
        #expect(routes[2].tags == ["api", "v1", "items"])
        #expect(routes[3].tags == [])
    }

    @Test(arguments: TestMode.allCases)
    func groupMiddlewareRunsOnlyForItsRoutesOuterFirst(_ mode: TestMode) async throws {
        try await Self.groupApp().test(mode) { client throws in
            let root = try await client.get("/api")
            #expect(root.text == "api root")
            #expect(root.headers.values(for: "x-group") == ["api"])

            let ping = try await client.get("/api/ping")
            #expect(ping.text == "api")
            #expect(ping.headers.values(for: "x-group") == ["api"])

            let items = try await client.get("/api/v1/items")
            #expect(items.text == "api,v1")
            // The inner middleware's response change happens first.
            #expect(items.headers.values(for: "x-group") == ["v1", "api"])

            let outside = try await client.get("/outside")
            #expect(outside.text == "outside:")
            #expect(!outside.headers.contains("x-group"))

            // Group middleware runs after routing: a miss under the prefix does not reach it.
            let miss = try await client.get("/api/nothing")
            #expect(miss.status == .notFound)
            #expect(!miss.headers.contains("x-group"))
        }
    }

    @Test(arguments: TestMode.allCases)
    func automaticAnswersPassThroughGroupMiddleware(_ mode: TestMode) async throws {
        try await Self.groupApp().test(mode) { client throws in
            let options = try await client.execute(.options, "/api/ping")
            #expect(options.status == .noContent)
            #expect(options.headers.values(for: "x-group") == ["api"])
            let wrong = try await client.execute(.post, "/api/ping", text: "")
            #expect(wrong.status == .methodNotAllowed)
            #expect(wrong.headers.values(for: "x-group") == ["api"])
        }
    }

    @Test func compiledRouterMatchesWithoutTheApp() {
        var builder = RouterBuilder()
        builder.add(.get, "/", route: 0)
        builder.add(.get, "/a/{x}", route: 1)
        builder.add(.post, "/a/{x}", route: 2)
        builder.add(.get, "/a/b", route: 3)
        let router = builder.compile()

        let root = router.match("/")
        #expect(root.map { router.handlers(at: $0.node).map(\.route) } == [0])
        let param = router.match("/a/zz")
        #expect(param.map { router.handlers(at: $0.node).map(\.route) } == [1, 2])
        #expect(param?.captures.first?.name == "x")
        #expect(param?.captures.first?.value == "zz")
        let literal = router.match("/a/b")
        #expect(literal.map { router.handlers(at: $0.node).map(\.route) } == [3])
        #expect(literal?.captures.isEmpty == true)
        #expect(router.match("/a") == nil)
        #expect(router.match("/a/") == nil)
        #expect(router.match("a/b") == nil)
        #expect(router.match("/a/b/c") == nil)
        // A stray "%" stays in the parameter (as Starlette keeps it) rather than failing the match.
        #expect(router.match("/a/%zz")?.captures.first?.value == "%zz")
    }
}
