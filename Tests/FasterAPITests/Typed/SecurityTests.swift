import Foundation
import Testing

@testable import FasterAPI

// Security dependencies: HTTP bearer and basic, API keys in a header, the query or a cookie, and
// an OAuth2 password flow with scopes — tokens come from a token endpoint and are checked against
// a table kept in the test (no JWT here).

enum SecAuth: OAuth2PasswordFlow {
    static let tokenURL = "/token"
    static let scopes = ["items:read": "Read items", "items:write": "Change items"]
}

enum SecHeaderKey: APIKeyScheme {
    static let name = "X-API-Key"
    static let location = APIKeyLocation.header
}

enum SecQueryKey: APIKeyScheme {
    static let name = "api_key"
    static let location = APIKeyLocation.query
}

enum SecCookieKey: APIKeyScheme {
    static let name = "session_key"
    static let location = APIKeyLocation.cookie
}

/// The users and the tokens the token endpoint issues: `tok.<user>.<scope>+<scope>`, valid only
/// for a known user and scopes that user holds.
enum SecDirectory {
    struct Account {
        let password: String
        let scopes: [String]
    }

    static let accounts = [
        "alice": Account(password: "wonderland", scopes: ["items:read", "items:write"]),
        "bob": Account(password: "builder", scopes: ["items:read"]),
    ]

    static func token(user: String, scopes: [String]) -> String {
        "tok.\(user).\(scopes.joined(separator: "+"))"
    }

    static func verify(_ token: String) -> (user: String, scopes: [String])? {
        let parts = token.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "tok", let account = accounts[String(parts[1])] else { return nil }
        let scopes = parts[2].split(separator: "+").map(String.init)
        guard scopes.allSatisfy(account.scopes.contains) else { return nil }
        return (String(parts[1]), scopes)
    }
}

/// The user a bearer token stands for, holding every scope required along the dependency path.
struct SecCurrentUser: Dependency {
    let name: String
    let scopes: [String]

    @Resolver static func resolve(@Depends token: OAuth2Token<SecAuth>, required: SecurityScopes) throws
        -> SecCurrentUser
    {
        guard let (name, granted) = SecDirectory.verify(token.token) else {
            throw HTTPError(
                .unauthorized, detail: "Could not validate credentials",
                headers: HTTPHeaders([("WWW-Authenticate", "Bearer")]))
        }
        try required.require(granted: granted)
        return SecCurrentUser(name: name, scopes: granted)
    }
}

/// Requires `items:write` of the user, inside whatever its own user requires.
struct SecEditor: Dependency {
    let name: String

    @Resolver static func resolve(@Security(scopes: ["items:write"]) user: SecCurrentUser) -> SecEditor {
        SecEditor(name: user.name)
    }
}

@Routes struct SecAPI {
    @GET("/bearer")
    func bearer(@Depends credentials: BearerToken) -> String { credentials.token }

    @GET("/basic")
    func basic(@Depends credentials: BasicCredentials) -> [String: String] {
        ["username": credentials.username, "password": credentials.password]
    }

    @GET("/key/header")
    func headerKey(@Depends key: APIKey<SecHeaderKey>) throws -> String { try Self.check(key.value) }

    @GET("/key/query")
    func queryKey(@Depends key: APIKey<SecQueryKey>) throws -> String { try Self.check(key.value) }

    @GET("/key/cookie")
    func cookieKey(@Depends key: APIKey<SecCookieKey>) throws -> String { try Self.check(key.value) }

    @GET("/raw-token")
    func rawToken(@Depends token: OAuth2Token<SecAuth>) -> String { token.token }

    @GET("/me")
    func me(@Depends user: SecCurrentUser) -> [String: String] { ["name": user.name] }

    @GET("/items")
    func items(@Security(scopes: ["items:read"]) user: SecCurrentUser) -> [String: String] {
        ["reader": user.name]
    }

    @POST("/items", status: .created)
    func createItem(@Security(scopes: ["items:write"]) user: SecCurrentUser) -> [String: String] {
        ["writer": user.name]
    }

    @DELETE("/items")
    func deleteItems(@Security(scopes: ["items:read"]) editor: SecEditor) -> [String: String] {
        ["editor": editor.name]
    }

    @POST("/token")
    func token(@Depends form: OAuth2PasswordRequest) throws -> [String: String] {
        guard let account = SecDirectory.accounts[form.username],
            constantTimeEquals(form.password, account.password)
        else { throw HTTPError(.badRequest, detail: "Incorrect username or password") }
        let scopes = form.scopes.filter(account.scopes.contains)
        return ["access_token": SecDirectory.token(user: form.username, scopes: scopes), "token_type": "bearer"]
    }

    static func check(_ key: String) throws -> String {
        guard constantTimeEquals(key, "k-123") else { throw HTTPError(.forbidden, detail: "Invalid API key") }
        return "key accepted"
    }
}

private let formHeaders: HTTPHeaders = ["Content-Type": "application/x-www-form-urlencoded"]

