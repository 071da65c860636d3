import Foundation

/// A security scheme as OpenAPI declares it in `components/securitySchemes`.
public struct SecuritySchemeSpec: Sendable {
    /// The key in `components/securitySchemes`.
    public let name: String
    /// The Security Scheme Object.
    public let scheme: JSONObject

    /// A scheme named `name`.
    public init(name: String, scheme: JSONObject) {
        self.name = name
        self.scheme = scheme
    }
}

/// `true` when `a` and `b` are equal, taking the same time wherever they differ (for secrets:
/// passwords, API keys, tokens).
public func constantTimeEquals(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
    var difference = UInt(bitPattern: a.utf8.count ^ b.utf8.count)
    var right = b.utf8.makeIterator()
    for byte in a.utf8 { difference |= UInt(byte ^ (right.next() ?? ~byte)) }
    return difference == 0
}

/// A 401 with the challenge for `scheme`.
func notAuthenticated(_ challenge: String, detail: String = "Not authenticated") -> HTTPError {
    HTTPError(.unauthorized, detail: detail, headers: HTTPHeaders([("WWW-Authenticate", challenge)]))
}

/// The `Authorization` header split into scheme (lower-cased) and credentials.
func authorization(_ request: Request) -> (scheme: String, credentials: String)? {
    guard let value = request.headers["authorization"] else { return nil }
    let parts = value.split(separator: " ", maxSplits: 1)
    guard parts.count == 2 else { return nil }
    return (parts[0].lowercased(), parts[1].trimmingCharacters(in: .whitespaces))
}

/// The token of an `Authorization: Bearer …` header (HTTP bearer authentication).
public struct BearerToken: Dependency {
    /// The token.
    public let token: String

    /// Reads the header; 401 with `WWW-Authenticate: Bearer` when it is missing or not bearer.
    public static var dependency: DependencyProvider<BearerToken> {
        DependencyProvider(
            inputs: [],
            securityScheme: SecuritySchemeSpec(name: "HTTPBearer", scheme: ["type": "http", "scheme": "bearer"])
        ) { reader in
            guard let (scheme, credentials) = authorization(reader.request), scheme == "bearer", !credentials.isEmpty
            else { throw notAuthenticated("Bearer") }
            return BearerToken(token: credentials)
        }
    }
}

/// The user name and password of an `Authorization: Basic …` header (HTTP basic authentication).
public struct BasicCredentials: Dependency {
    /// The user name.
    public let username: String
    /// The password (compare it with ``constantTimeEquals(_:_:)``).
    public let password: String

    /// Reads the header; 401 with `WWW-Authenticate: Basic` when it is missing or malformed.
    public static var dependency: DependencyProvider<BasicCredentials> {
        DependencyProvider(
            inputs: [],
            securityScheme: SecuritySchemeSpec(name: "HTTPBasic", scheme: ["type": "http", "scheme": "basic"])
        ) { reader in
            guard let (scheme, credentials) = authorization(reader.request), scheme == "basic" else {
                throw notAuthenticated("Basic")
            }
            guard let data = Data(base64Encoded: credentials), let text = String(data: data, encoding: .utf8),
                let colon = text.firstIndex(of: ":")
            else { throw notAuthenticated("Basic", detail: "Invalid authentication credentials") }
            return BasicCredentials(
                username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        }
    }
}

/// An OAuth2 password flow: where clients get tokens and which scopes exist.
///
/// ```swift
/// enum CatalogueAuth: OAuth2PasswordFlow {
///     static let tokenURL = "/token"
///     static let scopes = ["items:read": "Read items", "items:write": "Change items"]
/// }
/// ```
public protocol OAuth2PasswordFlow: Sendable {
    /// The token endpoint's URL (relative to the API).
    static var tokenURL: String { get }
    /// The scopes and what each allows.
    static var scopes: [String: String] { get }
    /// The scheme's name in the OpenAPI document.
    static var schemeName: String { get }
}

extension OAuth2PasswordFlow {
    /// `OAuth2PasswordBearer`, as FastAPI names it.
    public static var schemeName: String { "OAuth2PasswordBearer" }
}

/// The bearer token of an OAuth2 password flow. Its resolver does not check scopes: the
/// dependency that verifies the token does, with the ``SecurityScopes`` it is given.
public struct OAuth2Token<Flow: OAuth2PasswordFlow>: Dependency {
    /// The token.
    public let token: String

