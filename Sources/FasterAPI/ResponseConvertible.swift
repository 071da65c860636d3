import FasterAPICore
import Foundation
import NIOCore

/// A value a handler can return: it knows how to become a ``Response``.
///
/// `String`, `HTTPStatus`, `ByteBuffer`, ``Response``, ``HTML``, ``JSON``, ``Redirect``,
/// ``FileResponse`` and ``StreamingResponse`` conform. Handlers may also return any `Encodable`
/// value, which is sent as JSON.
public protocol ResponseConvertible: Sendable {
    /// The response for `request`.
    func response(for request: Request) async throws -> Response
}

extension Response: ResponseConvertible {
    /// The response itself.
    public func response(for request: Request) -> Response { self }
}

extension String: ResponseConvertible {
    /// Sent as `text/plain; charset=utf-8`.
    public func response(for request: Request) -> Response {
        Response(status: .ok, headers: ContentType.headers(ContentType.plainText), body: ResponseBody(string: self))
    }
}

extension HTTPStatus: ResponseConvertible {
    /// A response with this status and no body.
    public func response(for request: Request) -> Response { Response(status: self) }
}

extension ByteBuffer: ResponseConvertible {
    /// Sent as `application/octet-stream`.
    public func response(for request: Request) -> Response {
        Response(
            status: .ok, headers: ContentType.headers("application/octet-stream"), body: ResponseBody(buffer: self))
    }
}

/// An HTML document.
public struct HTML: ResponseConvertible {
    /// The markup.
    public var html: String
    /// The status.
    public var status: HTTPStatus

    /// A document with `status` (200 by default).
    public init(_ html: String, status: HTTPStatus = .ok) {
        self.html = html
        self.status = status
    }

    /// Sent as `text/html; charset=utf-8`.
    public func response(for request: Request) -> Response {
        Response(
            status: status, headers: ContentType.headers("text/html; charset=utf-8"), body: ResponseBody(string: html))
    }
}

/// A JSON response with a chosen status and headers.
public struct JSON<Value: Encodable & Sendable>: ResponseConvertible {
    /// The value to encode.
    public var value: Value
    /// The status.
    public var status: HTTPStatus
    /// Extra headers.
    public var headers: HTTPHeaders

    /// `value` as JSON, with `status` and extra `headers`.
    public init(_ value: Value, status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders()) {
        self.value = value
        self.status = status
        self.headers = headers
    }

    /// `value` encoded as `application/json`, with the extra headers.
    public func response(for request: Request) throws -> Response {
        var response = try JSONResponse.make(value, status: status)
        for (name, value) in headers { response.headers.add(name: name, value: value) }
        return response
    }
}

/// A redirect to another location.
public struct Redirect: ResponseConvertible {
    /// Where to.
    public var location: String
    /// 307 by default (method and body kept); 301, 302, 303 and 308 are the alternatives.
    public var status: HTTPStatus

    /// A redirect to `location`, 307 by default.
    public init(to location: String, status: HTTPStatus = .temporaryRedirect) {
        self.location = location
        self.status = status
    }

    /// A bodiless response with `Location` set.
    public func response(for request: Request) -> Response {
        var headers = HTTPHeaders()
        headers.add(name: "Location", value: location)
        return Response(status: status, headers: headers)
    }

    /// A request path made safe to send back as a `Location`: leading slashes collapse to one,
    /// so `//evil.example/` cannot become a protocol-relative redirect to another host.
    static func localPath(_ path: some StringProtocol) -> String {
        let trimmed = path.drop { $0 == "/" || $0 == "\\" }
        return "/" + trimmed
    }
}

/// A response whose body is produced while it is sent.
public struct StreamingResponse: ResponseConvertible {
    /// The status.
    public var status: HTTPStatus
    /// Headers; `Content-Type` defaults to `application/octet-stream`.
    public var headers: HTTPHeaders
    let produce: @Sendable (ResponseBodyWriter) async throws -> Void

    /// A streamed response; `produce` writes the body and may suspend between writes.
    public init(
        status: HTTPStatus = .ok, contentType: String = "application/octet-stream",
        headers: HTTPHeaders = HTTPHeaders(),
        produce: @escaping @Sendable (ResponseBodyWriter) async throws -> Void
    ) {
        self.status = status
        var headers = headers
        if !headers.contains("content-type") { headers.add(name: "Content-Type", value: contentType) }
        self.headers = headers
        self.produce = produce
    }

    /// The response, its body streamed from `produce`.
    public func response(for request: Request) -> Response {
        Response(status: status, headers: headers, body: ResponseBody(produce: produce))
    }
}

extension Response {
    /// Adds a `Set-Cookie` header.
    public mutating func setCookie(_ cookie: SetCookie) {
        headers.add(name: "Set-Cookie", value: cookie.headerValue)
    }
}

/// A cookie to set on the client (RFC 6265).
public struct SetCookie: Sendable {
    /// The `SameSite` attribute: whether the cookie is sent with cross-site requests.
    public enum SameSite: String, Sendable {
        /// Sent only on same-site requests.
        case strict = "Strict"
        /// Sent on same-site requests and top-level navigations to the site.
        case lax = "Lax"
        /// Sent on every request (requires `Secure`).
        case none = "None"
    }