private func makeApp() -> App {
    let app = App()
    app.include(SecAPI())
    return app
}

private func bearer(_ token: String) -> HTTPHeaders { ["Authorization": "Bearer \(token)"] }

private func basic(_ credentials: String) -> HTTPHeaders {
    ["Authorization": "Basic " + Data(credentials.utf8).base64EncodedString()]
}

/// Expects 401 `{"detail": detail}` with the challenge `challenge`.
private func expectUnauthorized(
    _ response: TestResponse, challenge: String, detail: String = "Not authenticated",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(response.status == .unauthorized, sourceLocation: sourceLocation)
    #expect(response.headers["www-authenticate"] == challenge, sourceLocation: sourceLocation)
    #expect(response.text == #"{"detail":"\#(detail)"}"#, sourceLocation: sourceLocation)
}

@Suite("Security")
struct SecurityTests {
    @Test(arguments: TestMode.allCases)
    func bearerToken(_ mode: TestMode) async throws {
        try await makeApp().test(mode) { client throws in
            #expect(try await client.get("/bearer", headers: bearer("abc.def")).text == "abc.def")
            #expect(try await client.get("/bearer", headers: ["Authorization": "bearer lower"]).text == "lower")
            expectUnauthorized(try await client.get("/bearer"), challenge: "Bearer")
            expectUnauthorized(try await client.get("/bearer", headers: basic("a:b")), challenge: "Bearer")
            expectUnauthorized(
                try await client.get("/bearer", headers: ["Authorization": "Bearer"]), challenge: "Bearer")
        }
    }

    @Test(arguments: TestMode.allCases)
    func basicCredentials(_ mode: TestMode) async throws {
        try await makeApp().test(mode) { client throws in
            let response = try await client.get("/basic", headers: basic("alice:open:sesame"))
            #expect(try response.json([String: String].self) == ["username": "alice", "password": "open:sesame"])

            expectUnauthorized(try await client.get("/basic"), challenge: "Basic")
            expectUnauthorized(try await client.get("/basic", headers: bearer("t")), challenge: "Basic")
            expectUnauthorized(
                try await client.get("/basic", headers: ["Authorization": "Basic !!not-base64!!"]), challenge: "Basic",
                detail: "Invalid authentication credentials")
            expectUnauthorized(
                try await client.get("/basic", headers: basic("no-colon")), challenge: "Basic",
                detail: "Invalid authentication credentials")
        }
    }

