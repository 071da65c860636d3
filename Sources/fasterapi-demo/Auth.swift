import FasterAPI
import FasterAPIJWT
import Foundation

/// The demo's OAuth2 password flow: `POST /token` with a user name and password gives a JWT.
enum DemoAuth: OAuth2PasswordFlow {
    static let tokenURL = "/token"
    static let scopes = ["me": "Read your own profile", "items:write": "Create, change and delete items"]
}

/// The demo's users (a real service would look them up in its database).
enum DemoUsers {
    /// User name → password and the scopes the user may be granted.
    static let accounts: [String: (password: String, scopes: [String])] = [
        "alice": ("wonderland", ["me", "items:write"]),
        "bob": ("builder", ["me"]),
    ]
}

/// Signs and verifies the demo's tokens. The development key is embedded so the demo starts with
/// no configuration; set `FASTERAPI_JWT_SECRET` (32 bytes or more) to use your own.
struct TokenService: Sendable {
    let authenticator: JWTAuthenticator

    init(secret: String) throws {
        authenticator = JWTAuthenticator(keys: [try .hs256(secret: secret)], issuer: "fasterapi-demo")
    }

    func issue(for user: String, scopes: [String]) async throws -> String {
        let now = Date()
        return try await authenticator.sign(
            StandardClaims(
                sub: user, exp: now.addingTimeInterval(3600), iat: now, iss: "fasterapi-demo",
                scope: scopes.joined(separator: " ")))
    }
}

/// The user a request's bearer token belongs to, with the scopes it grants; the operation's
/// required scopes are checked here (403 when one is missing).
struct CurrentUser: Dependency {
    var name: String
    var scopes: [String]

    @Resolver static func resolve(
        @Depends token: OAuth2Token<DemoAuth>, required: SecurityScopes, @Depends tokens: TokenService
    ) async throws -> CurrentUser {
        let claims = try await tokens.authenticator.verify(token.token, as: StandardClaims.self)
        guard let name = claims.sub, DemoUsers.accounts[name] != nil else {
            throw HTTPError(
                .unauthorized, detail: "Could not validate credentials",
                headers: HTTPHeaders([("WWW-Authenticate", "Bearer")]))
        }
        try required.require(granted: claims.scopes)
        return CurrentUser(name: name, scopes: claims.scopes)
    }
}

/// The token endpoint's answer, as OAuth2 defines it.
@Schema struct TokenResponse: Codable, Sendable {
    var access_token: String
    var token_type: String
}

/// The signed-in user's profile.
@Schema struct Profile: Codable, Sendable {
    var name: String
    var scopes: [String]
}

/// Sign-in: the OAuth2 token endpoint and the caller's profile.
@Routes struct AuthAPI {
    /// Get an access token.
    ///
    /// Send `username` and `password` (demo users: alice/wonderland, bob/builder) and the
    /// scopes you want; you get the ones the user may have.
    @POST("/token", tags: ["auth"])
    func token(@Depends form: OAuth2PasswordRequest, @Depends tokens: TokenService) async throws -> TokenResponse {
        guard let account = DemoUsers.accounts[form.username],
            constantTimeEquals(account.password, form.password)
        else { throw HTTPError(.badRequest, detail: "Incorrect username or password") }
        let scopes = form.scopes.isEmpty ? account.scopes : form.scopes.filter(account.scopes.contains)
        return TokenResponse(
            access_token: try await tokens.issue(for: form.username, scopes: scopes), token_type: "bearer")
    }

    /// Your profile.
    @GET("/me", tags: ["auth"])
    func me(@Security(scopes: ["me"]) user: CurrentUser) -> Profile {
        Profile(name: user.name, scopes: user.scopes)
    }
}
