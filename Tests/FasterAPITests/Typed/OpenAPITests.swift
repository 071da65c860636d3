import Foundation
import PeerSupport
import Logging
import Testing

@testable import FasterAPI

// MARK: - A secured API exercising what the OpenAPI document describes beyond the differential API

/// The shop's OAuth2 password flow.
enum ShopAuth: OAuth2PasswordFlow {
    static let tokenURL = "/token"
    static let scopes = [
        "items:read": "Read items", "items:write": "Change items", "profile": "Read your profile",
    ]
}

/// The shop's accounts: password and the scopes each may be granted.
enum ShopAccounts {
    static let accounts: [String: (password: String, scopes: [String])] = [
        "alice": ("wonderland", ["items:read", "items:write", "profile"]),
        "bob": ("builder", ["profile"]),
    ]

    /// An opaque token naming the user and the granted scopes (a real service signs a JWT).
    static func token(user: String, scopes: [String]) -> String { "\(user);\(scopes.joined(separator: ","))" }
}

enum ShopHeaderKey: APIKeyScheme {
    static let name = "X-API-Key"
    static let location = APIKeyLocation.header
}

enum ShopQueryKey: APIKeyScheme {
    static let name = "api_key"
    static let location = APIKeyLocation.query
}

enum ShopCookieKey: APIKeyScheme {
    static let name = "shop_session"
    static let location = APIKeyLocation.cookie
}

/// The user an OAuth2 bearer token belongs to; checks the scopes the operation requires.
struct ShopUser: Dependency {
    var name: String
    var scopes: [String]

    @Resolver static func resolve(
        @Security(scopes: ["profile"]) token: OAuth2Token<ShopAuth>, required: SecurityScopes
    ) throws -> ShopUser {
        let parts = token.token.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, ShopAccounts.accounts[String(parts[0])] != nil else {
            throw HTTPError(
                .unauthorized, detail: "Could not validate credentials",
                headers: HTTPHeaders([("WWW-Authenticate", "Bearer")]))
        }
        let granted = parts[1].split(separator: ",").map(String.init)
        try required.require(granted: granted)
        return ShopUser(name: String(parts[0]), scopes: granted)
    }
}

/// An item of the shop.
@Schema struct ShopItem: Codable, Sendable, Equatable {
    /// The item's number.
    @Field(ge: 1) var id: Int
    @Field(minLength: 1, maxLength: 40) var name: String
    @Field(gt: 0) var price: Double
    var tags: [String] = []
}

/// The token endpoint's answer, as OAuth2 defines it.
@Schema struct ShopToken: Codable, Sendable {
    var access_token: String
    var token_type: String
}

@Routes struct SecuredAPI {
    /// Get an access token.
    ///
    /// The OAuth2 password flow's token endpoint: without scopes, every scope the user may have.
    @POST("/token", tags: ["auth"])
    func token(@Depends form: OAuth2PasswordRequest) throws -> ShopToken {
        guard let account = ShopAccounts.accounts[form.username], constantTimeEquals(account.password, form.password)
        else { throw HTTPError(.badRequest, detail: "Incorrect username or password") }
        let scopes = form.scopes.isEmpty ? account.scopes : form.scopes.filter(account.scopes.contains)
        return ShopToken(
            access_token: ShopAccounts.token(user: form.username, scopes: scopes), token_type: "bearer")
    }

    /// Read one item.
    ///
    /// Looks the item up by its number.
    /// Items above 100 do not exist.
    ///
    /// - Parameter q: Text echoed back as the item's tag.
    @GET("/items/{item_id}", tags: ["items"], responses: [404: ResponseDoc("Not found")])
    func readItem(
        @Path(ge: 1) itemID: Int, @Query(minLength: 2, maxLength: 20) q: String? = nil, verbose: Bool = false
    ) throws -> ShopItem {
        guard itemID <= 100 else { throw HTTPError(.notFound, detail: "Item not found") }
        return ShopItem(
            id: itemID, name: verbose ? "Item number \(itemID)" : "Item", price: 9.5, tags: q.map { [$0] } ?? [])
    }

