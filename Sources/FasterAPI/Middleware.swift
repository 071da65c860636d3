import FasterAPICore

/// The rest of the chain after a middleware: call it to pass the request on.
public typealias Next = @Sendable (Request) async throws -> Response

/// Code that runs around handlers: it may change the request, answer early, or change the
/// response. Chains are composed once, when the app starts, not per request.
///
/// ```swift
/// struct Timing: Middleware {
///     func handle(_ request: Request, next: Next) async throws -> Response {
///         let start = ContinuousClock.now
///         var response = try await next(request)
///         response.headers.add(name: "Server-Timing", value: "app;dur=\(ContinuousClock.now - start)")
///         return response
///     }
/// }
/// ```
public protocol Middleware: Sendable {
    /// Handles `request`, usually by calling `next` and adapting its response.
    func handle(_ request: Request, next: Next) async throws -> Response
}

/// A middleware made from a closure.
public struct ClosureMiddleware: Middleware {
    let body: @Sendable (Request, Next) async throws -> Response

    /// A middleware that runs `body` for every request.
    public init(_ body: @escaping @Sendable (Request, Next) async throws -> Response) { self.body = body }

    /// Runs the closure.
    public func handle(_ request: Request, next: Next) async throws -> Response {
        try await body(request, next)
    }
}

extension HTTPHeaders {
    /// Adds `name` to `Vary` unless it is already listed: the response depends on that request field.
    mutating func addVary(_ name: String) {
        guard let vary = self["vary"] else {
            add(name: "Vary", value: name)
            return
        }
        if !containsToken(name, in: "vary") { replaceOrAdd(name: "Vary", value: vary + ", " + name) }
    }
}
