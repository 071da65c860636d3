import Foundation
import NIOCore
import Testing

@testable import FasterAPI

private typealias Support = FrameworkTestSupport

/// Errors thrown by handlers and middleware and how they become responses.
@Suite("ErrorHandling")
struct ErrorHandlingTests {
    private struct Problem: Encodable, Sendable {
        let code: String
        let fields: [String]
        let retry: Int?
    }

    /// An error whose description holds something that must never reach a client.
    private struct LeakyError: Error, CustomStringConvertible {
        let secret = "db-password-hunter2"
        var description: String { "LeakyError(\(secret))" }
    }

    private struct TeapotError: Error {
        let flavour: String
    }

    private struct PaymentRequired: HTTPStatusError {
        var status: HTTPStatus { HTTPStatus(code: 402) }
        var detail: String { "Top up first" }
    }

    @Test(arguments: TestMode.allCases)
    func httpErrorWithTextDetail(_ mode: TestMode) async throws {
        let app = App()
        app.get("/items/{id}") { _ -> String in throw HTTPError(.notFound, detail: "Item not found") }
        app.get("/quote") { _ -> String in throw HTTPError(.badRequest, detail: "bad \"quote\" and \\ slash\nnewline") }
        app.get("/default") { _ -> String in throw HTTPError(.forbidden) }
        try await app.test(mode) { client throws in
            let response = try await client.get("/items/1")
            #expect(response.status == .notFound)
            #expect(response.headers["content-type"] == "application/json")
            #expect(response.text == #"{"detail":"Item not found"}"#)

            let quote = try await client.get("/quote")
            #expect(try quote.json(Support.DetailBody.self).detail == "bad \"quote\" and \\ slash\nnewline")

            let fallback = try await client.get("/default")
            #expect(fallback.status == .forbidden)
            #expect(fallback.text == #"{"detail":"Forbidden"}"#)
        }
    }

    @Test(arguments: TestMode.allCases)
    func httpErrorWithStructuredDetailAndHeaders(_ mode: TestMode) async throws {
        let app = App()
        app.get("/structured") { _ -> String in
            throw HTTPError(.conflict, detail: Problem(code: "duplicate", fields: ["email", "name"], retry: nil))
        }
        app.get("/auth") { _ -> String in
            throw HTTPError(
                .unauthorized, detail: "Not authenticated",
                headers: HTTPHeaders([("WWW-Authenticate", "Bearer"), ("X-Reason", "missing token")]))
        }
        try await app.test(mode) { client throws in
            let structured = try await client.get("/structured")
            #expect(structured.status == .conflict)
            #expect(structured.text == #"{"detail":{"code":"duplicate","fields":["email","name"],"retry":null}}"#)

            let auth = try await client.get("/auth")
            #expect(auth.status == .unauthorized)
            #expect(auth.headers["www-authenticate"] == "Bearer")
            #expect(auth.headers["x-reason"] == "missing token")
            #expect(auth.headers["content-type"] == "application/json")
            #expect(auth.text == #"{"detail":"Not authenticated"}"#)
        }
    }

    @Test(arguments: TestMode.allCases)
    func unknownErrorIs500WithoutLeaking(_ mode: TestMode) async throws {
        let app = App()
        app.get("/boom") { _ -> String in throw LeakyError() }
        app.get("/ok") { _ in "fine" }
        try await app.test(mode) { client throws in
            let response = try await client.get("/boom")
            #expect(response.status == .internalServerError)
            #expect(response.headers["content-type"] == "application/json")
            #expect(response.text == #"{"detail":"Internal Server Error"}"#)
            let everything =
                response.text
                + (0..<response.headers.count).map {
                    response.headers.name(at: $0) + ":" + response.headers.value(at: $0)
                }.joined()
            #expect(!everything.contains("hunter2"))
            #expect(!everything.contains("LeakyError"))
            // The server is still healthy afterwards.
            #expect(try await client.get("/ok").text == "fine")
        }
    }

