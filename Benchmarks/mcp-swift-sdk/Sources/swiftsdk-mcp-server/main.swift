// swiftsdk-mcp-server: an MCP server written with the official Swift SDK's `Server`.
//
//   swiftsdk-mcp-server stdio                       the SDK's StdioTransport on stdin/stdout
//   swiftsdk-mcp-server http --port P      Streamable HTTP at http://127.0.0.1:P/mcp
//
// Over HTTP each session gets its own `Server` and `StatefulHTTPServerTransport` (see HTTPGlue.swift);
// POST answers are SSE, as that transport makes them.
import Foundation
import MCP

/// The one tool every peer serves: `add(a, b)` answering `{"sum": a+b}` as text and structured content.
let addTool = Tool(
    name: "add",
    description: "Add two numbers",
    inputSchema: [
        "type": "object",
        "properties": ["a": ["type": "number"], "b": ["type": "number"]],
        "required": ["a", "b"],
    ],
    outputSchema: ["type": "object", "properties": ["sum": ["type": "number"]], "required": ["sum"]]
)

/// Reads a JSON number argument, which the SDK decodes as `.int` or `.double`.
func number(_ value: Value?) -> Double? {
    switch value {
    case .int(let i): Double(i)
    case .double(let d): d
    default: nil
    }
}

/// CallTool.Result's non-generic init. A plain call picks the throwing generic
/// `init<Output: Codable>(structuredContent:)` instead, which re-encodes the Value through JSON.
let plainResult: ([Tool.Content], Value?, Bool?, Metadata?) -> CallTool.Result =
    CallTool.Result.init(content:structuredContent:isError:_meta:)

/// Makes a `Server` with the `add` tool registered; one per stdio process or HTTP session.
func makeServer() async -> Server {
    let server = Server(
        name: "swiftsdk-mcp-server", version: "0.12.1",
        capabilities: .init(tools: .init(listChanged: false)))
    await server.withMethodHandler(ListTools.self) { _ in .init(tools: [addTool]) }
    await server.withMethodHandler(CallTool.self) { params in
        guard params.name == "add" else {
            return .init(content: [.text(text: "unknown tool \(params.name)", annotations: nil, _meta: nil)], isError: true)
        }
        guard let a = number(params.arguments?["a"]), let b = number(params.arguments?["b"]) else {
            return .init(content: [.text(text: "a and b must be numbers", annotations: nil, _meta: nil)], isError: true)
        }
        let structured: Value = ["sum": .double(a + b)]
        let text = String(decoding: try JSONEncoder().encode(structured), as: UTF8.self)
        return plainResult([.text(text: text, annotations: nil, _meta: nil)], structured, nil, nil)
    }
    return server
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("swiftsdk-mcp-server: \(message)\n".utf8))
    exit(2)
}

let args = Array(CommandLine.arguments.dropFirst())
switch args.first {
case "stdio":
    let server = await makeServer()
    do { try await server.start(transport: StdioTransport()) } catch { fail("\(error)") }
    await server.waitUntilCompleted()  // ends when stdin reaches EOF
case "http":
    guard let i = args.firstIndex(of: "--port"), i + 1 < args.count, let port = Int(args[i + 1]) else {
        fail("usage: swiftsdk-mcp-server http --port P")
    }
    do {
        try await HTTPGlue(port: port).run()
    } catch { fail("\(error)") }
default:
    fail("usage: swiftsdk-mcp-server stdio | http --port P")
}
