import FasterAPICore

/// Something routes can be added to: the ``App`` or a ``RouteGroup``.
public protocol RouteRegistrar: Sendable {
    /// Adds a route; `handler` is the fully adapted handler.
    func register(_ method: HTTPMethod, _ path: String, tags: [String], handler: @escaping Next)
    /// Adds a typed route, with dependencies to resolve before it.
    func register(_ route: TypedRoute, dependencies: [RouteDependency])
}

extension RouteRegistrar {
    /// Adds a handler for `method` at `path`; it may return any ``ResponseConvertible``.
    public func on<R: ResponseConvertible>(
        _ method: HTTPMethod, _ path: String, tags: [String] = [],
        _ handler: @escaping @Sendable (Request) async throws -> R
    ) {
        register(method, path, tags: tags) { request in try await handler(request).response(for: request) }
    }

    /// Adds a handler for `method` at `path` whose result is sent as JSON.
    @_disfavoredOverload
    public func on<R: Encodable & Sendable>(
        _ method: HTTPMethod, _ path: String, tags: [String] = [],
        _ handler: @escaping @Sendable (Request) async throws -> R
    ) {
        register(method, path, tags: tags) { request in try JSONResponse.make(try await handler(request)) }
    }

    /// Adds a `GET` handler (which also answers `HEAD`).
    public func get<R: ResponseConvertible>(
        _ path: String, tags: [String] = [], _ handler: @escaping @Sendable (Request) async throws -> R
    ) { on(.get, path, tags: tags, handler) }

    /// Adds a `GET` handler whose result is sent as JSON.
    @_disfavoredOverload
    public func get<R: Encodable & Sendable>(
        _ path: String, tags: [String] = [], _ handler: @escaping @Sendable (Request) async throws -> R
    ) { on(.get, path, tags: tags, handler) }

    /// Adds a `POST` handler.
    public func post<R: ResponseConvertible>(
        _ path: String, tags: [String] = [], _ handler: @escaping @Sendable (Request) async throws -> R
    ) { on(.post, path, tags: tags, handler) }

    /// Adds a `POST` handler whose result is sent as JSON.
    @_disfavoredOverload
    public func post<R: Encodable & Sendable>(
        _ path: String, tags: [String] = [], _ handler: @escaping @Sendable (Request) async throws -> R
    ) { on(.post, path, tags: tags, handler) }

    /// Adds a `PUT` handler.
    public func put<R: ResponseConvertible>(
        _ path: String, tags: [String] = [], _ handler: @escaping @Sendable (Request) async throws -> R
    ) { on(.put, path, tags: tags, handler) }

    /// Adds a `PUT` handler whose result is sent as JSON.
    @_disfavoredOverload
    public func put<R: Encodable & Sendable>(
        _ path: String, tags: [String] = [], _ handler: @escaping @Sendable (Request) async throws -> R
    ) { on(.put, path, tags: tags, handler) }

    /// Adds a `PATCH` handler.
    public func patch<R: ResponseConvertible>(
        _ path: String, tags: [String] = [], _ handler: @escaping @Sendable (Request) async throws -> R
    ) { on(.patch, path, tags: tags, handler) }

    /// Adds a `PATCH` handler whose result is sent as JSON.
    @_disfavoredOverload
    public func patch<R: Encodable & Sendable>(
        _ path: String, tags: [String] = [], _ handler: @escaping @Sendable (Request) async throws -> R
    ) { on(.patch, path, tags: tags, handler) }

    /// Adds a `DELETE` handler.
    public func delete<R: ResponseConvertible>(
        _ path: String, tags: [String] = [], _ handler: @escaping @Sendable (Request) async throws -> R
    ) { on(.delete, path, tags: tags, handler) }

    /// Adds a `DELETE` handler whose result is sent as JSON.
    @_disfavoredOverload
    public func delete<R: Encodable & Sendable>(
        _ path: String, tags: [String] = [], _ handler: @escaping @Sendable (Request) async throws -> R
    ) { on(.delete, path, tags: tags, handler) }
}

/// Routes sharing a path prefix, tags and middleware.
///
/// ```swift
/// let v1 = app.group("/v1", tags: ["v1"], middleware: [RequireToken()])
/// v1.get("/items") { _ in items }
/// ```
public struct RouteGroup: RouteRegistrar {
    let app: App
    /// The path prefix ("" for none).
    public let prefix: String
    /// Tags added to every route in the group.
    public let tags: [String]
    /// Middleware run, after routing, for every route in the group (outermost first).
    public let middleware: [any Middleware]
    /// Dependencies resolved for every route in the group, before the route's own inputs.
    public let dependencies: [RouteDependency]

    /// A nested group.
    public func group(
        _ prefix: String, tags: [String] = [], middleware: [any Middleware] = [], dependencies: [RouteDependency] = []
    ) -> RouteGroup {
        RouteGroup(
            app: app, prefix: self.prefix + Self.normalize(prefix), tags: self.tags + tags,
            middleware: self.middleware + middleware, dependencies: self.dependencies + dependencies)
    }

