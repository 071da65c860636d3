import FasterAPICore
import Foundation
import NIOCore

/// A request as handlers and middleware see it.
///
/// Wraps the protocol-neutral ``HTTPRequest`` with what routing found (path parameters) and
/// convenient readers for the query, cookies and body. It is a value: middleware can change a
/// copy and pass it on.
public struct Request: Sendable {
    /// The request as the protocol codec delivered it.
    public var http: HTTPRequest
    /// The path parameters captured by the route, percent-decoded, in pattern order.
    public internal(set) var pathParameters: [(name: String, value: String)] = []
    /// The route pattern that matched (for example `/users/{id}`), once routed.
    public internal(set) var route: String?
    /// Values that middleware attach for later stages, keyed by type.
    public var storage = RequestStorage()
    /// The application serving the request.
    public let app: AppContext

    init(_ http: consuming HTTPRequest, app: AppContext) {
        self.http = http
        self.app = app
    }

    /// The request method.
    public var method: HTTPMethod { http.head.method }
    /// The header fields.
    public var headers: HTTPHeaders {
        get { http.head.headers }
        set { http.head.headers = newValue }
    }
    /// The body (read it with ``json(_:maxBytes:)``, ``form(maxBytes:)``, ``multipart()`` or
    /// ``RequestBody/collect(upTo:)``, or iterate it to stream).
    public var body: RequestBody { http.body }
    /// The client's address.
    public var clientAddress: SocketAddress? { http.connection.remoteAddress }

    /// The path, percent-decoded, without the query (Starlette's `request.url.path`).
    public var path: String {
        var raw = Self.splitTarget(http.head.target).path
        return raw.withUTF8 { FormURLEncoded.decode($0, plusAsSpace: false, lenient: true) } ?? String(raw)
    }

    /// The path exactly as sent (still percent-encoded), without the query.
    public var rawPath: Substring { Self.splitTarget(http.head.target).path }

    /// The raw query string (after `?`), if any.
    public var queryString: Substring? { Self.splitTarget(http.head.target).query }

    /// The query parameters, percent-decoded; repeated keys keep every value in order.
    public var query: QueryParameters {
        guard let query = queryString else { return QueryParameters([]) }
        return QueryParameters((try? FormURLEncoded.parse(query.utf8, lenient: true)) ?? [])
    }

    /// The cookies sent in `Cookie` headers.
    public var cookies: [String: String] {
        var result: [String: String] = [:]
        for header in headers.values(for: "cookie") {
            for pair in header.split(separator: ";") {
                let pair = pair.drop { $0 == " " }
                guard let equals = pair.firstIndex(of: "=") else { continue }
                var value = pair[pair.index(after: equals)...]
                if value.count >= 2, value.first == "\"", value.last == "\"" { value = value.dropFirst().dropLast() }
                let name = String(pair[..<equals])
                if result[name] == nil { result[name] = String(value) }
            }
        }
        return result
    }

    /// The path parameter called `name` as text.
    public func path(_ name: String) throws -> String {
        guard let value = pathParameters.first(where: { $0.name == name })?.value else {
            app.logger.error("The route \(route ?? "?") has no path parameter '\(name)'")
            throw HTTPError(.internalServerError, detail: "Internal Server Error")
        }
        return value
    }

    /// The path parameter called `name`, converted with the typed layer's rules; an
    /// unconvertible value is a 422.
    public func path<T: TextInput>(_ name: String, as type: T.Type) throws -> T {
        try ValidationContext.convert(try path(name), to: T.self, at: ["path", .key(name)])
    }

    /// Decodes the body as JSON; malformed JSON or the wrong shape is a 422 with the problems.
    public func json<T: Decodable>(_ type: T.Type = T.self, maxBytes: Int? = nil) async throws -> T {
        let buffer = try await body.collect(upTo: maxBytes ?? app.configuration.maxBodyBytes)
        return try JSONBody.decode(T.self, from: buffer)
    }

    /// Reads an `application/x-www-form-urlencoded` body.
    public func form(maxBytes: Int? = nil) async throws -> QueryParameters {
        let buffer = try await body.collect(upTo: maxBytes ?? app.configuration.maxBodyBytes)
        do {
            return QueryParameters(try FormURLEncoded.parse(buffer.readableBytesView))
        } catch {
            throw HTTPError(.badRequest, detail: "Invalid form body: \(error.reason)")
        }
    }

