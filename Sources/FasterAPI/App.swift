/// FasterAPI: the framework layer — `App`, routing, middleware, request readers, responses,
/// errors, static files and the test client. It sits above the `HTTPResponder` line and must not
/// know about sockets or protocol details.
@_exported import FasterAPICore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Dispatch
#if canImport(Glibc)
    import Glibc
#endif

/// Application-wide settings.
public struct AppConfiguration: Sendable {
    /// Server settings: address, limits and timeouts.
    public var server = ServerConfiguration()
    /// What to do when a path differs from a route only by a trailing slash.
    public var trailingSlash = TrailingSlashBehavior.redirect
    /// Largest body the JSON and form readers accept (413 above it).
    public var maxBodyBytes = 1024 * 1024
    /// The OpenAPI document and docs page.
    public var openAPI = OpenAPIConfiguration()

    /// The default configuration.
    public init() {}
}

/// A registered route.
public struct Route: Sendable {
    /// The method it answers.
    public let method: HTTPMethod
    /// The path pattern, for example `/users/{id}`.
    public let path: String
    /// Tags, from the route and its groups.
    public let tags: [String]
    /// The OpenAPI documentation of a typed route (nil for a closure route).
    public let operation: OperationDoc?
    /// A typed route's inputs, for the documentation.
    public let inputs: [InputSpec]
    let handler: Next
    let middleware: [any Middleware]

    init(
        method: HTTPMethod, path: String, tags: [String], operation: OperationDoc? = nil, inputs: [InputSpec] = [],
        handler: @escaping Next, middleware: [any Middleware]
    ) {
        self.method = method
        self.path = path
        self.tags = tags
        self.operation = operation
        self.inputs = inputs
        self.handler = handler
        self.middleware = middleware
    }
}

/// A FasterAPI application: routes, middleware, state and lifecycle hooks.
///
/// ```swift
/// let app = App()
/// app.get("/") { _ in "Hello, World!" }
/// app.get("/users/{id}") { req in User(id: try req.path("id", as: Int.self)) }
/// try await app.run(host: "127.0.0.1", port: 8000)
/// ```
///
/// Configure it (routes, middleware, hooks) before it starts; the routing table and middleware
/// chains are built once, when it starts serving.
public final class App: RouteRegistrar, Sendable {
    private struct Setup {
        var configuration: AppConfiguration
        var routes: [Route] = []
        var middleware: [any Middleware] = []
        var errorHandlers: [ErrorResponder.Handler] = []
        var dependencyOverrides = DependencyOverrides()
        var startup: [@Sendable (App) async throws -> Void] = []
        var shutdown: [@Sendable (App) async throws -> Void] = []
        var services: [any Service] = []
    }

    private let setup: NIOLockedValueBox<Setup>
    /// Typed application state, shared with every request.
    public let state = AppState()
    /// The application's logger.
    public let logger: Logger

    /// Creates an application.
    public init(configuration: AppConfiguration = AppConfiguration(), logger: Logger = Logger(label: "FasterAPI")) {
        self.setup = NIOLockedValueBox(Setup(configuration: configuration))
        self.logger = logger
    }

    /// The configuration; change it before the app starts.
    public var configuration: AppConfiguration {
        get { setup.withLockedValue { $0.configuration } }
        set { setup.withLockedValue { $0.configuration = newValue } }
    }

    /// Replacements for dependencies (for tests); set them before the app starts serving.
    public var dependencyOverrides: DependencyOverrides {
        get { setup.withLockedValue { $0.dependencyOverrides } }
        set { setup.withLockedValue { $0.dependencyOverrides = newValue } }
    }

    /// Every registered route, in registration order.
    public var routes: [Route] { setup.withLockedValue { $0.routes } }

    /// Adds middleware that runs for every request (including 404s), outermost first.
    public func add(middleware: any Middleware...) {
        setup.withLockedValue { $0.middleware.append(contentsOf: middleware) }
    }

    /// Answers errors of type `E` thrown by handlers or middleware with a custom response.
    public func errorHandler<E: Error>(
        for type: E.Type, _ handler: @escaping @Sendable (Request, E) async throws -> Response
    ) {
        setup.withLockedValue {
            $0.errorHandlers.append { request, error in
                guard let error = error as? E else { return nil }
                return try await handler(request, error)
            }
        }
    }

    /// Runs `hook` when the app starts, before it accepts connections.
    public func onStartup(_ hook: @escaping @Sendable (App) async throws -> Void) {
        setup.withLockedValue { $0.startup.append(hook) }
    }

    /// Runs `hook` after the server has stopped.
    public func onShutdown(_ hook: @escaping @Sendable (App) async throws -> Void) {
        setup.withLockedValue { $0.shutdown.append(hook) }
    }

