// Benchmark peer: Hummingbird 2 serving /plaintext, /json, /users/{id} and POST /accounts, and
// with --websocket a WebSocket echo at /ws/echo (hummingbird-websocket).
// Usage: hb-peer --port N [--websocket] [--tls CERT.pem KEY.pem [--http2]]   (binds 127.0.0.1)
//   no --tls:       cleartext HTTP/1.1
//   --tls:          HTTP/1.1 over TLS
//   --tls --http2:  HTTP/2 over TLS (ALPN h2, falling back to http/1.1)
//   --websocket:    HTTP/1.1 with the WebSocket upgrade (cleartext, or with --tls over TLS; not
//                   with --http2). Off by default so that the HTTP benchmarks keep Hummingbird's
//                   plain `.http1()` channel.
import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdTLS
import HummingbirdWebSocket

/// Body of `GET /json`.
struct Message: ResponseEncodable {
    let message: String
}

/// Body of `GET /users/{id}`.
struct User: ResponseEncodable {
    let id: Int
    let name: String
}

/// Body of `POST /accounts`, decoded with Codable (Hummingbird has no declarative validation).
struct NewAccount: Decodable {
    let name: String
    let email: String
    let age: Int
    let score: Double
    let tags: [String]
}

/// Answer of `POST /accounts`.
struct Account: ResponseEncodable {
    let id: Int
    let name: String
    let email: String
    let age: Int
    let score: Double
    let tags: [String]
}

/// The value following `flag` on the command line, if any.
func argument(_ flag: String, offset: Int = 1) -> String? {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: flag), index + offset < arguments.count else { return nil }
    return arguments[index + offset]
}

/// The WebSocket routes: `/ws/echo` sends every message back with its type (text as text,
/// binary as binary). The upgrade is answered with no extension, so no compression.
func makeWebSocketRouter() -> Router<BasicWebSocketRequestContext> {
    let router = Router(context: BasicWebSocketRequestContext.self)
    router.ws("/ws/echo") { inbound, outbound, _ in
        for try await message in inbound.messages(maxSize: 16 * 1024 * 1024) {
            switch message {
            case .text(let text):
                try await outbound.write(.text(text))
            case .binary(let buffer):
                try await outbound.write(.binary(buffer))
            }
        }
    }
    return router
}

/// The server's protocol stack from `--tls CERT KEY`, `--http2` and `--websocket`.
func makeServer() throws -> HTTPServerBuilder {
    let webSocket = CommandLine.arguments.contains("--websocket")
    // Frames up to 16 MiB and UTF-8 checked in text messages, as fasterapi-demo and Node's `ws` do
    // (Hummingbird's defaults are 16 KiB frames and no UTF-8 check).
    let webSocketConfiguration = WebSocketServerConfiguration(maxFrameSize: 16 * 1024 * 1024, validateUTF8: true)
    let http1: HTTPServerBuilder =
        webSocket
        ? .http1WebSocketUpgrade(webSocketRouter: makeWebSocketRouter(), configuration: .init(ws: webSocketConfiguration))
        : .http1()
    guard let certificatePath = argument("--tls"), let keyPath = argument("--tls", offset: 2) else {
        precondition(!CommandLine.arguments.contains("--http2"), "--http2 needs --tls CERT KEY")
        return http1
    }
    let tlsConfiguration = TLSConfiguration.makeServerConfiguration(
        certificateChain: try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) },
        privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
    )
    if CommandLine.arguments.contains("--http2") {
        precondition(!webSocket, "--websocket works over HTTP/1.1 only, not with --http2")
        return try .http2Upgrade(tlsConfiguration: tlsConfiguration)
    }
    return try .tls(http1, tlsConfiguration: tlsConfiguration)
}

let router = Router()
router.get("/plaintext") { _, _ in
    "Hello, World!"
}
router.get("/json") { _, _ in
    Message(message: "Hello, World!")
}
router.get("/users/{id}") { _, context in
    // `require(_:as:)` throws 400 Bad Request when the segment is not an Int.
    let id = try context.parameters.require("id", as: Int.self)
    return User(id: id, name: "user-\(id)")
}

router.post("/accounts") { request, context -> EditedResponse<Account> in
    let input = try await request.decode(as: NewAccount.self, context: context)
    return EditedResponse(
        status: .created,
        response: Account(
            id: 1, name: input.name, email: input.email, age: input.age, score: input.score, tags: input.tags))
}

let app = Application(
    router: router,
    server: try makeServer(),
    configuration: .init(address: .hostname("127.0.0.1", port: argument("--port").flatMap(Int.init) ?? 8080))
)
try await app.runService()