    /// List the items.
    @GET("/items", tags: ["items"])
    func listItems(
        @Query(ge: 0) skip: Int = 0, @Query(ge: 1, le: 50) limit: Int = 10,
        @Security(scopes: ["items:read"]) user: ShopUser
    ) -> [ShopItem] {
        (skip..<(skip + limit)).map { ShopItem(id: $0 + 1, name: "Item for \(user.name)", price: 1) }
    }

    /// Add an item.
    @POST("/items", tags: ["items"], status: .created)
    func createItem(@Body item: ShopItem, @Security(scopes: ["items:write"]) user: ShopUser) -> ShopItem { item }

    /// The old listing, kept for old clients.
    @GET("/legacy/items", tags: ["items"], deprecated: true)
    func legacyItems(@Depends key: APIKey<ShopQueryKey>, @Query(pattern: "^[a-z]+$") category: String? = nil) throws
        -> [ShopItem]
    {
        guard constantTimeEquals(key.value, "query-key") else { throw HTTPError(.forbidden, detail: "Bad key") }
        return []
    }

    /// Who the basic credentials belong to.
    @GET("/whoami", tags: ["auth"])
    func whoami(@Depends credentials: BasicCredentials) -> JSONValue {
        ["user": .string(credentials.username)]
    }

    /// Checks a bearer token.
    @GET("/ping", tags: ["auth"])
    func ping(@Depends bearer: BearerToken) -> JSONValue { ["pong": .bool(!bearer.token.isEmpty)] }

    /// The session a cookie names.
    @GET("/session", tags: ["auth"])
    func session(@Depends key: APIKey<ShopCookieKey>) -> JSONValue { ["session": .string(key.value)] }

    /// Send a message.
    @POST("/contact", tags: ["forms"])
    func contact(
        @Form(minLength: 1, maxLength: 40) name: String, @Form(pattern: "^[^@ ]+@[^@ ]+$") email: String,
        @Form subscribe: Bool = false
    ) -> JSONValue {
        ["name": .string(name), "email": .string(email), "subscribe": .bool(subscribe)]
    }

    /// Upload a file.
    @POST("/files", tags: ["forms"])
    func upload(@File upload: UploadedFile, @Form note: String? = nil) -> JSONValue {
        [
            "filename": .string(upload.filename), "size": .int(upload.data.readableBytes),
            "note": note.map { .string($0) } ?? .null,
        ]
    }
}

/// Administration, mounted in a group that requires the header API key.
@Routes struct ShopAdminAPI {
    /// Sales statistics.
    @GET("/stats")
    func stats(@Query(gt: 0, lt: 366) days: Int = 7) -> JSONValue { ["days": .int(days)] }

    /// Remove an item.
    @DELETE("/items/{item_id}", status: .noContent)
    func deleteItem(itemID: Int) {}
}

/// A second collection whose form handler has the same name as SecuredAPI's (`contact`).
@Routes struct ShopSupportAPI {
    /// Ask for help.
    @POST("/support")
    func contact(@Form(minLength: 3) topic: String, @Form urgent: Bool = false) -> JSONValue {
        ["topic": .string(topic), "urgent": .bool(urgent)]
    }
}

/// The secured app, as the OpenAPI and docs tests serve it.
func makeSecuredApp() -> App {
    var configuration = AppConfiguration()
    configuration.openAPI.title = "Secured shop"
    configuration.openAPI.version = "2.0.0"
    configuration.openAPI.description = "A shop with every kind of **security** scheme."
    var logger = Logger(label: "SecuredApp")
    logger.logLevel = .critical
    let app = App(configuration: configuration, logger: logger)
    app.include(SecuredAPI())
    app.group("/admin", tags: ["admin"], dependencies: [RouteDependency(APIKey<ShopHeaderKey>.self)])
        .include(ShopAdminAPI())
    return app
}

