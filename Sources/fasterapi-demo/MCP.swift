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

/// The demo's MCP server (`fasterapi-demo mcp-stdio`).
enum DemoMCP {
    static func server() -> MCPServer {
        let mcp = MCPServer(name: "fasterapi-demo", version: "1.0.0")
        mcp.tool("add", description: "Add two numbers.", annotations: MCPToolAnnotations(readOnlyHint: true)) {
            (arguments: AddArguments) in AddResult(sum: arguments.a + arguments.b)
        }
        return mcp
    }
}
