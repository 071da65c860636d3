import FasterAPI
import Foundation
import Testing

/// The README's example, compiled and exercised, so the front page never shows code that does
/// not build or behave as described.
@Suite struct ReadmeExampleTests {
    struct User: Codable, Sendable {
        let id: Int
        let name: String
    }

    struct Maintenance: Error {}

    static func makeApp(publicDirectory: String) -> App {
        let app = App()
        app.add(middleware: RequestIDMiddleware(), CORSMiddleware(allowedOrigins: .list(["https://example.com"])))

        app.get("/") { _ in "Hello, World!" }
        app.get("/users/{id}") { req in
            let id = try req.path("id", as: Int.self)
            return User(id: id, name: "user-\(id)")
        }
        app.post("/users") { req in
            let user = try await req.json(User.self)
            return JSON(user, status: .created)
        }

        let admin = app.group(
            "/admin", tags: ["admin"], middleware: [RateLimitMiddleware(capacity: 10, refillPerSecond: 1)])
        admin.get("/report") { _ in FileResponse(path: publicDirectory + "/report.txt", downloadName: "report.txt") }
        app.staticFiles("/static", directory: publicDirectory)

        app.errorHandler(for: Maintenance.self) { _, _ in Response(status: .serviceUnavailable) }
        app.get("/maintenance") { _ -> String in throw Maintenance() }
        return app
    }

    @Test(arguments: TestMode.allCases)
    func exampleBehavesAsDescribed(_ mode: TestMode) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("readme-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "quarterly numbers".write(
            to: directory.appendingPathComponent("report.txt"), atomically: true, encoding: .utf8)

        let app = Self.makeApp(publicDirectory: directory.path)
        try await app.test(mode) { client throws in
            let hello = try await client.get("/")
            #expect(hello.text == "Hello, World!")
            #expect(hello.headers["x-request-id"] != nil)

            let user = try await client.get("/users/7")
            #expect(try user.json(User.self).name == "user-7")
            #expect(user.text == #"{"id":7,"name":"user-7"}"#)

            let invalid = try await client.get("/users/abc")
            #expect(invalid.status == .unprocessableContent)
            #expect(invalid.text.contains(#""type":"int_parsing","loc":["path","id"]"#))

            let created = try await client.execute(.post, "/users", json: User(id: 1, name: "ada"))
            #expect(created.status == .created)

            let report = try await client.get("/admin/report")
            #expect(report.text == "quarterly numbers")
            #expect(report.headers["content-disposition"] == #"attachment; filename="report.txt""#)
            #expect(report.headers["ratelimit-limit"] == "10")

            let file = try await client.get("/static/report.txt")
            #expect(file.headers["etag"] != nil)

            #expect(try await client.get("/maintenance").status == .serviceUnavailable)
        }
    }
}
