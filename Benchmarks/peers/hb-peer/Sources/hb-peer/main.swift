// Benchmark peer: Hummingbird 2 serving /plaintext, /json, /users/{id} and POST /accounts.
// Usage: hb-peer --port N   (binds 127.0.0.1)
import Hummingbird

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

/// Reads `--port N` from the command line (default 8080).
func parsePort(_ arguments: [String]) -> Int {
    if let index = arguments.firstIndex(of: "--port"), index + 1 < arguments.count,
        let port = Int(arguments[index + 1])
    {
        return port
    }
    return 8080
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
    configuration: .init(address: .hostname("127.0.0.1", port: parsePort(CommandLine.arguments)))
)
try await app.runService()
