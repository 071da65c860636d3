import FasterAPI
import Foundation
import PeerSupport
import Testing

@testable import FasterAPIMCP

@Suite("MCP over stdio")
struct MCPStdioTests {
    @Test("An oversized line is refused with -32600, malformed JSON with -32700, and the session goes on")
    func badInput() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Peers.demoExecutable())
        process.arguments = ["mcp-stdio"]
        let (input, output) = (Pipe(), Pipe())
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let huge = #"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":""# + String(repeating: "x", count: 5 << 20) + "\"}}\n"
        let lines = [
            huge, "{\"jsonrpc\":\"2.0\",\"id\":2,\"meth\n",
            #"{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"# + "\n",
            #"{"jsonrpc":"2.0","id":4,"method":"ping"}"# + "\n",
        ]
        for line in lines { try input.fileHandleForWriting.write(contentsOf: Data(line.utf8)) }
        try input.fileHandleForWriting.close()
        let text = String(decoding: await Peers.readToEnd(output.fileHandleForReading), as: UTF8.self)
        let answers = try text.split(separator: "\n").map { try JSONValue.parse(String($0)).objectValue ?? JSONObject() }
        #expect(answers.count == 4)
        #expect(answers.first?["id"] == .null)
        #expect(answers.first?["error"]?.objectValue?["code"] == -32600)
        #expect(answers.dropFirst().first?["error"]?.objectValue?["code"] == -32700)
        #expect(answers.last?["id"] == 4)
        #expect(answers.last?["result"] == [:])
    }
}
