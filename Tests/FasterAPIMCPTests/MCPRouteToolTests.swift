import FasterAPI
import Testing

@testable import FasterAPIMCP

@Schema struct Thing: Codable, Sendable {
    /// Its number.
    var id: Int
    /// Its name.
    var name: String
}

@Schema struct ThingInput: Codable, Sendable {
    /// Its name.
    @Field(minLength: 1) var name: String
}

/// Passes only with `Authorization: Bearer letmein`.
struct Keyholder: Dependency {
    static var dependency: DependencyProvider<Keyholder> {
        DependencyProvider(inputs: []) { reader in
            guard reader.request.headers["authorization"] == "Bearer letmein" else {
                throw HTTPError(.unauthorized, detail: "Not authenticated")
            }
            return Keyholder()
        }
    }
}

@Routes struct ThingsAPI {
    /// Fetch a thing.
    @GET("/things/{id}", tags: ["things"])
    func get(@Path(ge: 1) id: Int, @Query(maxLength: 5) suffix: String = "") -> Thing { Thing(id: id, name: "thing \(id)\(suffix)") }

    /// Make a thing.
    @POST("/things", tags: ["things"], status: .created)
    func make(@Body input: ThingInput, @Depends key: Keyholder) -> Thing { Thing(id: 9, name: input.name) }

    /// Not offered: another tag.
    @GET("/other", tags: ["other"])
    func other() -> [String] { [] }
}

@Suite("MCP tools from routes")
struct MCPRouteToolTests {
    @Test("Tagged routes become tools whose calls go through the app: parameters, body, validation, security")
    func routes() async throws {
        let app = App()
        app.include(ThingsAPI())
        let mcp = MCPServer(name: "things", version: "1")
        app.exposeRoutesAsTools(mcp, tags: ["things"])
        app.mount(mcp, at: "/mcp")
        try await app.test(.live) { testClient in
            let url = "http://127.0.0.1:\(testClient.serverAddress!.port!)/mcp"
            let client = try await MCPClient.connect(.http(url))
            let tools = try await client.listTools()
            #expect(tools.map(\.name) == ["get", "make"])
            #expect(tools[0].description == "Fetch a thing.")
            #expect(tools[0].inputSchema.objectValue?["required"] == ["id"])
            #expect(tools[0].outputSchema?.objectValue?["title"] == "Thing")
            #expect(tools[1].inputSchema.objectValue?["$defs"]?.objectValue?["ThingInput"] != nil)

            let got = try await client.callTool("get", arguments: ["id": 7, "suffix": "!"])
            #expect(got.structuredContent == ["id": 7, "name": "thing 7!"])
            let invalid = try await client.callTool("get", arguments: ["id": 0])
            #expect(invalid.isError && invalid.text.contains("422"))
            let refused = try await client.callTool("make", arguments: ["body": ["name": "new"]])
            #expect(refused.isError && refused.text.contains("401"))
            await client.close()

            let keyed = try await MCPClient.connect(.http(url, headers: [("Authorization", "Bearer letmein")]))
            let made = try await keyed.callTool("make", arguments: ["body": ["name": "new"]])
            #expect(made.structuredContent == ["id": 9, "name": "new"])
            await keyed.close()
        }
    }
}
