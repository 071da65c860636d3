import FasterAPI
import FasterAPIMCP

/// `add`'s arguments.
@Schema struct AddArguments: Codable, Sendable {
    /// The first number.
    var a: Double
    /// The second number.
    var b: Double
}

/// `add`'s result.
@Schema struct AddResult: Codable, Sendable {
    /// a + b.
    var sum: Double
}

/// `countdown`'s arguments.
@Schema struct CountdownArguments: Codable, Sendable {
    /// Where to start.
    @Field(ge: 1, le: 100) var from: Int
}

/// `sleep`'s arguments.
@Schema struct SleepArguments: Codable, Sendable {
    /// How long to sleep, in seconds.
    @Field(ge: 0, le: 60) var seconds: Double
}

/// The demo's MCP server (`fasterapi-demo mcp-stdio`).
enum DemoMCP {
    static func server() -> MCPServer {
        let mcp = MCPServer(name: "fasterapi-demo", version: "1.0.0")
        mcp.tool("add", description: "Add two numbers.", annotations: MCPToolAnnotations(readOnlyHint: true)) {
            (arguments: AddArguments) in AddResult(sum: arguments.a + arguments.b)
        }
        mcp.tool("countdown", description: "Count down to zero, reporting progress and logging each step.") {
            (arguments: CountdownArguments, context: MCPContext) in
            for step in 0..<arguments.from {
                await context.progress(Double(step + 1), total: Double(arguments.from), message: "\(arguments.from - step - 1) to go")
                await context.log(.info, "step \(step + 1)", logger: "countdown")
            }
            return AddResult(sum: 0)
        }
        mcp.tool("sleep", description: "Sleep, then answer: a call to cancel.") { (arguments: SleepArguments) in
            try await Task.sleep(for: .seconds(arguments.seconds))
            return AddResult(sum: arguments.seconds)
        }
        mcp.resource("demo://readme", name: "readme", description: "What this server is.", mimeType: "text/plain") {
            .text("The FasterAPI demo's MCP server: tools, a resource template and a prompt.")
        }
        mcp.resource(template: "items://{id}", name: "item", description: "A demo item by id.", mimeType: "application/json") {
            variables in
            guard let id = variables["id"].flatMap(Int.init), id > 0 else { return nil }
            return .text(#"{"id":\#(id),"name":"item \#(id)"}"#, mimeType: "application/json")
        }
        mcp.completion(template: "items://{id}", variable: "id") { typed in
            (1...20).map(String.init).filter { $0.hasPrefix(typed) }
        }
        mcp.prompt(
            "summarise", description: "Summarise a text.",
            arguments: [MCPPromptArgument("text", description: "What to summarise.", required: true)]
        ) { arguments in
            [MCPPromptMessage(.user, "Summarise this in one sentence:\n\n\(arguments["text"] ?? "")")]
        }
        return mcp
    }
}
