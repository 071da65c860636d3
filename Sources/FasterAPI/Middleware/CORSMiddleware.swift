import FasterAPICore

/// Cross-origin resource sharing (the Fetch standard's CORS protocol).
///
/// Answers preflight requests (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
/// itself — 200 with the allowed methods, headers and max age, or 400 when the origin, method or
/// a requested header is not allowed — and adds `Access-Control-Allow-Origin` (and, as
/// configured, `-Allow-Credentials` and `-Expose-Headers`) to responses for allowed origins.
/// With credentials the allowed origin is echoed, never `*`; `Vary: Origin` is set whenever the
/// answer depends on the origin.
public struct CORSMiddleware: Middleware {
    /// Which origins may make requests.
    public enum AllowedOrigins: Sendable {
        /// Every origin.
        case any
        /// Exactly these origins (scheme, host and port, e.g. `https://example.com`).
        case list([String])
        /// Origins the closure accepts.
        case custom(@Sendable (String) -> Bool)
    }

    /// Origins that may make cross-origin requests.
    public var allowedOrigins: AllowedOrigins
    /// Methods a preflight may ask for.
    public var allowedMethods: [HTTPMethod]
    /// Request headers a preflight may ask for (compared case-insensitively); nil allows any.
    public var allowedHeaders: [String]?
    /// Response headers scripts may read.
    public var exposedHeaders: [String]
    /// Whether cookies and credentials may be sent.
    public var allowCredentials: Bool
    /// How long a preflight answer may be cached, in seconds.
    public var maxAge: Int?

    /// A CORS policy. By default any origin may use the common methods with any request headers,
    /// without credentials, and preflight answers may be cached for 10 minutes.
    public init(
        allowedOrigins: AllowedOrigins = .any,
        allowedMethods: [HTTPMethod] = [.get, .head, .post, .put, .patch, .delete, .options],
        allowedHeaders: [String]? = nil,
        exposedHeaders: [String] = [],
        allowCredentials: Bool = false,
        maxAge: Int? = 600
    ) {
        self.allowedOrigins = allowedOrigins
        self.allowedMethods = allowedMethods
        self.allowedHeaders = allowedHeaders
        self.exposedHeaders = exposedHeaders
        self.allowCredentials = allowCredentials
        self.maxAge = maxAge
    }

    /// Answers preflight requests, and adds the CORS headers to responses for allowed origins.
    public func handle(_ request: Request, next: Next) async throws -> Response {
        guard let origin = request.headers["origin"] else { return try await next(request) }
        if request.method == .options, let requestedMethod = request.headers["access-control-request-method"] {
            return preflight(origin: origin, method: requestedMethod, request: request)
        }
        var response = try await next(request)
        guard isAllowed(origin) else { return response }
        response.headers.replaceOrAdd(name: "Access-Control-Allow-Origin", value: allowOriginValue(origin))
        if allowCredentials { response.headers.replaceOrAdd(name: "Access-Control-Allow-Credentials", value: "true") }
        if !exposedHeaders.isEmpty {
            response.headers.replaceOrAdd(
                name: "Access-Control-Expose-Headers", value: exposedHeaders.joined(separator: ", "))
        }
        if variesByOrigin { response.headers.addVary("Origin") }
        return response
    }

    private func preflight(origin: String, method: String, request: Request) -> Response {
        var headers = HTTPHeaders()
        if variesByOrigin { headers.add(name: "Vary", value: "Origin") }
        var failures: [String] = []
        if !isAllowed(origin) { failures.append("origin") }
        if !allowedMethods.contains(where: { $0.rawValue == method }) { failures.append("method") }
        let requested = (request.headers["access-control-request-headers"] ?? "")
            .split(separator: ",").map { $0.trimmingSpaces().lowercased() }.filter { !$0.isEmpty }
        if let allowedHeaders {
            let allowed = Set(allowedHeaders.map { $0.lowercased() })
            if requested.contains(where: { !allowed.contains($0) && !Self.safelisted.contains($0) }) {
                failures.append("headers")
            }
        }
        guard failures.isEmpty else {
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            return Response(
                status: .badRequest, headers: headers,
                body: ResponseBody(string: "Disallowed CORS \(failures.joined(separator: ", "))"))
        }
        headers.add(name: "Access-Control-Allow-Origin", value: allowOriginValue(origin))
        headers.add(name: "Access-Control-Allow-Methods", value: allowedMethods.map(\.rawValue).joined(separator: ", "))
        if let allowedHeaders {
            if !allowedHeaders.isEmpty {
                headers.add(name: "Access-Control-Allow-Headers", value: allowedHeaders.joined(separator: ", "))
            }
        } else if !requested.isEmpty {
            headers.add(name: "Access-Control-Allow-Headers", value: requested.joined(separator: ", "))
        }
        if allowCredentials { headers.add(name: "Access-Control-Allow-Credentials", value: "true") }
        if let maxAge { headers.add(name: "Access-Control-Max-Age", value: String(maxAge)) }
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        return Response(status: .ok, headers: headers, body: ResponseBody(string: "OK"))
    }

    private func isAllowed(_ origin: String) -> Bool {
        switch allowedOrigins {
        case .any: true
        case .list(let origins): origins.contains(origin)
        case .custom(let accepts): accepts(origin)
        }
    }

    private var variesByOrigin: Bool {
        if case .any = allowedOrigins { return allowCredentials }
        return true
    }

    private func allowOriginValue(_ origin: String) -> String {
        if case .any = allowedOrigins, !allowCredentials { return "*" }
        return origin
    }

    /// CORS-safelisted request headers (always allowed).
    static let safelisted: Set<String> = ["accept", "accept-language", "content-language", "content-type"]
}
