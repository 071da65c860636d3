import Foundation

/// The payload of a token: what an app's claims type conforms to.
///
/// The registered claims (`exp`, `nbf`, `iss`, `aud`) are always checked by
/// ``JWTAuthenticator/verify(_:as:)`` from the token itself, whatever the conforming type
/// declares, so these properties are for the app's own use; each has a default (`nil` or empty)
/// for types that do not carry that claim. `Date` properties travel as NumericDate (seconds since
/// 1970).
///
/// ```swift
/// struct UserClaims: JWTClaims {
///     var sub: String
///     var exp: Date
///     var role: String
///     var subject: String? { sub }
///     var expiresAt: Date? { exp }
/// }
/// ```
public protocol JWTClaims: Codable, Sendable {
    /// The principal the token is about (`sub`), usually a user ID.
    var subject: String? { get }
    /// When the token stops being valid (`exp`).
    var expiresAt: Date? { get }
    /// When the token starts being valid (`nbf`).
    var notBefore: Date? { get }
    /// Who issued the token (`iss`).
    var issuer: String? { get }
    /// Who the token is meant for (`aud`).
    var audience: [String] { get }
}

extension JWTClaims {
    /// No subject.
    public var subject: String? { nil }
    /// No expiry.
    public var expiresAt: Date? { nil }
    /// No start time.
    public var notBefore: Date? { nil }
    /// No issuer.
    public var issuer: String? { nil }
    /// No audience.
    public var audience: [String] { [] }
}

/// The registered claims of RFC 7519 plus OAuth 2.0's space-separated `scope` (RFC 8693 §4.2):
/// a ready-made payload for access tokens.
///
/// ```swift
/// let token = try await auth.sign(StandardClaims(sub: "alice", exp: .now + 1800, scope: "items:read"))
/// let claims = try await auth.verify(token, as: StandardClaims.self)
/// claims.scopes  // ["items:read"]
/// ```
///
/// Dates are written as whole seconds. `aud` is written as a string when it has one value and
/// read from either a string or an array.
public struct StandardClaims: JWTClaims, Equatable {
    /// Subject: who the token is about.
    public var sub: String?
    /// Expiration time.
    public var exp: Date?
    /// Not-before time.
    public var nbf: Date?
    /// Issued-at time.
    public var iat: Date?
    /// Issuer.
    public var iss: String?
    /// Audience: the recipients the token is meant for.
    public var aud: [String]
    /// OAuth 2.0 scopes, space-separated.
    public var scope: String?

    /// Claims with the given values; absent ones are left out of the token.
    public init(
        sub: String? = nil, exp: Date? = nil, nbf: Date? = nil, iat: Date? = nil, iss: String? = nil,
        aud: [String] = [], scope: String? = nil
    ) {
        self.sub = sub
        self.exp = exp
        self.nbf = nbf
        self.iat = iat
        self.iss = iss
        self.aud = aud
        self.scope = scope
    }

    /// The scopes in ``scope``, split on spaces.
    public var scopes: [String] { scope?.split(separator: " ").map(String.init) ?? [] }

    /// ``sub``.
    public var subject: String? { sub }
    /// ``exp``.
    public var expiresAt: Date? { exp }
    /// ``nbf``.
    public var notBefore: Date? { nbf }
    /// ``iss``.
    public var issuer: String? { iss }
    /// ``aud``.
    public var audience: [String] { aud }

    enum CodingKeys: String, CodingKey { case sub, exp, nbf, iat, iss, aud, scope }

    /// Reads the claims from a JWT payload; unknown claims are ignored.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sub = try container.decodeIfPresent(String.self, forKey: .sub)
        exp = try container.decodeIfPresent(NumericDate.self, forKey: .exp)?.date
        nbf = try container.decodeIfPresent(NumericDate.self, forKey: .nbf)?.date
        iat = try container.decodeIfPresent(NumericDate.self, forKey: .iat)?.date
        iss = try container.decodeIfPresent(String.self, forKey: .iss)
        aud = try container.decodeIfPresent(Audience.self, forKey: .aud)?.values ?? []
        scope = try container.decodeIfPresent(String.self, forKey: .scope)
    }

    /// Writes the claims that are present, dates as whole seconds since 1970.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(sub, forKey: .sub)
        try container.encodeIfPresent(exp.map(NumericDate.init), forKey: .exp)
        try container.encodeIfPresent(nbf.map(NumericDate.init), forKey: .nbf)
        try container.encodeIfPresent(iat.map(NumericDate.init), forKey: .iat)
        try container.encodeIfPresent(iss, forKey: .iss)
        if !aud.isEmpty { try container.encode(Audience(values: aud), forKey: .aud) }
        try container.encodeIfPresent(scope, forKey: .scope)
    }
}

/// A JSON number of seconds since 1970 (RFC 7519 §2), written as a whole number.
struct NumericDate: Codable {
    var date: Date

    init(_ date: Date) { self.date = date }

    init(from decoder: any Decoder) throws {
        let seconds = try decoder.singleValueContainer().decode(Double.self)
        guard seconds.isFinite else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a date"))
        }
        date = Date(timeIntervalSince1970: seconds)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        let seconds = date.timeIntervalSince1970.rounded(.down)
        if abs(seconds) < 1e15 { try container.encode(Int64(seconds)) } else { try container.encode(seconds) }
    }
}

/// The `aud` claim: one string, or an array of strings (RFC 7519 §4.1.3).
struct Audience: Codable {
    var values: [String]

    init(values: [String]) { self.values = values }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let single = try? container.decode(String.self) {
            values = [single]
        } else {
            values = try container.decode([String].self)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if values.count == 1 { try container.encode(values[0]) } else { try container.encode(values) }
    }
}
