import Foundation
import NIOCore
import Testing

@testable import FasterAPI

/// What handlers can return and how each becomes a response.
@Suite("Responses")
struct ResponseTests {
    private struct Inner: Codable, Sendable {
        let zeta: Int
        let alpha: [String]
    }

    private struct Person: Codable, Sendable {
        let name: String
        let zebra: Int
        let apple: Double
        let nickname: String?
        let inner: Inner
        let middle: Bool
    }

    @Test(arguments: TestMode.allCases)
    func stringIsPlainTextUTF8(_ mode: TestMode) async throws {
        let app = App()
        app.get("/") { _ in "Hello, wörld! 👋" }
        try await app.test(mode) { client throws in
            let response = try await client.get("/")
            #expect(response.status == .ok)
            #expect(response.headers["content-type"] == "text/plain; charset=utf-8")
            #expect(response.text == "Hello, wörld! 👋")
            #expect(response.headers["content-length"] == String("Hello, wörld! 👋".utf8.count))
        }
    }

    @Test(arguments: TestMode.allCases)
    func codableIsJSONInDeclarationOrderWithNulls(_ mode: TestMode) async throws {
        let app = App()
        app.get("/person") { _ in
            Person(
                name: "Ann", zebra: 3, apple: 1.5, nickname: nil, inner: Inner(zeta: 9, alpha: ["x", "y"]), middle: true
            )
        }
        app.get("/list") { _ in [Inner(zeta: 1, alpha: []), Inner(zeta: 2, alpha: ["q"])] }
        try await app.test(mode) { client throws in
            let response = try await client.get("/person")
            #expect(response.status == .ok)
            #expect(response.headers["content-type"] == "application/json")
            #expect(
                response.text
                    == #"{"name":"Ann","zebra":3,"apple":1.5,"nickname":null,"inner":{"zeta":9,"alpha":["x","y"]},"middle":true}"#
            )
            #expect(try await client.get("/list").text == #"[{"zeta":1,"alpha":[]},{"zeta":2,"alpha":["q"]}]"#)
        }
    }

    @Test(arguments: TestMode.allCases)
    func htmlResponse(_ mode: TestMode) async throws {
        let app = App()
        app.get("/page") { _ in HTML("<h1>Hi</h1>") }
        app.get("/teapot") { _ in HTML("<p>short and stout</p>", status: HTTPStatus(code: 418)) }
        try await app.test(mode) { client throws in
            let page = try await client.get("/page")
            #expect(page.headers["content-type"] == "text/html; charset=utf-8")
            #expect(page.text == "<h1>Hi</h1>")
            let teapot = try await client.get("/teapot")
            #expect(teapot.status.code == 418)
            #expect(teapot.text == "<p>short and stout</p>")
        }
    }

    @Test(arguments: TestMode.allCases)
    func byteBufferIsOctetStream(_ mode: TestMode) async throws {
        let bytes: [UInt8] = [0, 1, 2, 0xFF, 0x0D, 0x0A, 0x7F]
        let app = App()
        app.get("/bin") { _ in ByteBuffer(bytes: bytes) }
        try await app.test(mode) { client throws in
            let response = try await client.get("/bin")
            #expect(response.headers["content-type"] == "application/octet-stream")
            #expect(response.bodyBytes == bytes)
            #expect(response.headers["content-length"] == "7")
        }
    }

    @Test(arguments: TestMode.allCases)
    func statusOnly(_ mode: TestMode) async throws {
        let app = App()
        app.delete("/thing") { _ in HTTPStatus.noContent }
        app.post("/later") { _ in HTTPStatus.accepted }
        try await app.test(mode) { client throws in
            let deleted = try await client.execute(.delete, "/thing")
            #expect(deleted.status == .noContent)
            #expect(deleted.body.readableBytes == 0)
            let accepted = try await client.execute(.post, "/later", text: "")
            #expect(accepted.status == .accepted)
            #expect(accepted.body.readableBytes == 0)
            #expect(accepted.headers["content-length"] == "0")
        }
    }

    @Test(arguments: TestMode.allCases)
    func redirects(_ mode: TestMode) async throws {
        let app = App()
        app.get("/old") { _ in Redirect(to: "/new?x=1") }
        app.get("/moved") { _ in Redirect(to: "https://example.com/", status: .movedPermanently) }
        app.post("/form") { _ in Redirect(to: "/done", status: .seeOther) }
        try await app.test(mode) { client throws in
            let old = try await client.get("/old")
            #expect(old.status == .temporaryRedirect)
            #expect(old.headers["location"] == "/new?x=1")
            let moved = try await client.get("/moved")
            #expect(moved.status == .movedPermanently)
            #expect(moved.headers["location"] == "https://example.com/")
            let form = try await client.execute(.post, "/form", text: "")
            #expect(form.status == .seeOther)
            #expect(form.headers["location"] == "/done")
        }
    }

    @Test(arguments: TestMode.allCases)
    func jsonWithStatusAndHeaders(_ mode: TestMode) async throws {
        let app = App()
        app.post("/items") { _ in
            JSON(Inner(zeta: 5, alpha: ["new"]), status: .created, headers: HTTPHeaders([("Location", "/items/5")]))
        }
        try await app.test(mode) { client throws in
            let response = try await client.execute(.post, "/items", text: "")
            #expect(response.status == .created)
            #expect(response.headers["content-type"] == "application/json")
            #expect(response.headers["location"] == "/items/5")
            #expect(response.text == #"{"zeta":5,"alpha":["new"]}"#)
        }
    }

    @Test(arguments: TestMode.allCases)
    func streamingResponseIsCollected(_ mode: TestMode) async throws {
        let app = App()
        app.get("/stream") { _ in
            StreamingResponse(contentType: "text/plain; charset=utf-8", headers: HTTPHeaders([("X-Stream", "1")])) {
                writer in
                for index in 1...50 {
                    try await writer.write("line \(index)\n")
                }
                try await writer.write(ByteBuffer())  // empty writes are skipped
            }
        }
        app.get("/binary") { _ in
            StreamingResponse { writer in try await writer.write(ByteBuffer(bytes: [1, 2, 3])) }
        }
        let expected = (1...50).map { "line \($0)\n" }.joined()
        try await app.test(mode) { client throws in
            let response = try await client.get("/stream")
            #expect(response.status == .ok)
            #expect(response.headers["content-type"] == "text/plain; charset=utf-8")
            #expect(response.headers["x-stream"] == "1")
            #expect(response.text == expected)
            let binary = try await client.get("/binary")
            #expect(binary.headers["content-type"] == "application/octet-stream")
            #expect(binary.bodyBytes == [1, 2, 3])
        }
    }

    @Test(arguments: TestMode.allCases)
    func setCookieHeaders(_ mode: TestMode) async throws {
        let app = App()
        app.post("/login") { request in
            var response = "welcome".response(for: request)
            response.setCookie(SetCookie(name: "session", value: "abc123", maxAge: 3600))
            response.setCookie(
                SetCookie(
                    name: "theme", value: "dark", expires: Date(timeIntervalSince1970: 0), path: nil,
                    domain: "example.com",
                    secure: true, httpOnly: false, sameSite: nil))
            response.setCookie(SetCookie(name: "cross", value: "1", sameSite: SetCookie.SameSite.none))
            return response
        }
        try await app.test(mode) { client throws in
            let response = try await client.execute(.post, "/login", text: "")
            #expect(response.text == "welcome")
            #expect(
                response.headers.values(for: "set-cookie") == [
                    "session=abc123; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax",
                    "theme=dark; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Domain=example.com; Secure",
                    "cross=1; Path=/; Secure; HttpOnly; SameSite=None",
                ])
        }
    }

    @Test(arguments: TestMode.allCases)
    func handcraftedResponse(_ mode: TestMode) async throws {
        let app = App()
        app.get("/raw") { _ in
            Response(
                status: HTTPStatus(code: 299, reasonPhrase: "Custom"),
                headers: HTTPHeaders([("X-A", "1"), ("X-A", "2")]),
                body: ResponseBody(string: "raw"))
        }
        try await app.test(mode) { client throws in
            let response = try await client.get("/raw")
            #expect(response.status.code == 299)
            #expect(response.headers.values(for: "x-a") == ["1", "2"])
            #expect(response.text == "raw")
        }
    }
}