    /// Reads the bearer token; 401 with `WWW-Authenticate: Bearer` when absent.
    public static var dependency: DependencyProvider<OAuth2Token> {
        let scopes = JSONObject(Flow.scopes.sorted { $0.key < $1.key }.map { (key: $0.key, value: .string($0.value)) })
        let scheme: JSONObject = [
            "type": "oauth2",
            "flows": ["password": ["scopes": .object(scopes), "tokenUrl": .string(Flow.tokenURL)]],
        ]
        return DependencyProvider(inputs: [], securityScheme: SecuritySchemeSpec(name: Flow.schemeName, scheme: scheme))
        {
            reader in
            guard let (kind, credentials) = authorization(reader.request), kind == "bearer", !credentials.isEmpty else {
                throw notAuthenticated("Bearer")
            }
            return OAuth2Token(token: credentials)
        }
    }
}

/// Where an API key travels.
public enum APIKeyLocation: String, Sendable {
    /// A header field.
    case header
    /// A query parameter.
    case query
    /// A cookie.
    case cookie
}

/// An API key scheme: the name the key travels under, and where.
///
/// ```swift
/// enum ServiceKey: APIKeyScheme { static let name = "X-API-Key"; static let location = APIKeyLocation.header }
/// ```
public protocol APIKeyScheme: Sendable {
    /// The header, query parameter or cookie name.
    static var name: String { get }
    /// Where the key travels.
    static var location: APIKeyLocation { get }
    /// The scheme's name in the OpenAPI document.
    static var schemeName: String { get }
}

extension APIKeyScheme {
    /// `APIKeyHeader`, `APIKeyQuery` or `APIKeyCookie`, as FastAPI names them.
    public static var schemeName: String { "APIKey" + location.rawValue.capitalized }
}

/// An API key read from a header, the query or a cookie; compare it with
/// ``constantTimeEquals(_:_:)``.
public struct APIKey<Scheme: APIKeyScheme>: Dependency {
    /// The key as sent.
    public let value: String

    /// Reads the key; 401 when absent.
    public static var dependency: DependencyProvider<APIKey> {
        let spec = SecuritySchemeSpec(
            name: Scheme.schemeName,
            scheme: ["type": "apiKey", "in": .string(Scheme.location.rawValue), "name": .string(Scheme.name)])
        return DependencyProvider(inputs: [], securityScheme: spec) { reader in
            let value: String?
            switch Scheme.location {
            case .header: value = reader.request.headers[Scheme.name]
            case .query: value = reader.request.query[Scheme.name]
            case .cookie: value = reader.request.cookies[Scheme.name]
            }
            guard let value, !value.isEmpty else { throw notAuthenticated("APIKey") }
            return APIKey(value: value)
        }
    }
}

/// The form of an OAuth2 password-flow token request (`grant_type=password`, `username`,
/// `password`, `scope`), read by the token endpoint.
public struct OAuth2PasswordRequest: Dependency {
    /// The user name.
    public let username: String
    /// The password.
    public let password: String
    /// The scopes asked for.
    public let scopes: [String]

    /// Reads the form fields; missing ones are a 422.
    public static var dependency: DependencyProvider<OAuth2PasswordRequest> {
        let grantType = FormField("grant_type", as: String?.self, constraints: Constraints(pattern: "^password$"))
        let username = FormField("username", as: String.self)
        let password = FormField("password", as: String.self)
        let scope = FormField("scope", as: String.self, default: "")
        return DependencyProvider(
            inputs: [
                .formField(grantType.spec), .formField(username.spec), .formField(password.spec),
                .formField(scope.spec),
            ]
        ) { reader in
            try await reader.loadFormBody()
            let mark = reader.mark
            _ = grantType.read(&reader)
            let name = username.read(&reader)
            let secret = password.read(&reader)
            let scopes = scope.read(&reader)
            guard reader.isClean(since: mark), let name, let secret, let scopes else { return nil }
            return OAuth2PasswordRequest(
                username: name, password: secret, scopes: scopes.split(separator: " ").map(String.init))
        }
    }
}
