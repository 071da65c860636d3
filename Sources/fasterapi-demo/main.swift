import FasterAPI
import Foundation
import Logging

/// The demo app: the benchmark routes, an in-memory items API, a streaming endpoint and a static
/// folder. It needs no database or configuration.
///
///     fasterapi-demo [--host 127.0.0.1] [--port 8000] [--static Demo/public] [--access-log]

struct Options {
    var host = "127.0.0.1"
    var port = 8000
    var staticDirectory = "Demo/public"
    var accessLog = false

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
            case "--help", "-h":
                throw UsageError(
                    message: "usage: fasterapi-demo [--host HOST] [--port PORT] [--static DIR] [--access-log]")
            default: throw UsageError(message: "unknown option \(flag); try --help")
            }
        }
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

struct Message: Codable, Sendable {
    let message: String
}

struct User: Codable, Sendable {
    let id: Int
    let name: String
}

struct UploadedFile: Codable, Sendable {
    let field: String
    let filename: String
    let contentType: String?
    let size: Int
}

struct UploadSummary: Codable, Sendable {
    let files: [UploadedFile]
    let fields: [String: String]
}

let options: Options
do {
    options = try Options(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(2)
}

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .info
    return handler
}

let app = App()

// The benchmark routes: no middleware, as in the peers they are measured against.
app.get("/plaintext") { _ in "Hello, World!" }
app.get("/json") { _ in Message(message: "Hello, World!") }
app.get("/users/{id}") { request in
    let id = try request.path("id", as: Int.self)
    return User(id: id, name: "user-\(id)")
}

// The demo API, with the middleware a real service would use.
var middleware: [any Middleware] = [RequestIDMiddleware(), CORSMiddleware(), CompressionMiddleware()]
if options.accessLog { middleware.insert(AccessLogMiddleware(), at: 1) }
let api = app.group("/", middleware: middleware)
api.addItemRoutes(store: ItemStore())
api.get("/stream") { request in
    let count = try request.query.get("count", as: Int.self) ?? 10
    if count < 0 {
        throw ValidationError([
            ValidationIssue(
                type: "greater_than_equal", loc: ["query", "count"], msg: "Input should be greater than or equal to 0",
                input: String(count))
        ])
    }
    if count > 100_000 {
        throw ValidationError([
            ValidationIssue(
                type: "less_than_equal", loc: ["query", "count"], msg: "Input should be less than or equal to 100000",
                input: String(count))
        ])
    }
    return StreamingResponse(contentType: "text/plain; charset=utf-8") { writer in
        guard count > 0 else { return }
        for index in 1...count { try await writer.write("chunk \(index)\n") }
    }
}
api.post("/upload") { request in
    // Files are streamed part by part: only a running size is kept, never the whole upload.
    var files: [UploadedFile] = []
    var fields: [String: String] = [:]
    for try await part in try request.multipart() {
        if let filename = part.filename {
            var size = 0
            for try await chunk in part { size += chunk.readableBytes }
            files.append(
                UploadedFile(field: part.name ?? "", filename: filename, contentType: part.contentType, size: size))
        } else {
            fields[part.name ?? ""] = try await part.text(upTo: 64 * 1024)
        }
    }
    return UploadSummary(files: files, fields: fields)
}
if FileManager.default.fileExists(atPath: options.staticDirectory) {
    api.staticFiles("/static", directory: options.staticDirectory)
    api.get("/") { _ in Redirect(to: "/static/") }
}

try await app.run(host: options.host, port: options.port)