    @Test(arguments: TestMode.allCases)
    func statusErrorsAndValidationErrors(_ mode: TestMode) async throws {
        let app = App()
        app.get("/pay") { _ -> String in throw PaymentRequired() }
        app.get("/validate") { _ -> String in
            throw ValidationError([
                ValidationIssue(type: "too_short", loc: ["body", "items", 2, "name"], msg: "Too short", input: ""),
                ValidationIssue(type: "missing", loc: ["query", "q"], msg: "Field required"),
            ])
        }
        try await app.test(mode) { client throws in
            let pay = try await client.get("/pay")
            #expect(pay.status.code == 402)
            #expect(pay.text == #"{"detail":"Top up first"}"#)

            let validate = try await client.get("/validate")
            #expect(validate.status == .unprocessableContent)
            #expect(
                validate.text
                    == #"{"detail":[{"type":"too_short","loc":["body","items",2,"name"],"msg":"Too short","input":""},{"type":"missing","loc":["query","q"],"msg":"Field required","input":null}]}"#
            )
        }
    }

    @Test(arguments: TestMode.allCases)
    func customErrorHandler(_ mode: TestMode) async throws {
        let app = App()
        app.errorHandler(for: TeapotError.self) { request, error in
            try JSON(["flavour": error.flavour, "path": request.path], status: HTTPStatus(code: 418)).response(
                for: request)
        }
        app.get("/tea") { _ -> String in throw TeapotError(flavour: "earl grey") }
        app.get("/other") { _ -> String in throw LeakyError() }
        app.get("/http") { _ -> String in throw HTTPError(HTTPStatus(code: 410), detail: "gone") }
        try await app.test(mode) { client throws in
            let tea = try await client.get("/tea")
            #expect(tea.status.code == 418)
            #expect(try tea.json([String: String].self) == ["flavour": "earl grey", "path": "/tea"])
            // Other errors keep the built-in answers.
            #expect(try await client.get("/other").status == .internalServerError)
            #expect(try await client.get("/http").text == #"{"detail":"gone"}"#)
        }
    }

    @Test(arguments: TestMode.allCases)
    func customHandlerForHTTPErrorOverridesTheBuiltIn(_ mode: TestMode) async throws {
        let app = App()
        app.errorHandler(for: HTTPError.self) { _, error in
            Response(
                status: error.status, headers: HTTPHeaders([("Content-Type", "text/plain; charset=utf-8")]),
                body: ResponseBody(string: "custom \(error.status.code)"))
        }
        app.get("/x") { _ -> String in throw HTTPError(.notFound) }
        try await app.test(mode) { client throws in
            let thrown = try await client.get("/x")
            #expect(thrown.status == .notFound)
            #expect(thrown.text == "custom 404")
            // The router's own 404 is an HTTPError too.
            #expect(try await client.get("/missing").text == "custom 404")
        }
    }

    @Test(arguments: TestMode.allCases)
    func failingErrorHandlerFallsBackToTheBuiltIn(_ mode: TestMode) async throws {
        let app = App()
        app.errorHandler(for: TeapotError.self) { _, _ in throw LeakyError() }
        app.get("/tea") { _ -> String in throw TeapotError(flavour: "green") }
        try await app.test(mode) { client throws in
            let response = try await client.get("/tea")
            #expect(response.status == .internalServerError)
            #expect(response.text == #"{"detail":"Internal Server Error"}"#)
        }
    }

    @Test(arguments: TestMode.allCases)
    func errorsThrownInMiddleware(_ mode: TestMode) async throws {
        let app = App()
        // Outermost: sees every inner error already turned into a response.
        app.add(
            middleware: ClosureMiddleware { request, next in
                var response = try await next(request)
                response.headers.add(name: "X-Outer-Status", value: String(response.status.code))
                return response
            })
        app.add(
            middleware: ClosureMiddleware { request, next in
                switch request.headers["x-fail"] {
                case "http": throw HTTPError(.forbidden, detail: "blocked by middleware")
                case "unknown": throw LeakyError()
                case "teapot": throw TeapotError(flavour: "mint")
                default: return try await next(request)
                }
            })
        app.errorHandler(for: TeapotError.self) { _, error in
            Response(status: HTTPStatus(code: 418), body: ResponseBody(string: error.flavour))
        }
        app.get("/") { _ in "through" }
        try await app.test(mode) { client throws in
            let ok = try await client.get("/")
            #expect(ok.text == "through")
            #expect(ok.headers["x-outer-status"] == "200")

            let http = try await client.get("/", headers: HTTPHeaders([("X-Fail", "http")]))
            #expect(http.status == .forbidden)
            #expect(http.text == #"{"detail":"blocked by middleware"}"#)
            #expect(http.headers["x-outer-status"] == "403")

            let unknown = try await client.get("/", headers: HTTPHeaders([("X-Fail", "unknown")]))
            #expect(unknown.status == .internalServerError)
            #expect(unknown.text == #"{"detail":"Internal Server Error"}"#)
            #expect(unknown.headers["x-outer-status"] == "500")

            let teapot = try await client.get("/", headers: HTTPHeaders([("X-Fail", "teapot")]))
            #expect(teapot.status.code == 418)
            #expect(teapot.text == "mint")
            #expect(teapot.headers["x-outer-status"] == "418")
        }
    }

    @Test(arguments: TestMode.allCases)
    func handlerErrorsAreResponsesToMiddleware(_ mode: TestMode) async throws {
        let app = App()
        app.add(
            middleware: ClosureMiddleware { request, next in
                var response = try await next(request)
                response.headers.add(name: "X-Seen", value: String(response.status.code))
                return response
            })
        app.get("/fail") { _ -> String in throw HTTPError(.badRequest, detail: "nope") }
        app.get("/crash") { _ -> String in throw LeakyError() }
        try await app.test(mode) { client throws in
            #expect(try await client.get("/fail").headers["x-seen"] == "400")
            #expect(try await client.get("/crash").headers["x-seen"] == "500")
            // Global middleware also wraps the router's own 404.
            #expect(try await client.get("/missing").headers["x-seen"] == "404")
        }
    }
}
