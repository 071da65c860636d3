import Foundation
import NIOCore
import Testing

@testable import FasterAPI

private typealias Support = FrameworkTestSupport

/// The request API handlers see: method, path, query, headers, cookies, client and bodies.
@Suite("Request")
struct RequestTests {
    private struct Echo: Codable, Sendable {
        let method: String
        let path: String
        let rawPath: String
        let queryString: String?
        let a: [String]
        let first: String?
        let b: String?
        let c: String?
        let absent: String?
        let pairCount: Int
    }

    @Test(arguments: TestMode.allCases)
    func methodPathAndQueryWithRepeatedKeys(_ mode: TestMode) async throws {
        let app = App()
        let handler: @Sendable (Request) async throws -> Echo = { request in
            let query = request.query
            return Echo(
                method: request.method.rawValue, path: request.path, rawPath: String(request.rawPath),
                queryString: request.queryString.map(String.init),
                a: query.values(for: "a"), first: query["a"], b: query["b"], c: query["c"], absent: query["absent"],
                pairCount: Array(query).count)
        }
        app.get("/echo/{name}", handler)
        app.post("/echo/{name}", handler)
        try await app.test(mode) { client throws in
            let echo = try await client.get("/echo/x%20y?a=1&b=%C3%A9t%C3%A9&a=2&c=x+y&a=3").json(Echo.self)
            #expect(echo.method == "GET")
            #expect(echo.path == "/echo/x y")
            #expect(echo.rawPath == "/echo/x%20y")
            #expect(echo.queryString == "a=1&b=%C3%A9t%C3%A9&a=2&c=x+y&a=3")
            #expect(echo.a == ["1", "2", "3"])
            #expect(echo.first == "1")
            #expect(echo.b == "été")
            #expect(echo.c == "x y")
            #expect(echo.absent == nil)
            #expect(echo.pairCount == 5)

            let post = try await client.execute(.post, "/echo/z", text: "").json(Echo.self)
            #expect(post.method == "POST")
            #expect(post.path == "/echo/z")
            #expect(post.queryString == nil)
            #expect(post.a == [])
            #expect(post.pairCount == 0)
        }
    }

    @Test(arguments: TestMode.allCases)
    func typedQueryValues(_ mode: TestMode) async throws {
        let app = App()
        app.get("/items") { request in
            let limit = try request.query.get("limit", as: Int.self) ?? 100
            let ratio = try request.query.get("ratio", as: Double.self) ?? 0.5
            let flag = try request.query.get("flag", as: Bool.self) ?? false
            return "\(limit) \(ratio) \(flag)"
        }
        try await app.test(mode) { client throws in
            #expect(try await client.get("/items").text == "100 0.5 false")
            #expect(try await client.get("/items?limit=7&ratio=2.5&flag=true").text == "7 2.5 true")
        }
    }

