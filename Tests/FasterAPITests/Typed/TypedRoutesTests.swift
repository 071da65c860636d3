import Foundation
import NIOCore
import Testing

@testable import FasterAPI

// Typed routes end to end: what `@Routes` handlers read from the path, query, headers, cookies,
// JSON and form bodies, how they convert and validate it (422 in FastAPI's shape), and how their
// results become responses. Each request goes through the in-process and the live client.

@Schema enum TRColor: String, Sendable, Encodable {
    case red, green, blue
}

@Schema struct TRSize: Sendable, Encodable {
    @Field(gt: 0) var width: Int
    @Field(gt: 0) var height: Int
}

/// A product with a nested model, a list, a defaulted and an optional field.
@Schema struct TRProduct: Sendable, Encodable {
    @Field(minLength: 1) var name: String
    @Field(ge: 0) var price: Double
    var size: TRSize
    var tags: [String] = []
    var note: String?
}

@Schema struct TROwner: Sendable, Encodable {
    var name: String
}

@Routes struct TRParametersAPI {
    @GET("/items/{item_id}")
    func item(itemID: Int, @Query(ge: 1, le: 100) limit: Int = 10, q: String? = nil, verbose: Bool = false)
        -> JSONValue
    {
        ["item_id": .int(itemID), "limit": .int(limit), "q": q.map { .string($0) } ?? .null, "verbose": .bool(verbose)]
    }

    @GET("/files/{name}/{rev}")
    func file(name: String, @Path(gt: 0) rev: Int, ratio: Double = 0.5) -> JSONValue {
        ["name": .string(name), "rev": .int(rev), "ratio": .double(ratio)]
    }

    @GET("/required")
    func required(name: String, @Query(minLength: 2) code: String, nickname: String? = nil) -> JSONValue {
        ["name": .string(name), "code": .string(code), "nickname": nickname.map { .string($0) } ?? .null]
    }

    @GET("/search")
    func search(
        tags: [String] = [], ids: [Int] = [], color: TRColor = .red, @Query("page-size") pageSize: Int = 20
    ) -> JSONValue {
        [
            "tags": .array(tags.map { .string($0) }), "ids": .array(ids.map { .int($0) }),
            "color": .string(color.rawValue), "page_size": .int(pageSize),
        ]
    }

    @GET("/headers")
    func headers(
        @Header userAgent: String, @Header xRequestCount: Int? = nil, @Header("X-Custom") custom: String = "none"
    ) -> JSONValue {
        [
            "user_agent": .string(userAgent), "count": xRequestCount.map { .int($0) } ?? .null,
            "custom": .string(custom),
        ]
    }

    @GET("/cookies")
    func cookies(@Cookie session: String, @Cookie theme: String = "light") -> JSONValue {
        ["session": .string(session), "theme": .string(theme)]
    }

    /// Declared header, query, path: problems are still reported path, query, header.
    @GET("/mixed/{id}")
    func mixed(@Header xToken: String, @Query limit: Int, id: Int) -> String { "\(id) \(limit) \(xToken)" }
}

@Routes struct TRBodyAPI {
    @POST("/products", status: .created)
    func create(@Body product: TRProduct) -> TRProduct { product }

    @PUT("/products/{id}")
    func replace(id: Int, @Body product: TRProduct, @Body owner: TROwner) -> JSONValue {
        ["id": .int(id), "name": .string(product.name), "owner": .string(owner.name)]
    }

    @POST("/owners")
    func embedded(@Body(embed: true) owner: TROwner) -> TROwner { owner }

    @POST("/maybe-owner")
    func maybeOwner(@Body owner: TROwner? = nil) -> String { owner?.name ?? "nobody" }
}

@Routes struct TRFormAPI {
    @POST("/login")
    func login(
        @Form username: String, @Form(minLength: 4) password: String, @Form remember: Bool = false,
        @Form roles: [String] = []
    ) -> JSONValue {
        [
            "username": .string(username), "password_length": .int(password.count), "remember": .bool(remember),
            "roles": .array(roles.map { .string($0) }),
        ]
    }