    /// Runs `service` (a connection pool, a listener…) for as long as the app runs: it starts
    /// before the start-up hooks, and is shut down after the server has drained its requests and
    /// the shutdown hooks have run.
    public func addService(_ service: any Service) {
        setup.withLockedValue { $0.services.append(service) }
    }

    /// The services added with ``addService(_:)``, in order: run them beside ``makeServer(host:port:onStart:)``
    /// when you build your own `ServiceGroup`.
    public var services: [any Service] { setup.withLockedValue { $0.services } }

    /// Creates a group of routes sharing a path prefix, tags, middleware and dependencies.
    public func group(
        _ prefix: String, tags: [String] = [], middleware: [any Middleware] = [], dependencies: [RouteDependency] = []
    ) -> RouteGroup {
        RouteGroup(
            app: self, prefix: RouteGroup.normalize(prefix), tags: tags, middleware: middleware,
            dependencies: dependencies)
    }

    /// Adds a route to the app; `handler` is the fully adapted handler.
    public func register(
        _ method: HTTPMethod, _ path: String, tags: [String], handler: @escaping Next
    ) {
        addRoute(Route(method: method, path: path, tags: tags, handler: handler, middleware: []))
    }

    /// Adds a typed route, with dependencies to resolve before it.
    public func register(_ route: TypedRoute, dependencies: [RouteDependency]) {
        addRoute(route.route(dependencies: dependencies, groupTags: [], middleware: []))
    }

    func addRoute(_ route: Route) {
        setup.withLockedValue { $0.routes.append(route) }
    }

    /// Builds the responder: the routing table and middleware chains, composed once.
    public func makeResponder() -> some HTTPResponder {
        let setup = self.setup.withLockedValue { $0 }
        let errors = ErrorResponder(handlers: setup.errorHandlers, logger: logger)
        let context = AppContext(
            state: state, logger: logger, configuration: setup.configuration, errors: errors,
            dependencyOverrides: setup.dependencyOverrides)
        let routing = RoutingResponder(
            routes: Self.checked(setup.routes, state: state, overrides: setup.dependencyOverrides)
                + Self.documentationRoutes(setup),
            errors: errors, trailingSlash: setup.configuration.trailingSlash)
        let entry = setup.middleware.compose(around: routing.respond, errors: errors)
        return AppResponder(context: context, entry: entry, errors: errors)
    }

    /// The routes serving the OpenAPI document and the docs page, as configured.
    private static func documentationRoutes(_ setup: Setup) -> [Route] {
        let settings = setup.configuration.openAPI
        guard let documentPath = settings.documentPath else { return [] }
        let document = OpenAPIBuilder(configuration: settings).document(for: setup.routes)
        let json = (try? JSONWriter.encode(JSONValue.object(document))) ?? ByteBuffer()
        var routes = [
            Route(
                method: .get, path: documentPath, tags: [],
                handler: { _ in
                    Response(
                        headers: HTTPHeaders([("Content-Type", "application/json")]), body: ResponseBody(buffer: json))
                }, middleware: [])
        ]
        if let docsPath = settings.docsPath {
            let page = HTML(DocsPage.html(title: settings.title, openAPIURL: documentPath))
            routes.append(
                Route(
                    method: .get, path: docsPath, tags: [], handler: { request in page.response(for: request) },
                    middleware: []))
        }
        return routes
    }

    /// Fails at start-up, naming the route, on declarations that cannot work: a regular
    /// expression that does not compile, a singleton dependency missing from `state`.
    private static func checked(_ routes: [Route], state: AppState, overrides: DependencyOverrides) -> [Route] {
        func check(_ inputs: [InputSpec], route: Route) {
            for input in inputs {
                switch input {
                case .parameter(let spec):
                    if let pattern = spec.constraints?.pattern, !pattern.isValid {
                        preconditionFailure(
                            "\(route.method) \(route.path): the pattern of '\(spec.name)' does not compile: \(pattern.source)"
                        )
                    }
                case .body, .formField:
                    break
                case .dependency(let dependency):
                    if let singleton = dependency.singleton, !state.contains(singleton), overrides[singleton] == nil {
                        preconditionFailure(
                            "\(route.method) \(route.path): dependency \(dependency.name) is neither a Dependency nor in app.state; set app.state[\(dependency.name).self] before the app starts"
                        )
                    }
                    check(dependency.inputs, route: route)
                }
            }
        }
        for route in routes { check(route.inputs, route: route) }
        return routes
    }

    /// Runs the start-up hooks.
    public func runStartupHooks() async throws {
        for hook in setup.withLockedValue({ $0.startup }) { try await hook(self) }
    }

