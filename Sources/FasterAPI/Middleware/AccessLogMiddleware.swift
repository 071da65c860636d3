import FasterAPICore
import Foundation
import Logging

/// Logs one line per request through swift-log: client, method, path, version, status and
/// duration (for example `127.0.0.1:53412 "GET /items HTTP/1.1" 200 0.21ms`), with the same
/// facts as metadata. The request ID is included when ``RequestIDMiddleware`` runs before it.
public struct AccessLogMiddleware: Middleware {
    let logger: Logger
    let level: Logger.Level

    /// Logs through `logger` at `level`.
    public init(logger: Logger = Logger(label: "FasterAPI.access"), level: Logger.Level = .info) {
        self.logger = logger
        self.level = level
    }

    /// Passes the request on, then logs it with the response status and the time taken.
    public func handle(_ request: Request, next: Next) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request)
        guard logger.logLevel <= level else { return response }
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let client = request.clientAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "-"
        let head = request.http.head
        var metadata: Logger.Metadata = [
            "client": "\(client)", "method": "\(head.method)", "path": "\(request.path)",
            "status": "\(response.status.code)", "duration_ms": "\(milliseconds)",
        ]
        if let id = request.storage[RequestID.self] { metadata["request_id"] = "\(id)" }
        let duration = String(format: "%.2f", milliseconds)
        logger.log(
            level: level,
            "\(client) \"\(head.method) \(head.target) \(head.version)\" \(response.status.code) \(duration)ms",
            metadata: metadata)
        return response
    }
}