    /// Splits a request target into path and query, accepting origin-form and absolute-form.
    static func splitTarget(_ target: String) -> (path: Substring, query: Substring?) {
        let bytes = target.utf8
        var start = bytes.startIndex
        if bytes.first != UInt8(ascii: "/"), let scheme = target.range(of: "://") {
            // absolute-form (RFC 9112 §3.2.2): drop the scheme and authority.
            start = target[scheme.upperBound...].utf8.firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
            if start == bytes.endIndex { return ("/", nil) }
        }
        guard let question = bytes[start...].firstIndex(of: UInt8(ascii: "?")) else { return (target[start...], nil) }
        return (target[start..<question], target[bytes.index(after: question)...])
    }
}

/// Query or form parameters: ordered, with repeated keys.
public struct QueryParameters: Sendable, Sequence {
    /// Every pair, in order.
    public let pairs: [(name: String, value: String)]

    /// Parameters from `(name, value)` pairs, in order.
    public init(_ pairs: [(String, String)]) { self.pairs = pairs.map { (name: $0.0, value: $0.1) } }

    /// The first value for `name`.
    public subscript(name: String) -> String? { pairs.first { $0.name == name }?.value }

    /// Every value for `name`, in order.
    public func values(for name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }

    /// The first value for `name`, converted with the typed layer's rules; nil if absent, 422
    /// if unconvertible.
    public func get<T: TextInput>(_ name: String, as type: T.Type) throws -> T? {
        guard let text = self[name] else { return nil }
        return try ValidationContext.convert(text, to: T.self, at: ["query", .key(name)])
    }

    /// Iterates the pairs in order.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { pairs.makeIterator() }
}

/// Values attached to a request by middleware, keyed by their type.
public struct RequestStorage: Sendable {
    private var values: [ObjectIdentifier: any Sendable] = [:]

    /// Empty storage.
    public init() {}

    /// The value of type `T`, if one was stored.
    public subscript<T: Sendable>(_ type: T.Type) -> T? {
        get { values[ObjectIdentifier(type)] as? T }
        set { values[ObjectIdentifier(type)] = newValue }
    }
}

/// JSON bodies: decoding with FastAPI-shaped errors.
enum JSONBody {
    static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        guard buffer.readableBytes > 0 else {
            throw ValidationError([ValidationIssue(type: "missing", loc: ["body"], msg: "Field required")])
        }
        do {
            return try buffer.withUnsafeReadableBytes { raw in
                try JSONCoding.decoder.decode(T.self, from: Data(raw))
            }
        } catch let error as DecodingError {
            throw ValidationError([issue(for: error, body: buffer)])
        }
    }

    static func issue(for error: DecodingError, body: ByteBuffer) -> ValidationIssue {
        func location(_ path: [any CodingKey], _ last: (any CodingKey)? = nil) -> [ValidationIssue.LocationElement] {
            var result: [ValidationIssue.LocationElement] = ["body"]
            for key in path + (last.map { [$0] } ?? []) {
                if let index = key.intValue {
                    result.append(.index(index))
                } else {
                    result.append(.key(key.stringValue))
                }
            }
            return result
        }
        switch error {
        case .keyNotFound(let key, let context):
            return ValidationIssue(type: "missing", loc: location(context.codingPath, key), msg: "Field required")
        case .valueNotFound(_, let context):
            return ValidationIssue(type: "missing", loc: location(context.codingPath), msg: "Field required")
        case .typeMismatch(let type, let context):
            let loc = location(context.codingPath)
            switch type {
            case is any BinaryInteger.Type:
                return ValidationIssue(
                    type: "int_parsing", loc: loc,
                    msg: "Input should be a valid integer, unable to parse string as an integer")
            case is any BinaryFloatingPoint.Type:
                return ValidationIssue(
                    type: "float_parsing", loc: loc,
                    msg: "Input should be a valid number, unable to parse string as a number")
            case is Bool.Type:
                return ValidationIssue(
                    type: "bool_parsing", loc: loc, msg: "Input should be a valid boolean, unable to interpret input")
            case is String.Type:
                return ValidationIssue(type: "string_type", loc: loc, msg: "Input should be a valid string")
            default:
                return ValidationIssue(
                    type: "model_attributes_type", loc: loc,
                    msg: "Input should be a valid dictionary or object to extract fields from")
            }
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return ValidationIssue(type: "json_invalid", loc: ["body"], msg: "JSON decode error")
        case .dataCorrupted(let context):
            return ValidationIssue(
                type: "value_error", loc: location(context.codingPath), msg: context.debugDescription)
        @unknown default:
            return ValidationIssue(type: "value_error", loc: ["body"], msg: "\(error)")
        }
    }
}