    /// The cookie's name.
    public var name: String
    /// The cookie's value; bytes a cookie value may not hold are percent-encoded when sent.
    public var value: String
    /// Seconds until the cookie expires (`Max-Age`); zero or less deletes it.
    public var maxAge: Int?
    /// When the cookie expires (`Expires`).
    public var expires: Date?
    /// The path the cookie is sent for, with its subpaths (`Path`).
    public var path: String?
    /// The domain the cookie is sent to, with its subdomains (`Domain`); nil for the setting host only.
    public var domain: String?
    /// Whether the cookie is sent over HTTPS only (`Secure`); `SameSite=None` implies it.
    public var secure: Bool
    /// Whether scripts are denied access to the cookie (`HttpOnly`).
    public var httpOnly: Bool
    /// Whether the cookie is sent with cross-site requests (`SameSite`).
    public var sameSite: SameSite?

    /// A cookie. By default it is sent for every path, hidden from scripts, `SameSite=Lax`, and
    /// kept until the browser session ends.
    public init(
        name: String, value: String, maxAge: Int? = nil, expires: Date? = nil, path: String? = "/",
        domain: String? = nil, secure: Bool = false, httpOnly: Bool = true, sameSite: SameSite? = .lax
    ) {
        self.name = name
        self.value = value
        self.maxAge = maxAge
        self.expires = expires
        self.path = path
        self.domain = domain
        self.secure = secure
        self.httpOnly = httpOnly
        self.sameSite = sameSite
    }

    /// The `Set-Cookie` header value. Bytes a cookie value may not hold (RFC 6265 §4.1.1: space,
    /// `"`, `,`, `;`, `\\`, controls, non-ASCII) are percent-encoded, and the name and attribute
    /// values are stripped of anything that could start another attribute, so input placed in a
    /// cookie cannot add its own `Domain` or `Path`.
    public var headerValue: String {
        var parts = ["\(Self.token(name))=\(Self.cookieOctets(value))"]
        if let maxAge { parts.append("Max-Age=\(maxAge)") }
        if let expires { parts.append("Expires=\(HTTPDate.format(expires))") }
        if let path { parts.append("Path=\(Self.attribute(path))") }
        if let domain { parts.append("Domain=\(Self.attribute(domain))") }
        if secure || sameSite == SameSite.none { parts.append("Secure") }
        if httpOnly { parts.append("HttpOnly") }
        if let sameSite { parts.append("SameSite=\(sameSite.rawValue)") }
        return parts.joined(separator: "; ")
    }

    private static func token(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.filter { $0.isASCII && HTTPByteClass.isTokenByte(UInt8($0.value)) }))
    }

    private static func cookieOctets(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            let allowed =
                byte == 0x21 || (0x23...0x2B).contains(byte) || (0x2D...0x3A).contains(byte)
                || (0x3C...0x5B).contains(byte) || (0x5D...0x7E).contains(byte)
            if allowed && byte != UInt8(ascii: "%") {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return result
    }

    private static func attribute(_ text: String) -> String {
        String(
            String.UnicodeScalarView(text.unicodeScalars.filter { $0 != ";" && $0.value >= 0x20 && $0.value != 0x7F }))
    }
}

/// Content types used by the built-in responses.
enum ContentType {
    static let plainText = "text/plain; charset=utf-8"
    static let json = "application/json"

    /// A header list holding only `Content-Type`; the common ones are built once.
    static func headers(_ value: String) -> HTTPHeaders {
        switch value {
        case plainText: plainTextHeaders
        case json: jsonHeaders
        default: HTTPHeaders([("Content-Type", value)])
        }
    }

    private static let plainTextHeaders = HTTPHeaders([("Content-Type", plainText)])
    private static let jsonHeaders = HTTPHeaders([("Content-Type", json)])
}

/// Encodes values as JSON responses.
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPStatus = .ok) throws -> Response {
        Response(
            status: status, headers: ContentType.headers(ContentType.json),
            body: ResponseBody(buffer: try JSONWriter.encode(value)))
    }
}

/// HTTP dates (RFC 9110 §5.6.7), without a `DateFormatter` per call.
enum HTTPDate {
    /// `date` as an IMF-fixdate.
    static func format(_ date: Date) -> String {
        DateCache.format(time_t(date.timeIntervalSince1970.rounded(.down)))
    }

    /// Parses an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT` (the form senders must use).
    static func parse(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
            let day = Int(parts[1]), let month = months.firstIndex(of: String(parts[2])), let year = Int(parts[3])
        else { return nil }
        let clock = parts[4].split(separator: ":")
        guard clock.count == 3, let hour = Int(clock[0]), let minute = Int(clock[1]), let second = Int(clock[2]),
            (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        var fields = tm()
        fields.tm_year = Int32(year - 1900)
        fields.tm_mon = Int32(month)
        fields.tm_mday = Int32(day)
        fields.tm_hour = Int32(hour)
        fields.tm_min = Int32(minute)
        fields.tm_sec = Int32(second)
        return Date(timeIntervalSince1970: TimeInterval(timegm(&fields)))
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}