    @POST("/upload")
    func upload(@Form title: String, @File document: UploadedFile) -> JSONValue {
        [
            "title": .string(title), "field": .string(document.name), "filename": .string(document.filename),
            "content_type": document.contentType.map { .string($0) } ?? .null,
            "content": .string(String(buffer: document.data)),
        ]
    }

    @POST("/uploads")
    func uploads(files: [UploadedFile]) -> [String] {
        files.map { "\($0.filename)=\(String(buffer: $0.data))" }
    }

    @POST("/attachment")
    func attachment(@File attachment: UploadedFile? = nil) -> String { attachment?.filename ?? "none" }
}

/// A response that says how it is sent.
struct TRTeapot: ResponseConvertible {
    func response(for request: Request) -> Response {
        Response(
            status: HTTPStatus(code: 418, reasonPhrase: "I'm a teapot"),
            headers: HTTPHeaders([("X-Brew", "earl-grey"), ("Content-Type", "text/plain")]),
            body: ResponseBody(string: "short and stout"))
    }
}

@Routes struct TRResponsesAPI {
    @POST("/things", status: .created)
    func create() -> [String: Int] { ["id": 7] }

    @DELETE("/things/{id}", status: .noContent)
    func delete(id: Int) {}

    @POST("/void")
    func nothing() {}

    @GET("/text")
    func text() -> String { "plain words" }

    @POST("/text", status: .created)
    func createdText() -> String { "made" }

    @GET("/html")
    func html() -> HTML { HTML("<p>hi</p>") }

    @GET("/teapot")
    func teapot() -> TRTeapot { TRTeapot() }

    @POST("/accepted", status: .created)
    func accepted() -> JSON<[String: String]> { JSON(["queued": "yes"], status: .accepted) }

    @GET("/request/{id}")
    func request(id: Int, request: Request) -> JSONValue {
        [
            "id": .int(id), "method": .string(request.method.rawValue), "path": .string(request.path),
            "query": .string(request.queryString.map(String.init) ?? ""),
        ]
    }

    @GET("/missing/{id}")
    func missing(id: Int) async throws -> String {
        throw HTTPError(.notFound, detail: "Thing \(id) not found")
    }
}

/// The body as a `JSONValue`, for comparisons that include member order.
private func json(_ response: TestResponse) throws -> JSONValue {
    try JSONValue.parse(response.body)
}

/// `{"detail": issues}`.
private func detail(_ issues: JSONValue...) -> JSONValue { ["detail": .array(issues)] }

private let boundary = "TRbOuNdArY"

/// A `multipart/form-data` body: `(name, filename, content type, content)` per part.
private func multipart(_ parts: [(name: String, filename: String?, contentType: String?, content: String)])
    -> ByteBuffer
{
    var text = ""
    for part in parts {
        text += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(part.name)\""
        if let filename = part.filename { text += "; filename=\"\(filename)\"" }
        text += "\r\n"
        if let contentType = part.contentType { text += "Content-Type: \(contentType)\r\n" }
        text += "\r\n\(part.content)\r\n"
    }
    text += "--\(boundary)--\r\n"
    return ByteBuffer(string: text)
}

private let multipartHeaders: HTTPHeaders = ["Content-Type": "multipart/form-data; boundary=\(boundary)"]
private let formHeaders: HTTPHeaders = ["Content-Type": "application/x-www-form-urlencoded"]

@Suite("Typed routes")
struct TypedRoutesTests {
    private func app(_ collection: some RouteCollection) -> App {
        let app = App()
        app.include(collection)
        return app
    }

    // MARK: - Path and query

    @Test(arguments: TestMode.allCases)
    func pathAndQueryAreConverted(_ mode: TestMode) async throws {
        try await app(TRParametersAPI()).test(mode) { client throws in
            let response = try await client.get("/items/42?limit=5&q=red%20shoes&verbose=yes")
            #expect(response.status == .ok)
            #expect(try json(response) == ["item_id": 42, "limit": 5, "q": "red shoes", "verbose": true])

            let defaults = try await client.get("/items/7")
            #expect(try json(defaults) == ["item_id": 7, "limit": 10, "q": nil, "verbose": false])

            let file = try await client.get("/files/report%20v2.txt/3?ratio=0.25")
            #expect(try json(file) == ["name": "report v2.txt", "rev": 3, "ratio": 0.25])
        }
    }

