import FasterAPI

/// `GET /json`'s body.
@Schema struct Message: Codable, Sendable {
    var message: String
}

/// A user.
@Schema struct User: Codable, Sendable {
    var id: Int
    var name: String
}

/// A new account: the validated five-field body of the `POST /accounts` benchmark.
@Schema struct NewAccount: Codable, Sendable {
    /// Display name.
    @Field(minLength: 1, maxLength: 100) var name: String
    /// Contact address.
    @Field(pattern: "^[^@\\s]+@[^@\\s]+$") var email: String
    /// Age in years.
    @Field(ge: 0, le: 150) var age: Int
    /// Reputation, from 0 to 10.
    @Field(ge: 0, le: 10) var score: Double
    /// Interests.
    @Field(maxLength: 10) var tags: [String] = []
}

/// A created account.
@Schema struct Account: Codable, Sendable {
    var id: Int
    var name: String
    var email: String
    var age: Int
    var score: Double
    var tags: [String]
}

/// The routes `scripts/bench.sh` measures (the peers serve the same).
@Routes struct BenchmarkAPI {
    /// Plain text.
    @GET("/plaintext", tags: ["benchmark"])
    func plaintext() -> String { "Hello, World!" }

    /// A small JSON object.
    @GET("/json", tags: ["benchmark"])
    func json() -> Message { Message(message: "Hello, World!") }

    /// A user by id.
    @GET("/users/{id}", tags: ["benchmark"])
    func user(id: Int) -> User { User(id: id, name: "user-\(id)") }

    /// Create an account from a validated body.
    @POST("/accounts", tags: ["benchmark"], status: .created)
    func createAccount(@Body account: NewAccount) -> Account {
        Account(
            id: 1, name: account.name, email: account.email, age: account.age, score: account.score, tags: account.tags)
    }
}

/// What an upload received.
@Schema struct UploadSummary: Codable, Sendable {
    /// One entry per file.
    var files: [FileSummary]
    /// The note sent with the files.
    var note: String?
}

/// What `/delay` answers.
@Schema struct Delayed: Codable {
    /// How long the answer was held back.
    var delayedMs: Int

    enum CodingKeys: String, CodingKey { case delayedMs = "delayed_ms" }
}

/// One uploaded file.
@Schema struct FileSummary: Codable, Sendable {
    var filename: String
    var contentType: String?
    var size: Int
}

/// Streaming and uploads.
@Routes struct FilesAPI {
    /// Stream numbered lines.
    ///
    /// The response is sent chunk by chunk as it is produced.
    @GET("/stream", tags: ["files"])
    func stream(@Query(ge: 0, le: 100_000) count: Int = 10) -> StreamingResponse {
        StreamingResponse(contentType: "text/plain; charset=utf-8") { writer in
            guard count > 0 else { return }
            for index in 1...count { try await writer.write("chunk \(index)\n") }
        }
    }

    /// Stream numbered lines, then a trailer field with their count.
    ///
    /// Over HTTP/2 (and chunked HTTP/1.1) the `x-line-count` trailer follows the body.
    @GET("/stream/trailers", tags: ["files"])
    func streamWithTrailers(@Query(ge: 0, le: 100_000) count: Int = 10) -> StreamingResponse {
        StreamingResponse(contentType: "text/plain; charset=utf-8") { writer in
            for index in stride(from: 1, through: count, by: 1) { try await writer.write("chunk \(index)\n") }
            try await writer.writeTrailers(["x-line-count": String(count)])
        }
    }

    /// Answer after a pause.
    ///
    /// Useful to watch timeouts and graceful shutdown with a request in flight.
    @GET("/delay", tags: ["files"])
    func delay(@Query(ge: 0, le: 30_000) ms: Int = 100) async throws -> Delayed {
        try await Task.sleep(for: .milliseconds(ms))
        return Delayed(delayedMs: ms)
    }

    /// Upload files.
    @POST("/upload", tags: ["files"])
    func upload(@File files: [UploadedFile], @Form note: String? = nil) -> UploadSummary {
        UploadSummary(
            files: files.map {
                FileSummary(filename: $0.filename, contentType: $0.contentType, size: $0.data.readableBytes)
            }, note: note)
    }

    /// The static files' index.
    @GET("/", includeInSchema: false)
    func root() -> Redirect { Redirect(to: "/static/") }
}