    /// Runs the shutdown hooks; failures are logged.
    public func runShutdownHooks() async {
        for hook in setup.withLockedValue({ $0.shutdown }) {
            do { try await hook(self) } catch { logger.error("Shutdown hook failed: \(error)") }
        }
    }

    /// Makes the HTTP server as a service, for running in your own `ServiceGroup`.
    public func makeServer(
        host: String? = nil, port: Int? = nil, onStart: @escaping @Sendable (SocketAddress) async -> Void = { _ in }
    ) -> HTTPServer<some HTTPResponder> {
        var server = configuration.server
        if let host { server.host = host }
        if let port { server.port = port }
        return HTTPServer(responder: makeResponder(), configuration: server, logger: logger, onStart: onStart)
    }

    /// Starts the app and serves until SIGTERM or SIGINT, then shuts down gracefully: stops
    /// accepting, lets in-flight requests finish (up to the grace period) and runs the shutdown
    /// hooks.
    ///
    /// With TLS configured, SIGHUP reloads the certificates from their files without a restart.
    public func run(host: String? = nil, port: Int? = nil) async throws {
        let scheme = configuration.server.tls == nil ? "http" : "https"
        let server = makeServer(host: host, port: port) { [logger] address in
            logger.notice("Serving on \(scheme)://\(address.ipAddress ?? "?"):\(address.port ?? 0)")
        }
        let reload = configuration.server.tls == nil ? nil : TLSReloadOnSignal(server: server, logger: logger)
        defer { reload?.cancel() }
        // Services are shut down in reverse order: the server drains before the services it uses.
        let services = services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services + [.init(service: StartThenServe(app: self, server: server))],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The app's own service: the start-up hooks, the server, then the shutdown hooks, all while
/// the other services (a database pool…) run.
private struct StartThenServe<Responder: HTTPResponder>: Service {
    let app: App
    let server: HTTPServer<Responder>

    func run() async throws {
        try await app.runStartupHooks()
        do {
            try await server.run()
        } catch {
            await app.runShutdownHooks()
            throw error
        }
        await app.runShutdownHooks()
    }
}

/// Reloads a server's TLS certificates on SIGHUP.
private struct TLSReloadOnSignal {
    private let source: any DispatchSourceSignal

    init<R: HTTPResponder>(server: HTTPServer<R>, logger: Logger) {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP)
        source.setEventHandler {
            do { try server.reloadTLS() } catch { logger.error("TLS reload failed; keeping the old certificates: \(error)") }
        }
        source.resume()
    }

    func cancel() { source.cancel() }
}

/// The composed application: what the server calls for every request.
struct AppResponder: HTTPResponder {
    let context: AppContext
    let entry: Next
    let errors: ErrorResponder

    func respond(to http: consuming HTTPRequest) async throws -> Response {
        let request = Request(http, app: context)
        do {
            return try await entry(request)
        } catch {
            return await errors.response(for: error, request: request)
        }
    }
}

/// Turns errors into responses: custom handlers first, then FastAPI's `{"detail": …}` shape.
struct ErrorResponder: Sendable {
    typealias Handler = @Sendable (Request, any Error) async throws -> Response?

    let handlers: [Handler]
    let logger: Logger

    func response(for error: any Error, request: Request) async -> Response {
        for handler in handlers {
            do {
                if let response = try await handler(request, error) { return response }
            } catch {
                return await builtIn(error, request: request)
            }
        }
        return await builtIn(error, request: request)
    }

    private func builtIn(_ error: any Error, request: Request) async -> Response {
        switch error {
        case let error as HTTPError:
            return error.response
        case let error as ValidationError:
            return (try? JSONResponse.make(ValidationBody(detail: error.issues), status: .unprocessableContent))
                ?? Response(status: .unprocessableContent)
        case let error as any HTTPStatusError:
            return HTTPError(error.status, detail: error.detail).response
        default:
            logger.error(
                "Unhandled error", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.path)"])
            return HTTPError(.internalServerError, detail: "Internal Server Error").response
        }
    }

    private struct ValidationBody: Encodable, Sendable {
        let detail: [ValidationIssue]
    }
}

extension Array where Element == any Middleware {
    /// Wraps `endpoint` in these middleware, the first outermost; an error thrown inside any
    /// layer becomes a response before the layer outside it sees it.
    func compose(around endpoint: @escaping Next, errors: ErrorResponder) -> Next {
        reversed().reduce(endpoint) { next, middleware in
            { request in
                do {
                    return try await middleware.handle(request, next: next)
                } catch {
                    return await errors.response(for: error, request: request)
                }
            }
        }
    }
}
