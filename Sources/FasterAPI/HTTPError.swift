import FasterAPICore
import Foundation

/// An error that becomes an HTTP response with FastAPI's body shape: `{"detail": …}`.
///
/// ```swift
/// throw HTTPError(.notFound, detail: "Item not found")
/// ```
public struct HTTPError: HTTPStatusError, Sendable {
    /// The response status.
    public var status: HTTPStatus
    /// The `detail` value, already encoded as JSON.
    public var detailJSON: String
    /// Extra response headers (for example `WWW-Authenticate` or `Retry-After`).
    public var headers: HTTPHeaders

    /// An error with a text detail.
    public init(_ status: HTTPStatus, detail: String? = nil, headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.detailJSON = jsonQuoted(detail ?? status.reasonPhrase)
        self.headers = headers
    }

    /// An error whose detail is any JSON-encodable value.
    public init(_ status: HTTPStatus, detail: some Encodable, headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.detailJSON = (try? JSONCoding.encodeString(detail)) ?? jsonQuoted(status.reasonPhrase)
        self.headers = headers
    }

    /// The detail as text (the JSON for structured details).
    public var detail: String { detailJSON }

    /// The response this error is answered with.
    public var response: Response {
        var headers = self.headers
        headers.add(name: "Content-Type", value: "application/json")
        return Response(status: status, headers: headers, body: ResponseBody(string: "{\"detail\":\(detailJSON)}"))
    }
}

/// One problem found while reading a request's input, in FastAPI/Pydantic v2's shape.
public struct ValidationIssue: Sendable, Encodable, Equatable {
    /// A Pydantic error type such as `missing`, `int_parsing` or `json_invalid`.
    public var type: String
    /// Where: the source (`path`, `query`, `header`, `cookie`, `body`) then names or indices.
    public var loc: [LocationElement]
    /// A human-readable message.
    public var msg: String
    /// The offending input (`null` when the value was missing).
    public var input: JSONValue?
    /// Details for the message, such as the bound that was crossed (`{"ge": 0}`).
    public var ctx: JSONObject?

    /// An issue of Pydantic type `type` at `loc`.
    public init(type: String, loc: [LocationElement], msg: String, input: JSONValue? = nil, ctx: JSONObject? = nil) {
        self.type = type
        self.loc = loc
        self.msg = msg
        self.input = input
        self.ctx = ctx
    }

    /// An issue whose input was text (a path, query, header, cookie or form value).
    public init(type: String, loc: [LocationElement], msg: String, input: String?, ctx: JSONObject? = nil) {
        self.init(type: type, loc: loc, msg: msg, input: input.map(JSONValue.string), ctx: ctx)
    }

    /// A location step: a field name or an array index.
    public enum LocationElement: Sendable, Encodable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral
    {
        /// A field name.
        case key(String)
        /// An array index.
        case index(Int)
        /// A field name written as a string literal.
        public init(stringLiteral value: String) { self = .key(value) }
        /// An array index written as an integer literal.
        public init(integerLiteral value: Int) { self = .index(value) }
        /// Encodes the step as a bare string or number.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .key(let key): try container.encode(key)
            case .index(let index): try container.encode(index)
            }
        }
    }

    enum CodingKeys: String, CodingKey { case type, loc, msg, input, ctx }

    /// Encodes the issue in Pydantic's shape: `input` is `null` when there is none, `ctx` only
    /// when there is one.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(loc, forKey: .loc)
        try container.encode(msg, forKey: .msg)
        try container.encode(input ?? .null, forKey: .input)
        if let ctx { try container.encode(JSONValue.object(ctx), forKey: .ctx) }
    }
}

/// Invalid request input: answered with 422 and one ``ValidationIssue`` per problem.
public struct ValidationError: HTTPStatusError, Sendable {
    /// Every problem found.
    public var issues: [ValidationIssue]

    /// An error reporting `issues`.
    public init(_ issues: [ValidationIssue]) { self.issues = issues }

    /// Always 422 Unprocessable Content.
    public var status: HTTPStatus { .unprocessableContent }
    /// The issues as a JSON array.
    public var detail: String { (try? JSONCoding.encodeString(issues)) ?? "[]" }
}

/// Shared JSON coding: the decoder is made once and reused on every request.
enum JSONCoding {
    static let decoder = JSONDecoder()

    static func encodeString(_ value: some Encodable) throws -> String {
        try JSONWriter.string(value)
    }
}
