import Foundation
import NIOCore
import Testing

@testable import FasterAPI

/// Inputs placed in headers, file names and dates that must not change the message's meaning.
@Suite("Hardening")
struct HardeningTests {
    @Test func cookieValuesCannotAddAttributes() {
        let cookie = SetCookie(name: "theme", value: "x; Domain=evil.example; Path=/", path: "/a;b", domain: nil)
        let header = cookie.headerValue
        #expect(header.hasPrefix("theme=x%3B%20Domain=evil.example%3B%20Path=/;"))
        #expect(!header.contains("; Domain="))
        #expect(header.contains("Path=/ab"))
        #expect(SetCookie(name: "a b;c", value: "%").headerValue.hasPrefix("abc=%25;"))
    }

    @Test func downloadNamesAreEscapedAndKeptExactly() {
        #expect(FileResponse.contentDisposition("report.pdf") == #"attachment; filename="report.pdf""#)
        #expect(FileResponse.contentDisposition(#"a"b\c.txt"#) == #"attachment; filename="a\"b\\c.txt""#)
        #expect(
            FileResponse.contentDisposition("résumé.txt")
                == #"attachment; filename="r_sum_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"#)
    }

    @Test func httpDatesRoundTrip() throws {
        let date = Date(timeIntervalSince1970: 784_111_777)
        #expect(HTTPDate.format(date) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == date)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("Sun, 32 Nov 1994 08:49:37 GMT") == nil)
    }

    @Test(arguments: TestMode.allCases)
    func ifNoneMatchOnAnUnsafeMethodIs412(_ mode: TestMode) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hardening-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("f.txt")
        try "content".write(to: file, atomically: true, encoding: .utf8)
        let app = App()
        app.on(.get, "/f") { _ in FileResponse(path: file.path) }
        app.on(.put, "/f") { _ in FileResponse(path: file.path) }
        try await app.test(mode) { client throws in
            let etag = try #require(try await client.get("/f").headers["etag"])
            #expect(try await client.get("/f", headers: ["If-None-Match": etag]).status == .notModified)
            #expect(
                try await client.execute(.put, "/f", headers: ["If-None-Match": etag]).status == .preconditionFailed)
        }
    }

    @Test(arguments: TestMode.allCases)
    func malformedJSONIsNotEchoedBack(_ mode: TestMode) async throws {
        struct Item: Codable, Sendable { let name: String }
        let app = App()
        app.post("/items") { request in try await request.json(Item.self) }
        try await app.test(mode) { client throws in
            let secret = String(repeating: "s", count: 1000)
            let response = try await client.execute(.post, "/items", text: "{\"name\": \"\(secret)\",")
            #expect(response.status == .unprocessableContent)
            #expect(response.text.contains("json_invalid"))
            #expect(!response.text.contains(secret))
        }
    }
}