    @Test(arguments: TestMode.allCases)
    func apiKeysInHeaderQueryAndCookie(_ mode: TestMode) async throws {
        try await makeApp().test(mode) { client throws in
            #expect(try await client.get("/key/header", headers: ["X-API-Key": "k-123"]).text == "key accepted")
            #expect(try await client.get("/key/query?api_key=k-123").text == "key accepted")
            #expect(
                try await client.get("/key/cookie", headers: ["Cookie": "a=1; session_key=k-123"]).text
                    == "key accepted")

            expectUnauthorized(try await client.get("/key/header"), challenge: "APIKey")
            expectUnauthorized(try await client.get("/key/header?X-API-Key=k-123"), challenge: "APIKey")
            expectUnauthorized(try await client.get("/key/query"), challenge: "APIKey")
            expectUnauthorized(try await client.get("/key/query?api_key="), challenge: "APIKey")
            expectUnauthorized(
                try await client.get("/key/cookie", headers: ["X-API-Key": "k-123"]), challenge: "APIKey")

            let wrong = try await client.get("/key/header", headers: ["X-API-Key": "k-124"])
            #expect(wrong.status == .forbidden)
            #expect(wrong.text == #"{"detail":"Invalid API key"}"#)
        }
    }

    @Test(arguments: TestMode.allCases)
    func oauth2TokenIsRequired(_ mode: TestMode) async throws {
        try await makeApp().test(mode) { client throws in
            #expect(try await client.get("/raw-token", headers: bearer("anything")).text == "anything")
            expectUnauthorized(try await client.get("/raw-token"), challenge: "Bearer")
            expectUnauthorized(try await client.get("/items"), challenge: "Bearer")
            expectUnauthorized(
                try await client.get("/items", headers: bearer("tok.mallory.items:read")), challenge: "Bearer",
                detail: "Could not validate credentials")
        }
    }

    @Test(arguments: TestMode.allCases)
    func scopesGiveForbiddenOrAllow(_ mode: TestMode) async throws {
        try await makeApp().test(mode) { client throws in
            let reader = bearer(SecDirectory.token(user: "bob", scopes: ["items:read"]))
            let writer = bearer(SecDirectory.token(user: "alice", scopes: ["items:read", "items:write"]))

            #expect(try await client.get("/items", headers: reader).text == #"{"reader":"bob"}"#)
            let forbidden = try await client.execute(.post, "/items", headers: reader)
            #expect(forbidden.status == .forbidden)
            #expect(forbidden.text == #"{"detail":"Not enough permissions"}"#)
            #expect(
                forbidden.headers["www-authenticate"] == #"Bearer scope="items:write", error="insufficient_scope""#)

            let created = try await client.execute(.post, "/items", headers: writer)
            #expect(created.status == .created)
            #expect(created.text == #"{"writer":"alice"}"#)

            // No scopes required: any valid token.
            let readOnlyAlice = bearer(SecDirectory.token(user: "alice", scopes: []))
            #expect(try await client.get("/me", headers: readOnlyAlice).text == #"{"name":"alice"}"#)
            #expect(try await client.get("/items", headers: readOnlyAlice).status == .forbidden)
        }
    }

    @Test(arguments: TestMode.allCases)
    func nestedSecurityScopesAccumulateOutermostFirst(_ mode: TestMode) async throws {
        try await makeApp().test(mode) { client throws in
            let reader = bearer(SecDirectory.token(user: "bob", scopes: ["items:read"]))
            let forbidden = try await client.execute(.delete, "/items", headers: reader)
            #expect(forbidden.status == .forbidden)
            #expect(
                forbidden.headers["www-authenticate"]
                    == #"Bearer scope="items:read items:write", error="insufficient_scope""#)

            let writer = bearer(SecDirectory.token(user: "alice", scopes: ["items:write", "items:read"]))
            let allowed = try await client.execute(.delete, "/items", headers: writer)
            #expect(allowed.status == .ok)
            #expect(allowed.text == #"{"editor":"alice"}"#)
        }
    }

    @Test(arguments: TestMode.allCases)
    func tokenEndpointIssuesTokensFromThePasswordForm(_ mode: TestMode) async throws {
        try await makeApp().test(mode) { client throws in
            let response = try await client.execute(
                .post, "/token",
                text: "grant_type=password&username=alice&password=wonderland&scope=items%3Aread+items%3Awrite",
                headers: formHeaders)
            #expect(response.status == .ok)
            let issued = try response.json([String: String].self)
            #expect(issued == ["access_token": "tok.alice.items:read+items:write", "token_type": "bearer"])

            let created = try await client.execute(
                .post, "/items", headers: bearer(issued["access_token"] ?? ""))
            #expect(created.status == .created)

            // Bob asks for more than he holds and is given only what he holds.
            let bob = try await client.execute(
                .post, "/token", text: "username=bob&password=builder&scope=items:read+items:write",
                headers: formHeaders)
            let bobToken = try bob.json([String: String].self)["access_token"] ?? ""
            #expect(bobToken == "tok.bob.items:read")
            #expect(try await client.execute(.post, "/items", headers: bearer(bobToken)).status == .forbidden)

            let wrongPassword = try await client.execute(
                .post, "/token", text: "username=alice&password=wonderlan", headers: formHeaders)
            #expect(wrongPassword.status == .badRequest)
            #expect(wrongPassword.text == #"{"detail":"Incorrect username or password"}"#)
        }
    }

    @Test(arguments: TestMode.allCases)
    func tokenEndpointValidatesTheForm(_ mode: TestMode) async throws {
        try await makeApp().test(mode) { client throws in
            let missing = try await client.execute(.post, "/token", text: "username=alice", headers: formHeaders)
            #expect(missing.status == .unprocessableContent)
            #expect(
                try JSONValue.parse(missing.body)
                    == [
                        "detail": [
                            ["type": "missing", "loc": ["body", "password"], "msg": "Field required", "input": nil]
                        ]
                    ])

            let grant = try await client.execute(
                .post, "/token", text: "grant_type=client_credentials&username=a&password=b", headers: formHeaders)
            #expect(
                try JSONValue.parse(grant.body)
                    == [
                        "detail": [
                            [
                                "type": "string_pattern_mismatch", "loc": ["body", "grant_type"],
                                "msg": "String should match pattern '^password$'", "input": "client_credentials",
                                "ctx": ["pattern": "^password$"],
                            ]
                        ]
                    ])
        }
    }

    @Test(arguments: [
        ("", "", true), ("a", "a", true), ("k-123", "k-123", true), ("é✓", "é✓", true),
        ("secret", "Secret", false), ("secret", "secreT", false), ("secret", "secre", false),
        ("secre", "secret", false), ("", "x", false), ("x", "", false), ("é", "e", false),
        ("abc", "abcd", false), ("abcd", "abc", false),
    ])
    func constantTimeEqualsCases(_ a: String, _ b: String, _ equal: Bool) {
        #expect(constantTimeEquals(a, b) == equal)
        #expect(constantTimeEquals(b, a) == equal)
        #expect(constantTimeEquals(Substring(a), b) == equal)
    }

    /// Lengths whose difference is a multiple of 256 must still differ.
    @Test(arguments: [(0, 256), (1, 257), (256, 512), (44, 300)])
    func constantTimeEqualsRejectsAPrefixWhateverTheLengths(_ short: Int, _ long: Int) {
        let secret = String((0..<long).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
        let prefix = String(secret.prefix(short))
        #expect(!constantTimeEquals(prefix, secret))
        #expect(!constantTimeEquals(secret, prefix))
    }
}