    @Test(arguments: TestMode.allCases)
    func queryConstraintIs422WithFullShape(_ mode: TestMode) async throws {
        try await app(TRParametersAPI()).test(mode) { client throws in
            let response = try await client.get("/items/1?limit=0")
            #expect(response.status == .unprocessableContent)
            #expect(response.headers["content-type"] == "application/json")
            #expect(
                response.text
                    == #"{"detail":[{"type":"greater_than_equal","loc":["query","limit"],"msg":"Input should be greater than or equal to 1","input":"0","ctx":{"ge":1}}]}"#
            )

            let tooMany = try await client.get("/items/1?limit=101")
            #expect(
                try json(tooMany)
                    == detail([
                        "type": "less_than_equal", "loc": ["query", "limit"],
                        "msg": "Input should be less than or equal to 100", "input": "101", "ctx": ["le": 100],
                    ]))
        }
    }

    @Test(arguments: TestMode.allCases)
    func conversionFailuresAreReportedTogether(_ mode: TestMode) async throws {
        try await app(TRParametersAPI()).test(mode) { client throws in
            let response = try await client.get("/items/abc?limit=ten&verbose=maybe")
            #expect(response.status == .unprocessableContent)
            #expect(
                try json(response)
                    == detail(
                        [
                            "type": "int_parsing", "loc": ["path", "item_id"],
                            "msg": "Input should be a valid integer, unable to parse string as an integer",
                            "input": "abc",
                        ],
                        [
                            "type": "int_parsing", "loc": ["query", "limit"],
                            "msg": "Input should be a valid integer, unable to parse string as an integer",
                            "input": "ten",
                        ],
                        [
                            "type": "bool_parsing", "loc": ["query", "verbose"],
                            "msg": "Input should be a valid boolean, unable to interpret input", "input": "maybe",
                        ]))

            let path = try await client.get("/files/a/0?ratio=half")
            #expect(
                try json(path)
                    == detail(
                        [
                            "type": "greater_than", "loc": ["path", "rev"], "msg": "Input should be greater than 0",
                            "input": "0", "ctx": ["gt": 0],
                        ],
                        [
                            "type": "float_parsing", "loc": ["query", "ratio"],
                            "msg": "Input should be a valid number, unable to parse string as a number",
                            "input": "half",
                        ]))
        }
    }

    @Test(arguments: TestMode.allCases)
    func requiredOptionalAndDefaultedQueryParameters(_ mode: TestMode) async throws {
        try await app(TRParametersAPI()).test(mode) { client throws in
            let missing = try await client.get("/required")
            #expect(missing.status == .unprocessableContent)
            #expect(
                try json(missing)
                    == detail(
                        ["type": "missing", "loc": ["query", "name"], "msg": "Field required", "input": nil],
                        ["type": "missing", "loc": ["query", "code"], "msg": "Field required", "input": nil]))

            let short = try await client.get("/required?name=ann&code=x")
            #expect(
                try json(short)
                    == detail([
                        "type": "string_too_short", "loc": ["query", "code"],
                        "msg": "String should have at least 2 characters", "input": "x", "ctx": ["min_length": 2],
                    ]))

            let present = try await client.get("/required?name=ann&code=xy&nickname=a")
            #expect(try json(present) == ["name": "ann", "code": "xy", "nickname": "a"])
            let absentOptional = try await client.get("/required?name=ann&code=xy&unknown=1")
            #expect(try json(absentOptional) == ["name": "ann", "code": "xy", "nickname": nil])
        }
    }

    @Test(arguments: TestMode.allCases)
    func repeatedQueryKeysFillArrays(_ mode: TestMode) async throws {
        try await app(TRParametersAPI()).test(mode) { client throws in
            let response = try await client.get("/search?tags=a&ids=3&tags=b%20c&ids=1&page-size=5")
            #expect(try json(response) == ["tags": ["a", "b c"], "ids": [3, 1], "color": "red", "page_size": 5])

            let none = try await client.get("/search")
            #expect(try json(none) == ["tags": [], "ids": [], "color": "red", "page_size": 20])

            let bad = try await client.get("/search?ids=1&ids=x&ids=2&ids=y")
            #expect(
                try json(bad)
                    == detail(
                        [
                            "type": "int_parsing", "loc": ["query", "ids", 1],
                            "msg": "Input should be a valid integer, unable to parse string as an integer",
                            "input": "x",
                        ],
                        [
                            "type": "int_parsing", "loc": ["query", "ids", 3],
                            "msg": "Input should be a valid integer, unable to parse string as an integer",
                            "input": "y",
                        ]))
        }
    }

    @Test(arguments: TestMode.allCases)
    func enumQueryParameter(_ mode: TestMode) async throws {
        try await app(TRParametersAPI()).test(mode) { client throws in
            let blue = try await client.get("/search?color=blue")
            #expect(try json(blue) == ["tags": [], "ids": [], "color": "blue", "page_size": 20])
            let bad = try await client.get("/search?color=purple")
            #expect(bad.status == .unprocessableContent)
            #expect(
                try json(bad)
                    == detail([
                        "type": "enum", "loc": ["query", "color"], "msg": "Input should be 'red', 'green' or 'blue'",
                        "input": "purple", "ctx": ["expected": "'red', 'green' or 'blue'"],
                    ]))
        }
    }

    @Test(arguments: TestMode.allCases)
    func headerNamesAreHyphenated(_ mode: TestMode) async throws {
        try await app(TRParametersAPI()).test(mode) { client throws in
            let response = try await client.get(
                "/headers", headers: ["User-Agent": "tests/1.0", "X-Request-Count": "3", "x-custom": "yes"])
            #expect(try json(response) == ["user_agent": "tests/1.0", "count": 3, "custom": "yes"])

            let defaults = try await client.get("/headers", headers: ["user-agent": "tests/2.0"])
            #expect(try json(defaults) == ["user_agent": "tests/2.0", "count": nil, "custom": "none"])

            let bad = try await client.get("/headers", headers: ["X-Request-Count": "many"])
            #expect(
                try json(bad)
                    == detail(
                        ["type": "missing", "loc": ["header", "user-agent"], "msg": "Field required", "input": nil],
                        [
                            "type": "int_parsing", "loc": ["header", "x-request-count"],
                            "msg": "Input should be a valid integer, unable to parse string as an integer",
                            "input": "many",
                        ]))
        }
    }

    @Test(arguments: TestMode.allCases)
    func cookiesAreRead(_ mode: TestMode) async throws {
        try await app(TRParametersAPI()).test(mode) { client throws in
            let response = try await client.get("/cookies", headers: ["Cookie": "session=abc123; theme=dark"])
            #expect(try json(response) == ["session": "abc123", "theme": "dark"])

            let defaulted = try await client.get("/cookies", headers: ["Cookie": "session=xyz"])
            #expect(try json(defaulted) == ["session": "xyz", "theme": "light"])

            let missing = try await client.get("/cookies", headers: ["Cookie": "other=1"])
            #expect(
                try json(missing)
                    == detail(["type": "missing", "loc": ["cookie", "session"], "msg": "Field required", "input": nil])
            )
        }
    }

    @Test(arguments: TestMode.allCases)
    func problemsAreReportedPathQueryHeaderWhateverTheDeclarationOrder(_ mode: TestMode) async throws {
        try await app(TRParametersAPI()).test(mode) { client throws in
            let response = try await client.get("/mixed/x")
            #expect(
                try json(response)
                    == detail(
                        [
                            "type": "int_parsing", "loc": ["path", "id"],
                            "msg": "Input should be a valid integer, unable to parse string as an integer",
                            "input": "x",
                        ],
                        ["type": "missing", "loc": ["query", "limit"], "msg": "Field required", "input": nil],
                        ["type": "missing", "loc": ["header", "x-token"], "msg": "Field required", "input": nil]))
            let fine = try await client.get("/mixed/1?limit=2", headers: ["X-Token": "t"])
            #expect(fine.text == "1 2 t")
        }
    }

    // MARK: - JSON bodies

    @Test(arguments: TestMode.allCases)
    func jsonBodyIsDecodedIntoTheModel(_ mode: TestMode) async throws {
        try await app(TRBodyAPI()).test(mode) { client throws in
            let body: JSONValue = ["name": "Lamp", "price": "12.5", "size": ["width": 3, "height": 4.0]]
            let response = try await client.execute(.post, "/products", json: body)
            #expect(response.status == .created)
            #expect(
                try json(response)
                    == ["name": "Lamp", "price": 12.5, "size": ["width": 3, "height": 4], "tags": [], "note": nil],
                "\(response.text)")
        }
    }

    @Test(arguments: TestMode.allCases)
    func nestedModelErrorsCarryTheFullLocation(_ mode: TestMode) async throws {
        try await app(TRBodyAPI()).test(mode) { client throws in
            let body: JSONValue = ["name": "", "price": -1, "size": ["width": 0], "tags": "x", "note": 5]
            let response = try await client.execute(.post, "/products", json: body)
            #expect(response.status == .unprocessableContent)
            #expect(
                try json(response)
                    == detail(
                        [
                            "type": "string_too_short", "loc": ["body", "name"],
                            "msg": "String should have at least 1 character", "input": "", "ctx": ["min_length": 1],
                        ],
                        [
                            "type": "greater_than_equal", "loc": ["body", "price"],
                            "msg": "Input should be greater than or equal to 0", "input": -1, "ctx": ["ge": 0],
                        ],
                        [
                            "type": "greater_than", "loc": ["body", "size", "width"],
                            "msg": "Input should be greater than 0", "input": 0, "ctx": ["gt": 0],
                        ],
                        [
                            "type": "missing", "loc": ["body", "size", "height"], "msg": "Field required",
                            "input": ["width": 0],
                        ],
                        [
                            "type": "list_type", "loc": ["body", "tags"], "msg": "Input should be a valid array",
                            "input": "x",
                        ],
                        [
                            "type": "string_type", "loc": ["body", "note"], "msg": "Input should be a valid string",
                            "input": 5,
                        ]))
        }
    }

    @Test(arguments: TestMode.allCases)
    func missingMalformedAndNonObjectBodies(_ mode: TestMode) async throws {
        try await app(TRBodyAPI()).test(mode) { client throws in
            let missing = try await client.execute(.post, "/products")
            #expect(
                try json(missing)
                    == detail(["type": "missing", "loc": ["body"], "msg": "Field required", "input": nil]))

            let array = try await client.execute(.post, "/products", json: [1, 2] as [Int])
            #expect(
                try json(array)
                    == detail([
                        "type": "model_attributes_type", "loc": ["body"],
                        "msg": "Input should be a valid dictionary or object to extract fields from",
                        "input": [1, 2],
                    ]))

            let malformed = try await client.execute(
                .post, "/products", text: #"{"name": }"#, headers: ["Content-Type": "application/json"])
            #expect(malformed.status == .unprocessableContent)
            guard case .object(let object) = try json(malformed), case .array(let issues) = object["detail"],
                issues.count == 1, case .object(let issue) = issues[0], case .array(let loc) = issue["loc"]
            else {
                Issue.record("unexpected body: \(malformed.text)")
                return
            }
            #expect(issue["type"] == "json_invalid")
            #expect(issue["msg"] == "JSON decode error")
            #expect(loc.first == "body")
            #expect(loc.count == 2)
        }
    }

    @Test(arguments: TestMode.allCases)
    func severalBodyParametersAreEmbeddedByName(_ mode: TestMode) async throws {
        try await app(TRBodyAPI()).test(mode) { client throws in
            let product: JSONValue = ["name": "Desk", "price": 100, "size": ["width": 1, "height": 2]]
            let response = try await client.execute(
                .put, "/products/9", json: ["product": product, "owner": ["name": "ann"]] as JSONValue)
            #expect(response.status == .ok)
            #expect(try json(response) == ["id": 9, "name": "Desk", "owner": "ann"])

            let broken: JSONValue = [
                "product": ["name": "Desk", "price": 1, "size": ["width": 1, "height": "tall"]], "owner": [:],
            ]
            let bad = try await client.execute(.put, "/products/9", json: broken)
            #expect(
                try json(bad)
                    == detail(
                        [
                            "type": "int_parsing", "loc": ["body", "product", "size", "height"],
                            "msg": "Input should be a valid integer, unable to parse string as an integer",
                            "input": "tall",
                        ],
                        ["type": "missing", "loc": ["body", "owner", "name"], "msg": "Field required", "input": [:]]))

            let onlyOne = try await client.execute(.put, "/products/9", json: ["product": product] as JSONValue)
            #expect(
                try json(onlyOne)
                    == detail(["type": "missing", "loc": ["body", "owner"], "msg": "Field required", "input": nil]))
        }
    }

    @Test(arguments: TestMode.allCases)
    func explicitlyEmbeddedAndOptionalBodies(_ mode: TestMode) async throws {
        try await app(TRBodyAPI()).test(mode) { client throws in
            let embedded = try await client.execute(.post, "/owners", json: ["owner": ["name": "bo"]] as JSONValue)
            #expect(try json(embedded) == ["name": "bo"])
            let bare = try await client.execute(.post, "/owners", json: ["name": "bo"] as JSONValue)
            #expect(
                try json(bare)
                    == detail(["type": "missing", "loc": ["body", "owner"], "msg": "Field required", "input": nil]))

            #expect(try await client.execute(.post, "/maybe-owner").text == "nobody")
            #expect(
                try await client.execute(.post, "/maybe-owner", json: ["name": "cy"] as JSONValue).text == "cy")
        }
    }

    // MARK: - Forms and files

    @Test(arguments: TestMode.allCases)
    func urlEncodedFormFields(_ mode: TestMode) async throws {
        try await app(TRFormAPI()).test(mode) { client throws in
            let response = try await client.execute(
                .post, "/login", text: "username=alice&password=s3cret%21&remember=on&roles=a&roles=b",
                headers: formHeaders)
            #expect(response.status == .ok)
            #expect(
                try json(response)
                    == ["username": "alice", "password_length": 7, "remember": true, "roles": ["a", "b"]])

            let bad = try await client.execute(
                .post, "/login", text: "password=abc&remember=perhaps", headers: formHeaders)
            #expect(
                try json(bad)
                    == detail(
                        ["type": "missing", "loc": ["body", "username"], "msg": "Field required", "input": nil],
                        [
                            "type": "string_too_short", "loc": ["body", "password"],
                            "msg": "String should have at least 4 characters", "input": "abc",
                            "ctx": ["min_length": 4],
                        ],
                        [
                            "type": "bool_parsing", "loc": ["body", "remember"],
                            "msg": "Input should be a valid boolean, unable to interpret input", "input": "perhaps",
                        ]))
        }
    }

    @Test(arguments: TestMode.allCases)
    func multipartFormFieldsAndFile(_ mode: TestMode) async throws {
        try await app(TRFormAPI()).test(mode) { client throws in
            let login = try await client.execute(
                .post, "/login", headers: multipartHeaders,
                body: multipart([
                    ("username", nil, nil, "bob"), ("password", nil, nil, "hunter22"), ("roles", nil, nil, "x"),
                ]))
            #expect(try json(login) == ["username": "bob", "password_length": 8, "remember": false, "roles": ["x"]])

            let upload = try await client.execute(
                .post, "/upload", headers: multipartHeaders,
                body: multipart([
                    ("title", nil, nil, "Notes"), ("document", "notes.txt", "text/plain", "line one\r\nline two"),
                ]))
            #expect(upload.status == .ok)
            #expect(
                try json(upload)
                    == [
                        "title": "Notes", "field": "document", "filename": "notes.txt", "content_type": "text/plain",
                        "content": "line one\r\nline two",
                    ])

            let noFile = try await client.execute(
                .post, "/upload", headers: multipartHeaders, body: multipart([("title", nil, nil, "Notes")]))
            #expect(
                try json(noFile)
                    == detail(["type": "missing", "loc": ["body", "document"], "msg": "Field required", "input": nil]))
        }
    }

    @Test(arguments: TestMode.allCases)
    func severalAndOptionalFiles(_ mode: TestMode) async throws {
        try await app(TRFormAPI()).test(mode) { client throws in
            let response = try await client.execute(
                .post, "/uploads", headers: multipartHeaders,
                body: multipart([
                    ("files", "a.txt", nil, "A"), ("other", "skip.txt", nil, "S"),
                    ("files", "b.bin", "application/octet-stream", "BB"),
                ]))
            #expect(try json(response) == ["a.txt=A", "b.bin=BB"])

            let none = try await client.execute(
                .post, "/uploads", headers: multipartHeaders, body: multipart([("other", "skip.txt", nil, "S")]))
            #expect(
                try json(none)
                    == detail(["type": "missing", "loc": ["body", "files"], "msg": "Field required", "input": nil]))

            let withAttachment = try await client.execute(
                .post, "/attachment", headers: multipartHeaders,
                body: multipart([("attachment", "c.png", "image/png", "PNG")]))
            #expect(withAttachment.text == "c.png")
            let without = try await client.execute(
                .post, "/attachment", headers: multipartHeaders, body: multipart([("note", nil, nil, "n")]))
            #expect(without.text == "none")
        }
    }

    // MARK: - Responses

    @Test(arguments: TestMode.allCases)
    func statusFromTheRouteAttribute(_ mode: TestMode) async throws {
        try await app(TRResponsesAPI()).test(mode) { client throws in
            let created = try await client.execute(.post, "/things")
            #expect(created.status == .created)
            #expect(created.text == #"{"id":7}"#)

            let deleted = try await client.execute(.delete, "/things/7")
            #expect(deleted.status == .noContent)
            #expect(deleted.body.readableBytes == 0)

            let void = try await client.execute(.post, "/void")
            #expect(void.status == .ok)
            #expect(void.text == "null")
            #expect(void.headers["content-type"] == "application/json")
        }
    }

    @Test(arguments: TestMode.allCases)
    func stringAndResponseConvertibleResults(_ mode: TestMode) async throws {
        try await app(TRResponsesAPI()).test(mode) { client throws in
            let text = try await client.get("/text")
            #expect(text.status == .ok)
            #expect(text.text == "plain words")
            #expect(text.headers["content-type"]?.hasPrefix("text/plain") == true)

            let createdText = try await client.execute(.post, "/text")
            #expect(createdText.status == .created)
            #expect(createdText.text == "made")

            let html = try await client.get("/html")
            #expect(html.headers["content-type"] == "text/html; charset=utf-8")
            #expect(html.text == "<p>hi</p>")

            let teapot = try await client.get("/teapot")
            #expect(teapot.status.code == 418)
            #expect(teapot.headers["x-brew"] == "earl-grey")
            #expect(teapot.text == "short and stout")

            // A status the value chose itself is kept; the route's replaces only a plain 200.
            let accepted = try await client.execute(.post, "/accepted")
            #expect(accepted.status == .accepted)
            #expect(accepted.text == #"{"queued":"yes"}"#)

            let head = try await client.execute(.head, "/text")
            #expect(head.status == .ok)
            #expect(head.body.readableBytes == 0)
        }
    }

    @Test func stringResultIsDocumentedAsPlainText() {
        let route = app(TRResponsesAPI()).routes.first { $0.path == "/text" && $0.method == .get }
        #expect(route?.operation?.response.mediaType == "text/plain")
    }

    @Test(arguments: TestMode.allCases)
    func requestParameterAndThrownErrors(_ mode: TestMode) async throws {
        try await app(TRResponsesAPI()).test(mode) { client throws in
            let response = try await client.get("/request/5?x=1&y=2")
            #expect(try json(response) == ["id": 5, "method": "GET", "path": "/request/5", "query": "x=1&y=2"])

            let missing = try await client.get("/missing/3")
            #expect(missing.status == .notFound)
            #expect(missing.text == #"{"detail":"Thing 3 not found"}"#)
        }
    }

    @Test(arguments: TestMode.allCases)
    func includeAddsPrefixAndTags(_ mode: TestMode) async throws {
        let app = App()
        app.include(TRResponsesAPI(), prefix: "/v1/", tags: ["things"])
        let route = app.routes.first { $0.path == "/v1/things" && $0.method == .post }
        #expect(route?.tags == ["things"])
        #expect(route?.operation?.operationID == "create")
        try await app.test(mode) { client throws in
            #expect(try await client.execute(.post, "/v1/things").status == .created)
            #expect(try await client.execute(.post, "/things").status == .notFound)
            #expect(try await client.get("/v1/text").text == "plain words")
        }
    }
}