    /// Adds a route under the group's prefix, with the group's tags, middleware and dependencies.
    public func register(_ method: HTTPMethod, _ path: String, tags: [String], handler: @escaping Next) {
        let full = path == "/" && !prefix.isEmpty ? prefix : prefix + path
        var handler = handler
        if !dependencies.isEmpty {
            let dependencies = self.dependencies
            let inner = handler
            handler = { request in
                try await InputReader.respond(to: request) { reader in
                    for dependency in dependencies { try await dependency.run(&reader) }
                    try reader.finish()
                    return try await inner(request)
                }
            }
        }
        app.addRoute(
            Route(method: method, path: full, tags: self.tags + tags, handler: handler, middleware: middleware))
    }

    /// Adds a typed route under the group's prefix, with the group's tags, middleware and
    /// dependencies (resolved before the route's own).
    public func register(_ route: TypedRoute, dependencies: [RouteDependency]) {
        var route = route
        route.path = route.path == "/" && !prefix.isEmpty ? prefix : prefix + route.path
        app.addRoute(
            route.route(dependencies: self.dependencies + dependencies, groupTags: tags, middleware: middleware))
    }

    /// `/v1/` and `v1` both become `/v1`; `/` becomes "".
    static func normalize(_ prefix: String) -> String {
        var result = prefix
        while result.hasSuffix("/") { result.removeLast() }
        if !result.isEmpty && !result.hasPrefix("/") { result = "/" + result }
        return result
    }
}

/// The innermost stage: finds the route and runs its chain; answers 404, 405, automatic HEAD
/// and OPTIONS, and trailing-slash redirects.
struct RoutingResponder: Sendable {
    private let router: CompiledRouter
    private let routes: [(pattern: String, chain: Next, middleware: [any Middleware])]
    private let trailingSlash: TrailingSlashBehavior
    private let errors: ErrorResponder

    init(routes: [Route], errors: ErrorResponder, trailingSlash: TrailingSlashBehavior) {
        var builder = RouterBuilder()
        var compiled: [(pattern: String, chain: Next, middleware: [any Middleware])] = []
        for (index, route) in routes.enumerated() {
            builder.add(route.method, route.path, route: index)
            let handler = route.handler
            let endpoint: Next = { request in
                do {
                    return try await handler(request)
                } catch {
                    return await errors.response(for: error, request: request)
                }
            }
            compiled.append((route.path, route.middleware.compose(around: endpoint, errors: errors), route.middleware))
        }
        self.router = builder.compile()
        self.routes = compiled
        self.trailingSlash = trailingSlash
        self.errors = errors
    }

    /// Answers `request`; routing failures (404, 405, redirects) are responses, so every
    /// middleware sees them as it sees handler errors.
    func respond(_ request: Request) async -> Response {
        do {
            return try await route(request)
        } catch {
            return await errors.response(for: error, request: request)
        }
    }

    private func route(_ request: Request) async throws -> Response {
        let (path, query) = Request.splitTarget(request.http.head.target)
        if let match = router.match(path) {
            return try await dispatch(request, match)
        }
        if trailingSlash != .strict, path.count > 1 {
            let alternative = path.hasSuffix("/") ? String(path.dropLast()) : path + "/"
            if let match = router.match(Substring(alternative)) {
                if trailingSlash == .ignore { return try await dispatch(request, match) }
                return Redirect(to: Redirect.localPath(alternative) + (query.map { "?\($0)" } ?? "")).response(
                    for: request)
            }
        }
        throw HTTPError(.notFound, detail: "Not Found")
    }

    private func dispatch(_ request: Request, _ match: CompiledRouter.Match) async throws -> Response {
        let handlers = router.handlers(at: match.node)
        let method = request.method
        var route = handlers.first { $0.method == method }?.route
        if route == nil, method == .head { route = handlers.first { $0.method == .get }?.route }
        if route == nil, method == .connect, request.http.head.connectProtocol != nil {
            // An HTTP/2 extended CONNECT (a WebSocket, RFC 8441) goes where HTTP/1.1's GET upgrade does.
            route = handlers.first { $0.method == .get }?.route
        }
        guard let route else {
            var allowed = handlers.map(\.method.rawValue)
            if handlers.contains(where: { $0.method == .get }) && !allowed.contains("HEAD") { allowed.append("HEAD") }
            if !allowed.contains("OPTIONS") { allowed.append("OPTIONS") }
            let allow = allowed.joined(separator: ", ")
            let errors = self.errors
            let answer: Next = { request in
                guard request.method == .options else {
                    let error = HTTPError(
                        .methodNotAllowed, detail: "Method Not Allowed", headers: HTTPHeaders([("Allow", allow)]))
                    return await errors.response(for: error, request: request)
                }
                return Response(status: .noContent, headers: HTTPHeaders([("Allow", allow)]))
            }
            // The automatic answer passes through the resource's group middleware (CORS, say).
            return try await routes[handlers[0].route].middleware.compose(around: answer, errors: errors)(request)
        }
        var request = request
        request.pathParameters = match.captures
        request.route = routes[route].pattern
        return try await routes[route].chain(request)
    }
}