    @Test(arguments: TestMode.allCases)
    func badIntegerQueryIs422InFastAPIShape(_ mode: TestMode) async throws {
        let app = App()
        app.get("/items") { request in "\(try request.query.get("limit", as: Int.self) ?? 100)" }
        try await app.test(mode) { client throws in
            let response = try await client.get("/items?limit=x")
            #expect(response.status == .unprocessableContent)
            #expect(response.headers["content-type"] == "application/json")
            #expect(
                response.text
                    == #"{"detail":[{"type":"int_parsing","loc":["query","limit"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"}]}"#
            )
            let body = try response.json(Support.ValidationBody.self)
            #expect(body.detail.count == 1)
            #expect(body.detail[0].type == "int_parsing")
            #expect(body.detail[0].loc == ["query", "limit"])
            #expect(body.detail[0].input == "x")
        }
    }

    @Test(arguments: TestMode.allCases)
    func badFloatAndBoolQueryAre422(_ mode: TestMode) async throws {
        let app = App()
        app.get("/f") { request in "\(try request.query.get("v", as: Double.self) ?? 0)" }
        app.get("/b") { request in "\(try request.query.get("v", as: Bool.self) ?? false)" }
        try await app.test(mode) { client throws in
            let float = try await client.get("/f?v=abc").json(Support.ValidationBody.self)
            #expect(float.detail.first?.type == "float_parsing")
            #expect(float.detail.first?.loc == ["query", "v"])
            let bool = try await client.get("/b?v=maybe").json(Support.ValidationBody.self)
            #expect(bool.detail.first?.type == "bool_parsing")
            #expect(bool.detail.first?.input == "maybe")
        }
    }

    @Test(arguments: TestMode.allCases)
    func queryWithAMalformedEscapeKeepsTheOtherParameters(_ mode: TestMode) async throws {
        let app = App()
        app.get("/search") { request in
            "q=\(request.query["q"] ?? "nil") page=\(request.query["page"] ?? "nil")"
        }
        try await app.test(mode) { client throws in
            // Starlette (parse_qsl) keeps a stray '%' literally and every other parameter.
            let response = try await client.get("/search?page=2&q=100%")
            #expect(response.text == "q=100% page=2")
            let other = try await client.get("/search?q=%zz&page=3")
            #expect(other.text.hasSuffix("page=3"))
        }
    }

    @Test(arguments: TestMode.allCases)
    func boolQueryAcceptsPydanticSpellings(_ mode: TestMode) async throws {
        let app = App()
        app.get("/flag") { request in "\(try request.query.get("v", as: Bool.self).map(String.init) ?? "nil")" }
        try await app.test(mode) { client throws in
            #expect(try await client.get("/flag?v=true").text == "true")
            #expect(try await client.get("/flag?v=false").text == "false")
            // FastAPI (Pydantic v2) accepts these for a `bool` query parameter.
            for spelling in ["1", "True", "TRUE", "yes", "on", "y", "t"] {
                #expect(try await client.get("/flag?v=\(spelling)").text == "true", "\(spelling)")
            }
            for spelling in ["0", "False", "no", "off", "n", "f"] {
                #expect(try await client.get("/flag?v=\(spelling)").text == "false", "\(spelling)")
            }
            #expect(try await client.get("/flag?v=maybe").status == .unprocessableContent)
        }
    }

    @Test(arguments: TestMode.allCases)
    func headersAreCaseInsensitiveAndKeepRepeats(_ mode: TestMode) async throws {
        let app = App()
        app.get("/h") { request in
            let accept = request.headers.values(for: "accept").joined(separator: "|")
            return
                "\(request.headers["x-custom"] ?? "-") \(request.headers["X-CUSTOM"] ?? "-") \(accept) \(request.headers["host"] ?? "-")"
        }
        try await app.test(mode) { client throws in
            let headers = HTTPHeaders([
                ("X-Custom", "value 1"), ("Accept", "text/html"), ("Accept", "application/json"),
            ])
            #expect(
                try await client.get("/h", headers: headers).text
                    == "value 1 value 1 text/html|application/json testserver")
        }
    }

    @Test(arguments: TestMode.allCases)
    func cookiesAreParsed(_ mode: TestMode) async throws {
        let app = App()
        app.get("/c") { request in
            request.cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        }
        try await app.test(mode) { client throws in
            let one = HTTPHeaders([("Cookie", #"session=abc123; theme="dark mode"; empty=; lang=en"#)])
            #expect(try await client.get("/c", headers: one).text == "empty=&lang=en&session=abc123&theme=dark mode")
            // Several Cookie fields are combined; the first value of a repeated name wins.
            let several = HTTPHeaders([("Cookie", "a=1; b=2"), ("Cookie", "c=3; a=9")])
            #expect(try await client.get("/c", headers: several).text == "a=1&b=2&c=3")
            #expect(try await client.get("/c").text == "")
        }
    }

    @Test(arguments: TestMode.allCases)
    func clientAddressIsPresent(_ mode: TestMode) async throws {
        let app = App()
        app.get("/who") { request in
            "\(request.clientAddress?.ipAddress ?? "none") \((request.clientAddress?.port ?? 0) > 0)"
        }
        try await app.test(mode) { client throws in
            #expect(try await client.get("/who").text == "127.0.0.1 true")
        }
    }

    private struct NewUser: Codable, Sendable, Equatable {
        let name: String
        let age: Int
        let tags: [String]?
    }

    private static func jsonApp() -> App {
        let app = App()
        app.post("/users") { request in JSON(try await request.json(NewUser.self), status: .created) }
        return app
    }

    @Test(arguments: TestMode.allCases)
    func jsonBodyDecodes(_ mode: TestMode) async throws {
        try await Self.jsonApp().test(mode) { client throws in
            let response = try await client.execute(.post, "/users", json: NewUser(name: "Ann", age: 41, tags: ["a"]))
            #expect(response.status == .created)
            #expect(try response.json(NewUser.self) == NewUser(name: "Ann", age: 41, tags: ["a"]))
            #expect(response.text == #"{"name":"Ann","age":41,"tags":["a"]}"#)
        }
    }

    @Test(arguments: TestMode.allCases)
    func invalidJSONIs422JSONInvalid(_ mode: TestMode) async throws {
        try await Self.jsonApp().test(mode) { client throws in
            let response = try await client.execute(
                .post, "/users", headers: HTTPHeaders([("Content-Type", "application/json")]),
                body: ByteBuffer(string: #"{"name": "Ann", "age": "#))
            #expect(response.status == .unprocessableContent)
            let body = try response.json(Support.ValidationBody.self)
            #expect(body.detail.count == 1)
            #expect(body.detail.first?.type == "json_invalid")
            #expect(body.detail.first?.loc.first == "body")
        }
    }

    @Test(arguments: TestMode.allCases)
    func missingFieldIs422Missing(_ mode: TestMode) async throws {
        try await Self.jsonApp().test(mode) { client throws in
            let response = try await client.execute(.post, "/users", text: #"{"age": 3}"#)
            #expect(response.status == .unprocessableContent)
            let body = try response.json(Support.ValidationBody.self)
            #expect(body.detail.count == 1)
            #expect(body.detail.first?.type == "missing")
            #expect(body.detail.first?.loc == ["body", "name"])
            #expect(body.detail.first?.msg == "Field required")
        }
    }

    @Test(arguments: TestMode.allCases)
    func emptyBodyIs422Missing(_ mode: TestMode) async throws {
        try await Self.jsonApp().test(mode) { client throws in
            let response = try await client.execute(
                .post, "/users", headers: HTTPHeaders([("Content-Type", "application/json")]), body: ByteBuffer())
            #expect(response.status == .unprocessableContent)
            let body = try response.json(Support.ValidationBody.self)
            // FastAPI: {"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}
            #expect(body.detail.first?.type == "missing")
            #expect(body.detail.first?.loc == ["body"])
        }
    }

    @Test(arguments: TestMode.allCases)
    func wrongTypeIs422WithItsLocation(_ mode: TestMode) async throws {
        try await Self.jsonApp().test(mode) { client throws in
            let age = try await client.execute(.post, "/users", text: #"{"name": "Ann", "age": "old"}"#)
            #expect(age.status == .unprocessableContent)
            let ageBody = try age.json(Support.ValidationBody.self)
            #expect(ageBody.detail.first?.type == "int_parsing")
            #expect(ageBody.detail.first?.loc == ["body", "age"])

            let name = try await client.execute(.post, "/users", text: #"{"name": 5, "age": 1}"#)
            let nameBody = try name.json(Support.ValidationBody.self)
            #expect(nameBody.detail.first?.type == "string_type")
            #expect(nameBody.detail.first?.loc == ["body", "name"])

            let tag = try await client.execute(.post, "/users", text: #"{"name": "a", "age": 1, "tags": ["x", 2]}"#)
            let tagBody = try tag.json(Support.ValidationBody.self)
            #expect(tagBody.detail.first?.type == "string_type")
            #expect(tagBody.detail.first?.loc == ["body", "tags", 1])

            let notObject = try await client.execute(.post, "/users", text: #"[1, 2]"#)
            #expect(notObject.status == .unprocessableContent)
            #expect(try notObject.json(Support.ValidationBody.self).detail.first?.loc.first == "body")
        }
    }

    @Test(arguments: TestMode.allCases)
    func bodyOverTheConfiguredLimitIs413(_ mode: TestMode) async throws {
        let app = App()
        app.configuration.maxBodyBytes = 16
        app.post("/json") { request in try await request.json([String: String].self) }
        app.post("/form") { request in "\(Array(try await request.form()).count)" }
        app.post("/explicit") { request in "\(try await request.body.collect(upTo: 4).readableBytes)" }
        try await app.test(mode) { client throws in
            let small = try await client.execute(.post, "/json", text: #"{"a":"b"}"#)
            #expect(small.status == .ok)
            #expect(small.text == #"{"a":"b"}"#)
            #expect(try await client.execute(.post, "/form", text: "a=1&b=2").text == "2")

            let big = try await client.execute(.post, "/json", text: #"{"a":"\#(String(repeating: "x", count: 100))"}"#)
            #expect(big.status == .contentTooLarge)
            #expect(big.headers["content-type"] == "application/json")
            #expect(try big.json(Support.DetailBody.self).detail.contains("16"))

            let bigForm = try await client.execute(.post, "/form", text: "a=" + String(repeating: "y", count: 40))
            #expect(bigForm.status == .contentTooLarge)
        }
    }

    @Test(arguments: TestMode.allCases)
    func urlEncodedForm(_ mode: TestMode) async throws {
        let app = App()
        app.post("/form") { request in
            let form = try await request.form()
            return [
                "name": form["name"] ?? "-", "tags": form.values(for: "tag").joined(separator: ","),
                "math": form["math"] ?? "-", "flag": form["flag"] ?? "-",
            ]
        }
        try await app.test(mode) { client throws in
            let response = try await client.execute(
                .post, "/form", headers: HTTPHeaders([("Content-Type", "application/x-www-form-urlencoded")]),
                body: ByteBuffer(string: "name=J%C3%BCrgen+M&tag=a&tag=b&math=1%2B1%3D2&flag"))
            #expect(response.status == .ok)
            let form = try response.json([String: String].self)
            #expect(form == ["name": "Jürgen M", "tags": "a,b", "math": "1+1=2", "flag": ""])

            let bad = try await client.execute(.post, "/form", text: "a=%zz")
            #expect(bad.status == .badRequest)
        }
    }

    private struct UploadSummary: Codable, Sendable, Equatable {
        var fields: [String: String]
        var fileName: String?
        var fileField: String?
        var fileType: String?
        var fileSize: Int
        var fileHash: UInt64
        var firstBytes: [UInt8]
        var lastBytes: [UInt8]
    }

    /// FNV-1a, order-sensitive, so reordered or dropped chunks show.
    private static func fnv1a(_ bytes: some Sequence<UInt8>, into hash: inout UInt64) {
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
    }

    @Test(arguments: TestMode.allCases)
    func multipartTextFieldAndStreamedBinaryFile(_ mode: TestMode) async throws {
        let app = App()
        app.post("/upload") { request in
            var summary = UploadSummary(
                fields: [:], fileSize: 0, fileHash: 0xcbf2_9ce4_8422_2325, firstBytes: [], lastBytes: [])
            for try await part in try request.multipart() {
                if let filename = part.filename {
                    summary.fileName = filename
                    summary.fileField = part.name
                    summary.fileType = part.contentType
                    for try await chunk in part {
                        let bytes = Array(chunk.readableBytesView)
                        if summary.firstBytes.count < 8 {
                            summary.firstBytes += bytes.prefix(8 - summary.firstBytes.count)
                        }
                        summary.lastBytes = Array((summary.lastBytes + bytes).suffix(8))
                        summary.fileSize += bytes.count
                        Self.fnv1a(bytes, into: &summary.fileHash)
                    }
                } else {
                    summary.fields[part.name ?? ""] = try await part.text(upTo: 1024)
                }
            }
            return summary
        }

        // Every byte value, including CR, LF and '-', in a file bigger than one socket read.
        let file: [UInt8] = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        let boundary = "fwtest-boundary-8d1e"
        var body = ByteBuffer()
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello wörld\r\n")
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n\r\n")
        body.writeString(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"blob.bin\"\r\n"
                + "Content-Type: application/octet-stream\r\n\r\n")
        body.writeBytes(file)
        body.writeString("\r\n--\(boundary)--\r\n")

        var expectedHash: UInt64 = 0xcbf2_9ce4_8422_2325
        Self.fnv1a(file, into: &expectedHash)

        try await app.test(mode) { client throws in
            let response = try await client.execute(
                .post, "/upload", headers: HTTPHeaders([("Content-Type", "multipart/form-data; boundary=\(boundary)")]),
                body: body)
            #expect(response.status == .ok)
            let summary = try response.json(UploadSummary.self)
            #expect(summary.fields == ["title": "Hello wörld", "note": ""])
            #expect(summary.fileName == "blob.bin")
            #expect(summary.fileField == "upload")
            #expect(summary.fileType == "application/octet-stream")
            #expect(summary.fileSize == file.count)
            #expect(summary.fileHash == expectedHash)
            #expect(summary.firstBytes == Array(file.prefix(8)))
            #expect(summary.lastBytes == Array(file.suffix(8)))
        }
    }

    @Test(arguments: TestMode.allCases)
    func multipartErrors(_ mode: TestMode) async throws {
        let app = App()
        app.post("/upload") { request in
            var count = 0
            for try await _ in try request.multipart() { count += 1 }
            return "\(count)"
        }
        try await app.test(mode) { client throws in
            let notMultipart = try await client.execute(.post, "/upload", json: ["a": 1])
            #expect(notMultipart.status == .unsupportedMediaType)
            let truncated = try await client.execute(
                .post, "/upload", headers: HTTPHeaders([("Content-Type", "multipart/form-data; boundary=xyz")]),
                body: ByteBuffer(string: "--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nnever ends"))
            #expect(truncated.status == .badRequest)
        }
    }
}
