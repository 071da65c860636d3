import NIOCore

/// What a typed handler's generated code reads its inputs through, for one request: the request,
/// lazily parsed query, cookies, body and form, the per-request dependency scope, and the
/// problems found so far.
public struct InputReader: Sendable {
    /// The request being read.
    public let request: Request
    /// The problems found so far.
    public var context = ValidationContext()
    /// The OAuth2 scopes required along the current dependency path.
    public internal(set) var scopes: [String] = []
    private var cachedQuery: QueryParameters?
    private var cachedCookies: [String: String]?
    private(set) var body: BodyContent = .notRead
    private(set) var scopeStorage: RequestScope?

    /// A reader for `request`.
    public init(_ request: Request) { self.request = request }

    /// The request's dependency scope (cache, teardowns, background tasks), made on first use.
    public var scope: RequestScope {
        mutating get {
            if let scopeStorage { return scopeStorage }
            let scope = RequestScope()
            scopeStorage = scope
            return scope
        }
    }

    /// Answers `request` with `body`, given a reader for it; when the reader's scope was used,
    /// its background tasks and teardowns run after the response is sent, also when `body`
    /// failed (the error is answered here, so the teardown follows the error response).
    static func respond(
        to request: Request, _ body: (inout InputReader) async throws -> Response
    ) async throws -> Response {
        var reader = InputReader(request)
        var response: Response
        do {
            response = try await body(&reader)
        } catch {
            guard reader.existingScope != nil else { throw error }
            response = await request.app.errors.response(for: error, request: request)
        }
        if let scope = reader.existingScope { response.afterSent = { await scope.finish() } }
        return response
    }

    /// The scope, if anything has used it.
    public var existingScope: RequestScope? { scopeStorage }

    /// The number of problems found so far (compare with ``isClean(since:)``).
    public var mark: Int { context.issues.count }

    /// Whether no problem was found since `mark`.
    public func isClean(since mark: Int) -> Bool { context.issues.count == mark }

    /// Throws the 422 for every problem found.
    public func finish() throws(ValidationError) { try context.finish() }

    mutating func query() -> QueryParameters {
        if let cachedQuery { return cachedQuery }
        let query = request.query
        cachedQuery = query
        return query
    }

    mutating func cookies() -> [String: String] {
        if let cachedCookies { return cachedCookies }
        let cookies = request.cookies
        cachedCookies = cookies
        return cookies
    }

    /// The body as the route's inputs need it.
    enum BodyContent: Sendable {
        case notRead
        /// No body at all.
        case absent
        /// A JSON document (or, for a body that is not JSON, its text, as FastAPI reads it).
        case json(JSONValue)
        /// Form fields (URL-encoded or multipart) and uploaded files.
        case form(QueryParameters, [UploadedFile])
    }

    /// Reads the body before anything else, as FastAPI does: JSON that does not parse is the only
    /// problem reported.
    public mutating func loadJSONBody() async throws {
        guard case .notRead = body else { return }
        let buffer = try await request.body.collect(upTo: request.app.configuration.maxBodyBytes)
        guard buffer.readableBytes > 0 else {
            body = .absent
            return
        }
        guard Self.isJSON(request.headers["content-type"]) else {
            body = .json(.string(String(buffer: buffer)))
            return
        }
        do {
            body = .json(try JSONValue.parse(buffer))
        } catch  where !error.isSyntaxError {
            // Bytes that are not text, or nesting too deep: FastAPI answers these 400.
            throw HTTPError(.badRequest, detail: "There was an error parsing the body")
        } catch {
            throw ValidationError([
                ValidationIssue(
                    type: "json_invalid", loc: ["body", .index(error.position)], msg: "JSON decode error",
                    input: JSONValue.object([:]), ctx: ["error": .string(error.message)])
            ])
        }
    }

    /// Reads a URL-encoded or multipart body before anything else.
    public mutating func loadFormBody() async throws {
        guard case .notRead = body else { return }
        let contentType = request.headers["content-type"] ?? ""
        if MediaType.essence(of: contentType) == "multipart/form-data" {
            var fields: [(String, String)] = []
            var files: [UploadedFile] = []
            let reader = try request.multipart()
            for try await part in reader {
                let data = try await part.collect(upTo: request.app.configuration.maxBodyBytes)
                if let filename = part.filename {
                    files.append(
                        UploadedFile(
                            name: part.name ?? "", filename: filename, contentType: part.contentType, data: data))
                } else if let name = part.name {
                    fields.append((name, String(buffer: data)))
                }
            }
            body = .form(QueryParameters(fields), files)
        } else if MediaType.essence(of: contentType) == "application/x-www-form-urlencoded" {
            body = .form(try await request.form(), [])
        } else {
            body = .form(QueryParameters([]), [])
        }
    }

    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        if contentType == "application/json" { return true }
        let essence = MediaType.essence(of: contentType)
        return essence == "application/json" || (essence.hasPrefix("application/") && essence.hasSuffix("+json"))
    }
}

/// A file uploaded in a `multipart/form-data` body.
public struct UploadedFile: Sendable, SchemaDescribable {
    /// The form field's name.
    public var name: String
    /// The file name the client gave.
    public var filename: String
    /// The part's `Content-Type`, if given.
    public var contentType: String?
    /// The file's bytes.
    public var data: ByteBuffer

    /// A file from its parts.
    public init(name: String, filename: String, contentType: String?, data: ByteBuffer) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
        self.data = data
    }

    /// A binary string, as OpenAPI describes uploads.
    public static func jsonSchema(in registry: inout SchemaRegistry) -> JSONObject {
        ["type": "string", "format": "binary"]
    }
}