/// Runs `body` with `app` served on a free port of 127.0.0.1, then shuts the server down
/// (also when `body` throws).
func serveLive<T>(_ app: App, _ body: (Int) async throws -> T) async throws -> T {
    let server = app.makeServer(host: "127.0.0.1", port: 0)
    let address = try await server.start()
    do {
        let result = try await body(address.port ?? 0)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

// MARK: - Reading the document

/// A step into a JSON document: an object member or an array element.
private enum JSONStep: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case key(String)
    case index(Int)

    init(stringLiteral value: String) { self = .key(value) }
    init(integerLiteral value: Int) { self = .index(value) }
}

/// The value at `path` in `value`, or nil.
private func lookup(_ value: JSONValue?, _ path: JSONStep...) -> JSONValue? {
    var current = value
    for step in path {
        switch (step, current) {
        case (.key(let key), .object(let object)?): current = object[key]
        case (.index(let index), .array(let array)?) where array.indices.contains(index): current = array[index]
        default: return nil
        }
    }
    return current
}

/// Every `$ref` in `value`, with where it is.
private func references(in value: JSONValue, at location: String = "") -> [(location: String, ref: String)] {
    switch value {
    case .object(let object):
        var found: [(String, String)] = []
        for member in object.members {
            if member.key == "$ref", case .string(let ref) = member.value { found.append((location, ref)) }
            found += references(in: member.value, at: "\(location)/\(member.key)")
        }
        return found
    case .array(let values):
        return values.enumerated().flatMap { references(in: $1, at: "\(location)/\($0)") }
    default:
        return []
    }
}

// MARK: - Tests

@Suite(.serialized)
struct OpenAPITests {
    /// DifferentialAPI's document is valid OpenAPI 3.1 and matches FastAPI's for its twin
    /// (openapi_check.py lists what it compares and which differences it ignores).
    @Test func differentialAPIMatchesFastAPIsDocument() async throws {
        var logger = Logger(label: "OpenAPITests")
        logger.logLevel = .critical
        let app = App(logger: logger)
        app.include(DifferentialAPI())
        let fastapi = try await PeerServer.start(script: "differential_app.py")
        defer { fastapi.stop() }
        let output = try await serveLive(app) { port in
            try await Peers.python(
                script: "openapi_check.py",
                [
                    "http://127.0.0.1:\(port)/openapi.json",
                    "--compare-with", "http://127.0.0.1:\(fastapi.port)/openapi.json",
                ], timeout: 60)
        }
        #expect(output.status == 0, "\(output.stdout)\n\(output.stderr)")
    }

    /// The secured app's document is valid OpenAPI 3.1, with no dangling reference, an
    /// operationId on every operation and only declared schemes and scopes in requirements.
    @Test func securedAppDocumentIsValid() async throws {
        let output = try await serveLive(makeSecuredApp()) { port in
            try await Peers.python(script: "openapi_check.py", ["http://127.0.0.1:\(port)/openapi.json"], timeout: 60)
        }
        #expect(output.status == 0, "\(output.stdout)\n\(output.stderr)")
    }

    /// The demo app's own document is valid too.
    @Test func demoAppDocumentIsValid() async throws {
        let demo = try await PeerServer.startDemo()
        defer { demo.stop() }
        let output = try await Peers.python(
            script: "openapi_check.py", ["http://127.0.0.1:\(demo.port)/openapi.json"], timeout: 60)
        #expect(output.status == 0, "\(output.stdout)\n\(output.stderr)")
        #expect(output.stdout.contains("18 operations"), "\(output.stdout)")
    }

    /// What the served document says is what `openAPIDocument()` returns, and the docs page is
    /// served beside it.
    @Test func servedDocumentIsOpenAPIDocument() async throws {
        let app = makeSecuredApp()
        let (document, docs) = try await app.test(.live) { client in
            (try await client.get("/openapi.json"), try await client.get("/docs"))
        }
        #expect(document.status == .ok)
        #expect(document.headers["content-type"] == "application/json")
        #expect(try JSONValue.parse(document.text) == .object(app.openAPIDocument()))
        #expect(docs.status == .ok)
        #expect(docs.text.contains(#"data-openapi-url="/openapi.json""#))
        #expect(docs.text.contains("<title>Secured shop</title>"))
    }

    /// The token endpoint and the scope checks the docs UI test relies on.
    @Test func tokenEndpointAndScopes() async throws {
        let app = makeSecuredApp()
        try await app.test { client in
            func token(_ form: String) async throws -> TestResponse {
                try await client.execute(
                    .post, "/token", text: form,
                    headers: HTTPHeaders([("Content-Type", "application/x-www-form-urlencoded")]))
            }
            func items(_ token: String?) async throws -> TestResponse {
                try await client.get(
                    "/items?limit=2", headers: HTTPHeaders(token.map { [("Authorization", "Bearer \($0)")] } ?? []))
            }
            let alice = try await token("grant_type=password&username=alice&password=wonderland")
            #expect(alice.status == .ok, "\(alice.text)")
            let granted = try JSONValue.parse(alice.text)
            #expect(lookup(granted, "token_type") == "bearer")
            guard case .string(let accessToken)? = lookup(granted, "access_token") else {
                Issue.record("no access_token in \(alice.text)")
                return
            }
            let listed = try await items(accessToken)
            #expect(listed.status == .ok, "\(listed.text)")
            #expect(listed.text.contains("Item for alice"))

            #expect(try await items(nil).status == .unauthorized)
            let bob = try await token("username=bob&password=builder")
            guard case .string(let bobToken)? = lookup(try JSONValue.parse(bob.text), "access_token") else {
                Issue.record("no access_token in \(bob.text)")
                return
            }
            #expect(try await items(bobToken).status == .forbidden)
            #expect(try await token("username=alice&password=wrong").status == .badRequest)
            #expect(try await token("username=alice").status == .unprocessableContent)
            #expect(
                try await token("grant_type=implicit&username=alice&password=wonderland").status
                    == .unprocessableContent)

            let admin = try await client.get("/admin/stats?days=30", headers: HTTPHeaders([("X-API-Key", "anything")]))
            #expect(admin.status == .ok, "\(admin.text)")
            #expect(try await client.get("/admin/stats").status == .unauthorized)
        }
    }

    @Test func securitySchemes() throws {
        let document = JSONValue.object(makeSecuredApp().openAPIDocument())
        let schemes = lookup(document, "components", "securitySchemes")
        #expect(lookup(schemes, "HTTPBearer") == ["type": "http", "scheme": "bearer"])
        #expect(lookup(schemes, "HTTPBasic") == ["type": "http", "scheme": "basic"])
        #expect(lookup(schemes, "APIKeyHeader") == ["type": "apiKey", "in": "header", "name": "X-API-Key"])
        #expect(lookup(schemes, "APIKeyQuery") == ["type": "apiKey", "in": "query", "name": "api_key"])
        #expect(lookup(schemes, "APIKeyCookie") == ["type": "apiKey", "in": "cookie", "name": "shop_session"])
        let oauth2 = lookup(schemes, "OAuth2PasswordBearer")
        #expect(lookup(oauth2, "type") == "oauth2")
        #expect(lookup(oauth2, "flows", "password", "tokenUrl") == "/token")
        #expect(
            lookup(oauth2, "flows", "password", "scopes")
                == ["items:read": "Read items", "items:write": "Change items", "profile": "Read your profile"])
        if case .object(let object)? = schemes {
            #expect(Set(object.members.map(\.key)).count == 6, "\(object.members.map(\.key))")
        } else {
            Issue.record("no components/securitySchemes")
        }
    }

    @Test func operationSecurity() throws {
        let paths = lookup(.object(makeSecuredApp().openAPIDocument()), "paths")
        // Outer scopes first: the operation's, then the resolver's own `@Security(scopes:)`.
        #expect(lookup(paths, "/items", "get", "security") == [["OAuth2PasswordBearer": ["items:read", "profile"]]])
        #expect(lookup(paths, "/items", "post", "security") == [["OAuth2PasswordBearer": ["items:write", "profile"]]])
        #expect(lookup(paths, "/whoami", "get", "security") == [["HTTPBasic": []]])
        #expect(lookup(paths, "/ping", "get", "security") == [["HTTPBearer": []]])
        #expect(lookup(paths, "/session", "get", "security") == [["APIKeyCookie": []]])
        #expect(lookup(paths, "/legacy/items", "get", "security") == [["APIKeyQuery": []]])
        // The group's dependency secures every route of the group.
        #expect(lookup(paths, "/admin/stats", "get", "security") == [["APIKeyHeader": []]])
        #expect(lookup(paths, "/admin/items/{item_id}", "delete", "security") == [["APIKeyHeader": []]])
        // Open operations have no requirement.
        #expect(lookup(paths, "/items/{item_id}", "get", "security") == nil)
        #expect(lookup(paths, "/token", "post", "security") == nil)
        // Security schemes are not parameters.
        for (path, method) in [("/legacy/items", "get"), ("/session", "get"), ("/admin/stats", "get")] {
            let names =
                (lookup(paths, .key(path), .key(method), "parameters").flatMap { value -> [String]? in
                    guard case .array(let parameters) = value else { return nil }
                    return parameters.compactMap {
                        if case .string(let name)? = lookup($0, "name") { name } else { nil }
                    }
                }) ?? []
            #expect(!names.contains("api_key") && !names.contains("shop_session") && !names.contains("X-API-Key"))
        }
    }

    @Test func documentationFromDeclarations() throws {
        let document = JSONValue.object(makeSecuredApp().openAPIDocument())
        #expect(lookup(document, "openapi") == "3.1.0")
        #expect(
            lookup(document, "info")
                == [
                    "title": "Secured shop", "version": "2.0.0",
                    "description": "A shop with every kind of **security** scheme.",
                ])
        let readItem = lookup(document, "paths", "/items/{item_id}", "get")
        #expect(lookup(readItem, "operationId") == "readItem")
        #expect(lookup(readItem, "tags") == ["items"])
        #expect(lookup(readItem, "summary") == "Read one item.")
        #expect(lookup(readItem, "description") == "Looks the item up by its number.\nItems above 100 do not exist.")
        #expect(lookup(readItem, "deprecated") == nil)
        #expect(
            lookup(readItem, "responses", "200", "content", "application/json", "schema") == [
                "$ref": "#/components/schemas/ShopItem"
            ])
        #expect(lookup(readItem, "responses", "404") == ["description": "Not found"])
        #expect(
            lookup(readItem, "responses", "422")
                == [
                    "description": "Validation Error",
                    "content": ["application/json": ["schema": ["$ref": "#/components/schemas/HTTPValidationError"]]],
                ])

        let token = lookup(document, "paths", "/token", "post")
        #expect(lookup(token, "summary") == "Get an access token.")
        #expect(lookup(token, "tags") == ["auth"])
        #expect(
            lookup(document, "paths", "/items/{item_id}", "get", "summary") != lookup(token, "summary"))

        let legacy = lookup(document, "paths", "/legacy/items", "get")
        #expect(lookup(legacy, "deprecated") == true)
        #expect(lookup(legacy, "summary") == "The old listing, kept for old clients.")
        #expect(lookup(legacy, "description") == nil)

        #expect(lookup(document, "paths", "/admin/stats", "get", "tags") == ["admin"])
        #expect(
            lookup(document, "paths", "/admin/items/{item_id}", "delete", "responses", "204") == [
                "description": "Successful Response"
            ])
        #expect(lookup(document, "paths", "/items", "post", "responses", "201") != nil)
        #expect(lookup(document, "paths", "/items", "post", "responses", "200") == nil)
    }

    @Test func parameterConstraints() throws {
        let paths = lookup(.object(makeSecuredApp().openAPIDocument()), "paths")
        func parameter(_ path: String, _ method: String, _ name: String) -> JSONValue? {
            guard case .array(let parameters)? = lookup(paths, .key(path), .key(method), "parameters") else {
                return nil
            }
            return parameters.first { lookup($0, "name") == .string(name) }
        }
        #expect(
            parameter("/items/{item_id}", "get", "item_id")
                == ["name": "item_id", "in": "path", "required": true, "schema": ["type": "integer", "minimum": 1]])
        #expect(
            parameter("/items/{item_id}", "get", "q")
                == [
                    "name": "q", "in": "query", "required": false,
                    "schema": ["anyOf": [["type": "string", "minLength": 2, "maxLength": 20], ["type": "null"]]],
                    "description": "Text echoed back as the item's tag.",
                ])
        #expect(
            lookup(parameter("/items/{item_id}", "get", "verbose"), "schema") == ["type": "boolean", "default": false])
        #expect(
            lookup(parameter("/items", "get", "skip"), "schema") == ["type": "integer", "minimum": 0, "default": 0])
        #expect(
            lookup(parameter("/items", "get", "limit"), "schema")
                == ["type": "integer", "minimum": 1, "maximum": 50, "default": 10])
        #expect(
            lookup(parameter("/legacy/items", "get", "category"), "schema")
                == ["anyOf": [["type": "string", "pattern": "^[a-z]+$"], ["type": "null"]]])
        #expect(
            lookup(parameter("/admin/stats", "get", "days"), "schema")
                == ["type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 366, "default": 7])
        #expect(lookup(parameter("/admin/items/{item_id}", "delete", "item_id"), "required") == true)
    }

    @Test func requestBodies() throws {
        let document = JSONValue.object(makeSecuredApp().openAPIDocument())
        let schemas = lookup(document, "components", "schemas")
        func bodySchema(_ path: String, _ mediaType: String) -> JSONValue? {
            guard
                case .string(let ref)? = lookup(
                    document, "paths", .key(path), "post", "requestBody", "content",
                    .key(mediaType), "schema", "$ref"), ref.hasPrefix("#/components/schemas/")
            else { return nil }
            return lookup(schemas, .key(String(ref.dropFirst("#/components/schemas/".count))))
        }

        // JSON body: the model, required.
        #expect(
            lookup(document, "paths", "/items", "post", "requestBody")
                == [
                    "content": ["application/json": ["schema": ["$ref": "#/components/schemas/ShopItem"]]],
                    "required": true,
                ])
        #expect(lookup(schemas, "ShopItem", "required") == ["id", "name", "price"])
        #expect(lookup(schemas, "ShopItem", "properties", "price") == ["type": "number", "exclusiveMinimum": 0])
        #expect(lookup(schemas, "ShopItem", "properties", "id", "description") == "The item's number.")
        #expect(lookup(schemas, "ShopItem", "description") == "An item of the shop.")

        // URL-encoded form.
        let contact = bodySchema("/contact", "application/x-www-form-urlencoded")
        #expect(lookup(document, "paths", "/contact", "post", "requestBody", "required") == true)
        #expect(lookup(contact, "type") == "object")
        #expect(lookup(contact, "required") == ["name", "email"])
        #expect(lookup(contact, "properties", "name") == ["type": "string", "minLength": 1, "maxLength": 40])
        #expect(lookup(contact, "properties", "email", "pattern") == "^[^@ ]+@[^@ ]+$")
        #expect(lookup(contact, "properties", "subscribe") == ["type": "boolean", "default": false])

        // Multipart upload.
        let upload = bodySchema("/files", "multipart/form-data")
        #expect(lookup(upload, "required") == ["upload"])
        #expect(lookup(upload, "properties", "upload") == ["type": "string", "format": "binary"])
        #expect(lookup(upload, "properties", "note") == ["anyOf": [["type": "string"], ["type": "null"]]])

        // The token endpoint's form comes from the OAuth2PasswordRequest dependency.
        let token = bodySchema("/token", "application/x-www-form-urlencoded")
        #expect(lookup(token, "required") == ["username", "password"])
        if case .object(let properties)? = lookup(token, "properties") {
            #expect(properties.members.map(\.key) == ["grant_type", "username", "password", "scope"])
        } else {
            Issue.record("the token endpoint has no form body: \(String(describing: token))")
        }
        #expect(lookup(token, "properties", "grant_type", "anyOf", 0, "pattern") == "^password$")
        #expect(lookup(token, "properties", "scope") == ["type": "string", "default": ""])
    }

    /// Mounting a collection twice (API versions) or two handlers of the same name must still
    /// give a valid document: unique operationIds, and each form body its own schema.
    @Test func sameHandlerNamesStayDistinct() async throws {
        var logger = Logger(label: "OpenAPITests")
        logger.logLevel = .critical
        let app = App(logger: logger)
        app.include(SecuredAPI(), prefix: "/v1")
        app.include(SecuredAPI(), prefix: "/v2")
        app.include(ShopSupportAPI())
        let output = try await serveLive(app) { port in
            try await Peers.python(script: "openapi_check.py", ["http://127.0.0.1:\(port)/openapi.json"], timeout: 60)
        }
        #expect(output.status == 0, "\(output.stdout)\n\(output.stderr)")

        let document = JSONValue.object(app.openAPIDocument())
        var ids: [String] = []
        if case .object(let paths)? = lookup(document, "paths") {
            for case (_, .object(let operations)) in paths.members {
                for case (_, .object(let operation)) in operations.members {
                    if case .string(let id)? = operation["operationId"] { ids.append(id) }
                }
            }
        }
        #expect(ids.count == 2 * 10 + 1)
        #expect(Set(ids).count == ids.count, "repeated operationIds: \(ids.sorted())")

        // /support's form documents its own fields, not those of SecuredAPI's `contact`.
        guard
            case .string(let ref)? = lookup(
                document, "paths", "/support", "post", "requestBody", "content", "application/x-www-form-urlencoded",
                "schema", "$ref"),
            case .string(let other)? = lookup(
                document, "paths", "/v1/contact", "post", "requestBody", "content",
                "application/x-www-form-urlencoded", "schema", "$ref")
        else {
            Issue.record("no form bodies")
            return
        }
        #expect(ref != other)
        let name = String(ref.dropFirst("#/components/schemas/".count))
        #expect(lookup(document, "components", "schemas", .key(name), "required") == ["topic"])
    }

    @Test func validationErrorsAndReferences() throws {
        let document = JSONValue.object(makeSecuredApp().openAPIDocument())
        let schemas = lookup(document, "components", "schemas")
        #expect(
            lookup(schemas, "HTTPValidationError", "properties", "detail", "items")
                == ["$ref": "#/components/schemas/ValidationError"])
        #expect(lookup(schemas, "ValidationError", "required") == ["loc", "msg", "type"])

        // Every operation with inputs documents its 422; those without inputs do not.
        guard case .object(let paths)? = lookup(document, "paths") else {
            Issue.record("no paths")
            return
        }
        for (path, item) in paths.members {
            guard case .object(let operations) = item else { continue }
            for (method, operation) in operations.members {
                let hasInputs = lookup(operation, "parameters") != nil || lookup(operation, "requestBody") != nil
                let validation = lookup(operation, "responses", "422", "content", "application/json", "schema", "$ref")
                if hasInputs {
                    #expect(validation == "#/components/schemas/HTTPValidationError", "\(method) \(path)")
                } else {
                    #expect(validation == nil, "\(method) \(path)")
                }
                #expect(lookup(operation, "operationId") != nil, "\(method) \(path)")
            }
        }

        // No dangling reference.
        let found = references(in: document)
        #expect(!found.isEmpty)
        for (location, ref) in found {
            let name =
                ref.hasPrefix("#/components/schemas/") ? String(ref.dropFirst("#/components/schemas/".count)) : ""
            #expect(lookup(schemas, .key(name)) != nil, "dangling \(ref) at \(location)")
        }
    }
}
