import FasterAPI
import Foundation
import PeerSupport
import Testing

@testable import FasterAPIMCP

/// Our client against the official Python SDK's `MCPServer` (`Interop/mcp_server.py`).
@Suite("MCP client against the Python SDK's server")
struct MCPClientInteropTests {
    private struct Sum: Codable { var sum: Double }
    private struct Answer: Codable { var answer: String }
    private struct Confirmation: Codable {
        var action: String
        var ok: Bool?
    }
    private struct Roots: Codable { var uris: [String] }

    private func withPeer(_ transport: String, _ body: (MCPClient) async throws -> Void) async throws {
        let script = Peers.interopScript("mcp_server.py", suite: "FasterAPIMCPTests")
        let handlers = MCPClientHandlers(
            sampling: { request in MCPSamplingResult(content: .text("because " + (request.messages.first?.content.text ?? "")), model: "test") },
            elicitation: { request in
                MCPElicitationResult(action: request.message == "no?" ? .decline : .accept, content: ["ok": true])
            },
            roots: { [MCPRoot(uri: "file:///tmp/a", name: "a"), MCPRoot(uri: "file:///tmp/b")] })
        if transport == "stdio" {
            let client = try await MCPClient.connect(.stdio(executable: Peers.python, arguments: [script, "stdio"]), handlers: handlers)
            try await body(client)
            await client.close()
            return
        }
        let server = try await PeerServer.start(executable: Peers.python) { port in [script, transport, "--port", String(port)] }
        defer { server.stop() }
        let client = try await MCPClient.connect(
            transport == "sse" ? .sse("http://127.0.0.1:\(server.port)/sse") : .http("http://127.0.0.1:\(server.port)/mcp"),
            handlers: handlers)
        try await body(client)
        await client.close()
    }

    @Test("Tools (structured, progress, failure, cancellation), resources, templates and prompts", arguments: ["stdio", "sse", "http"])
    func features(transport: String) async throws {
        try await withPeer(transport) { client in
            #expect(client.server.name == "python-peer")
            #expect(client.server.protocolVersion == "2025-11-25")
            let tools = try await client.listTools()
            #expect(tools.count == 158)
            #expect(tools.first { $0.name == "add" }?.outputSchema != nil)
            #expect(try await client.callTool("add", arguments: ["a": 2, "b": 3.5], as: Sum.self).sum == 5.5)
            let progress = Collected<MCPProgress>()
            let counted = try await client.callTool("countdown", arguments: ["n": 3]) { progress.append($0) }
            #expect(counted.structuredContent == ["done": 3])
            #expect(progress.values.map(\.progress) == [1, 2, 3])
            let failed = try await client.callTool("fail")
            #expect(failed.isError && failed.text.contains("deliberate failure"))
            let cancelled = await #expect(throws: MCPError.self) {
                try await client.callTool("slow", arguments: ["seconds": 30], timeout: .milliseconds(300))
            }
            #expect(cancelled == .timedOut(method: "tools/call"))
            #expect(try await client.callTool("slow", arguments: ["seconds": 0.01]).isError == false)
            #expect(try await client.readResource("demo://readme") == [.text("FasterAPI MCP peer")])
            #expect(try await client.listResourceTemplates().map(\.uriTemplate) == ["items://{id}"])
            #expect(try await client.readResource("items://7").first?.text == #"{"id": 7}"#)
            let prompt = try await client.getPrompt("summarise", arguments: ["text": "A long story."])
            #expect(prompt.messages.first?.content.text == "Summarise: A long story.")
        }
    }

    @Test("The server's sampling, elicitation and roots requests, and resources/updated", arguments: ["stdio", "sse", "http"])
    func serverRequests(transport: String) async throws {
        try await withPeer(transport) { client in
            #expect(try await client.callTool("ask", arguments: ["question": "why?"], as: Answer.self).answer == "because why?")
            let yes = try await client.callTool("confirm", arguments: ["prompt": "sure?"], as: Confirmation.self)
            #expect(yes.action == "accept" && yes.ok == true)
            let no = try await client.callTool("confirm", arguments: ["prompt": "no?"], as: Confirmation.self)
            #expect(no.action == "decline" && no.ok == nil)
            #expect(try await client.callTool("roots", arguments: [String: String](), as: Roots.self).uris == ["file:///tmp/a", "file:///tmp/b"])
            _ = try await client.callTool("touch", arguments: ["uri": "demo://readme"])
            for await notification in client.notifications where notification.method == "notifications/resources/updated" {
                #expect(notification.params == ["uri": "demo://readme"])
                break
            }
        }
    }
}
