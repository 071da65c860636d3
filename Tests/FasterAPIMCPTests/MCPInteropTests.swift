import Foundation
import PeerSupport
import Testing

/// The official Python SDK (`mcp` 2.x) as the client of our server.
@Suite("MCP interop with the Python SDK")
struct MCPInteropTests {
    @Test("Python's stdio client initializes, calls tools (with progress and logging), reads resources and templates, gets prompts on `fasterapi-demo mcp-stdio`")
    func pythonClientOverStdio() async throws {
        let output = try await Peers.python(
            script: "mcp_client.py", ["stdio", try Peers.demoExecutable(), "mcp-stdio"], suite: "FasterAPIMCPTests")
        try check(output)
    }

    @Test("Python's Streamable HTTP client does the same against the demo's /mcp")
    func pythonClientOverStreamableHTTP() async throws {
        let server = try await PeerServer.startDemo()
        defer { server.stop() }
        let output = try await Peers.python(
            script: "mcp_client.py", ["http", "http://127.0.0.1:\(server.port)/mcp"], suite: "FasterAPIMCPTests")
        try check(output)
    }

    @Test("Python's HTTP+SSE client (the 2024-11-05 transport) does the same against /mcp/sse")
    func pythonClientOverLegacySSE() async throws {
        let server = try await PeerServer.startDemo()
        defer { server.stop() }
        let output = try await Peers.python(
            script: "mcp_client.py", ["sse", "http://127.0.0.1:\(server.port)/mcp/sse"], suite: "FasterAPIMCPTests")
        try check(output)
    }

    @Test("JSON-RPC over Python's websockets (subprotocol mcp) at /mcp/ws: ids echoed, errors answered")
    func webSocketPeer() async throws {
        let server = try await PeerServer.startDemo()
        defer { server.stop() }
        let output = try await Peers.python(
            script: "mcp_client.py", ["ws", "ws://127.0.0.1:\(server.port)/mcp/ws"], suite: "FasterAPIMCPTests")
        try #require(output.status == 0, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        #expect(seen?["subprotocol"] as? String == "mcp")
        #expect(seen?["protocol_version"] as? String == "2025-11-25")
        #expect(seen?["tools"] as? [String] == ["add", "countdown", "sleep", "list", "create", "get", "replace", "delete"])
        #expect((seen?["structured"] as? [String: Double]) == ["sum": 5.5])
        #expect(seen?["echoed_id"] as? String == "three")
        #expect(seen?["unknown_method"] as? Int == -32601)
        #expect(seen?["not_a_message"] as? Int == -32600)
    }

    @Test(
        "The older SDK generation (mcp 1.x, from mcp-proxy's venv) negotiates older versions on each transport",
        arguments: [("stdio", "2025-03-26"), ("sse", "2024-11-05"), ("http", "2025-06-18")])
    func olderPythonClient(transport: String, version: String) async throws {
        guard let python = ProcessInfo.processInfo.environment["FASTERAPI_PYTHON_MCP1"] else {
            Issue.record("FASTERAPI_PYTHON_MCP1 is not set: run ./scripts/test.sh, which makes the mcp 1.x venv")
            return
        }
        let script = Peers.interopScript("mcp_client.py", suite: "FasterAPIMCPTests")
        let output: Peers.Output
        if transport == "stdio" {
            output = try await Peers.run(python, [script, "--protocol=\(version)", "stdio", try Peers.demoExecutable(), "mcp-stdio"])
        } else {
            let server = try await PeerServer.startDemo()
            defer { server.stop() }
            let path = transport == "sse" ? "/mcp/sse" : "/mcp"
            output = try await Peers.run(python, [script, "--protocol=\(version)", transport, "http://127.0.0.1:\(server.port)\(path)"])
        }
        try check(output, version: version)
    }

    private func check(_ output: Peers.Output, version: String = "2025-11-25") throws {
        try #require(output.status == 0, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        #expect(seen?["protocol_version"] as? String == version)
        #expect(seen?["tools"] as? [String] == ["add", "countdown", "sleep", "list", "create", "get", "replace", "delete"])
        #expect((seen?["countdown"] as? [String: Double]) == ["sum": 0])
        #expect((seen?["progress"] as? [[Any]])?.count == 3)
        #expect((seen?["progress"] as? [[Any]])?.last?[2] as? String == "0 to go")
        #expect(seen?["logs"] as? [String] == ["step 1", "step 2", "step 3"])
        #expect(seen?["add_schema_required"] as? [String] == ["a", "b"])
        #expect((seen?["structured"] as? [String: Double]) == ["sum": 5.5])
        #expect(seen?["is_error"] as? Bool == false)
        #expect(seen?["bad_arguments"] as? Int == -32602)
        #expect(seen?["resources"] as? [String] == ["demo://readme"])
        #expect(seen?["templates"] as? [String] == ["items://{id}"])
        #expect(seen?["item"] as? String == #"{"id":7,"name":"item 7"}"#)
        #expect(seen?["missing_resource"] as? Int == -32002)
        #expect(seen?["prompts"] as? [String] == ["summarise"])
        #expect(seen?["prompt_text"] as? String == "Summarise this in one sentence:\n\nA long story.")
        #expect((seen?["cancelled_after"] as? Double).map { $0 < 10 } == true)
    }
}
