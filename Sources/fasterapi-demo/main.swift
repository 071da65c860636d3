import FasterAPI
import FasterAPIMCP
import FasterAPIPostgres
import FasterAPIWebSocket
import Foundation
import Logging

/// The demo app: the benchmark routes, an in-memory items API, streaming, WebSocket (`/ws/echo`,
/// `/ws/chat/{room}`) and Server-Sent Events (`/events/ticks`, `/events/broadcast`) endpoints and
/// a static folder. It needs no database or configuration: with `DATABASE_URL`
/// (`postgres://user:password@host/db`) the items live in PostgreSQL, and `/db`, `/queries?n=`
/// and `/ready` are served from it; without, the items live in memory.
///
///     fasterapi-demo [--host 127.0.0.1] [--port 8000] [--static Demo/public] [--access-log]
///                    [--tls [--tls-dir DIR] | --cert CHAIN.pem --key KEY.pem] [--alt-svc VALUE] [--max-connections N]
///
/// HTTP/1.1 and HTTP/2 share the port: cleartext h2c (prior knowledge or `Upgrade: h2c`), or over
/// TLS by ALPN. `--tls` uses a self-signed development certificate kept in `.fasterapi/tls` (or `--tls-dir`)
/// (trust it with `curl --cacert .fasterapi/tls/cert.pem`); SIGHUP reloads `--cert`/`--key`.

struct Options {
    static let usage =
        "usage: fasterapi-demo [--host HOST] [--port PORT] [--static DIR] [--access-log] [--tls [--tls-dir DIR] | --cert FILE --key FILE] [--alt-svc VALUE] [--max-connections N]"

    var host = "127.0.0.1"
    var port = 8000
    var staticDirectory = "Demo/public"
    var accessLog = false
    var developmentTLS = false
    var developmentTLSFolder = ".fasterapi/tls"
    var certificateFile: String?
    var keyFile: String?
    var altSvc: String?
    var maxConnections = ServerConfiguration().maxConnections

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            switch flag {
            case "--host": host = try Self.value(for: flag, &rest)
            case "--port":
                guard let port = Int(try Self.value(for: flag, &rest)), (0...65535).contains(port) else {
                    throw UsageError(message: "--port needs a number from 0 to 65535")
                }
                self.port = port
            case "--static": staticDirectory = try Self.value(for: flag, &rest)
            case "--access-log": accessLog = true
            case "--tls": developmentTLS = true
            case "--tls-dir": developmentTLSFolder = try Self.value(for: flag, &rest)
            case "--cert": certificateFile = try Self.value(for: flag, &rest)
            case "--key": keyFile = try Self.value(for: flag, &rest)
            case "--alt-svc": altSvc = try Self.value(for: flag, &rest)
            case "--max-connections":
                guard let count = Int(try Self.value(for: flag, &rest)), count > 0 else {
                    throw UsageError(message: "--max-connections needs a positive number")
                }
                maxConnections = count
            case "--help", "-h": throw UsageError(message: Self.usage)
            default: throw UsageError(message: "unknown option \(flag); try --help")
            }
        }
        if (certificateFile == nil) != (keyFile == nil) {
            throw UsageError(message: "--cert and --key go together")
        }
        if developmentTLS && certificateFile != nil {
            throw UsageError(message: "--tls makes a development certificate; leave it out with --cert and --key")
        }
    }

    /// The TLS settings the flags ask for, if any.
    func tls() throws -> ServerTLSConfiguration? {
        if let certificateFile, let keyFile {
            return ServerTLSConfiguration(certificateChainFile: certificateFile, privateKeyFile: keyFile)
        }
        guard developmentTLS else { return nil }
        return try DevelopmentCertificate.loadOrCreate(in: developmentTLSFolder).tlsConfiguration
    }

    private static func value(for flag: String, _ rest: inout ArraySlice<String>) throws -> String {
        guard let value = rest.popFirst() else { throw UsageError(message: "\(flag) needs a value") }
        return value
    }
}

struct UsageError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

// `fasterapi-demo mcp-stdio`: the demo's MCP server (its items in memory) on standard input and
// output instead of the HTTP server.
let mcpStdio = CommandLine.arguments.dropFirst().first == "mcp-stdio"
let options: Options
do {
    options = try Options(Array(CommandLine.arguments.dropFirst(mcpStdio ? 2 : 1)))
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(2)
}

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .info
    return handler
}

var configuration = AppConfiguration()
configuration.server.tls = try options.tls()
configuration.server.altSvc = options.altSvc
configuration.server.maxConnections = options.maxConnections
configuration.openAPI.title = "FasterAPI demo"
configuration.openAPI.version = "1.0.0"
configuration.openAPI.description =
    "The demo app: benchmark routes, an items API with OAuth2 sign-in, streaming and uploads."
let app = App(configuration: configuration)
if !mcpStdio, let databaseURL = ProcessInfo.processInfo.environment["DATABASE_URL"] {
    let database = try app.postgres(PostgresConfiguration(url: databaseURL))
    app.state[ItemStore.self] = ItemStore(database: database)
    app.onStartup { _ in
        try await WorldAPI.createTable(in: database)
        try await ItemStore.createTable(in: database)
    }
    app.include(WorldAPI())
    app.readinessCheck(at: "/ready", database: database)
} else {
    app.state[ItemStore.self] = ItemStore()
}
app.state[Broadcaster.self] = Broadcaster()
app.state[TokenService.self] = try TokenService(
    secret: ProcessInfo.processInfo.environment["FASTERAPI_JWT_SECRET"]
        ?? "fasterapi-demo-development-secret-0123456789")

// The benchmark routes: no middleware, as in the peers they are measured against.
app.include(BenchmarkAPI())

// The demo API, with the middleware a real service would use.
var middleware: [any Middleware] = [RequestIDMiddleware(), CORSMiddleware(), CompressionMiddleware()]
if options.accessLog { middleware.insert(AccessLogMiddleware(), at: 1) }
let api = app.group("/", middleware: middleware)
api.include(ItemsAPI())
api.include(AuthAPI())
api.include(FilesAPI())
api.include(RealTimeAPI())
addWebSocketRoutes(to: app, hub: WebSocketHub())
if FileManager.default.fileExists(atPath: options.staticDirectory) {
    api.staticFiles("/static", directory: options.staticDirectory)
}

// The MCP server: its own tools, and the items routes as tools (called through the app).
let mcp = DemoMCP.server()
app.exposeRoutesAsTools(mcp, tags: ["items"])
if mcpStdio {
    try await mcp.run(.stdio)
    exit(0)
}
app.mount(mcp, at: "/mcp")

try await app.run(host: options.host, port: options.port)
