import FasterAPI
import Foundation
import PeerSupport
import Testing

@testable import FasterAPIMCP

/// The official Swift SDK (`modelcontextprotocol/swift-sdk` 0.12.1) on both sides: its client
/// against our server and our client against its server (`Benchmarks/mcp-swift-sdk`, built in
/// release by `scripts/test.sh`, which names the directory in `FASTERAPI_SWIFTSDK_BIN`).
@Suite("MCP interop with the Swift SDK")
struct MCPSwiftSDKInteropTests {
    private struct Sum: Codable, Equatable { var sum: Double }

    private static func binary(_ name: String) throws -> String {
        guard let directory = ProcessInfo.processInfo.environment["FASTERAPI_SWIFTSDK_BIN"] else {
            throw PeerServer.PeerError(message: "FASTERAPI_SWIFTSDK_BIN is not set: run ./scripts/test.sh, which builds the Swift SDK peers")
        }
        return directory + "/" + name
    }

    @Test("The Swift SDK's client initializes, lists tools and calls add (structured) on our server", arguments: ["stdio", "http"])
    func sdkClient(transport: String) async throws {
        let client = try Self.binary("swiftsdk-mcp-client")
        let output: Peers.Output
        if transport == "stdio" {
            output = try await Peers.run(client, ["check", "--stdio", try Peers.demoExecutable(), "mcp-stdio"])
        } else {
            let server = try await PeerServer.startDemo()
            defer { server.stop() }
            output = try await Peers.run(client, ["check", "--http", "http://127.0.0.1:\(server.port)/mcp"])
        }
        try #require(output.status == 0, "\(output.stdout) \(output.stderr)")
        let seen = try JSONValue.parse(output.stdout).objectValue
        #expect(seen?["serverName"] == "fasterapi-demo")
        #expect(seen?["protocolVersion"]?.stringValue.map(MCPProtocolVersion.supported.contains) == true)
        #expect(seen?["tools"] == ["add", "countdown", "sleep", "list", "create", "get", "replace", "delete"])
        #expect(seen?["addStructured"] == ["sum": 5.5])
        #expect(seen?["error"] == .null)
    }

    @Test("Our client initializes, lists tools and calls add on the Swift SDK's server", arguments: ["stdio", "http"])
    func sdkServer(transport: String) async throws {
        let executable = try Self.binary("swiftsdk-mcp-server")
        var server: PeerServer?
        let client: MCPClient
        if transport == "stdio" {
            client = try await MCPClient.connect(.stdio(executable: executable, arguments: ["stdio"]))
        } else {
            let started = try await PeerServer.start(executable: executable) { port in ["http", "--port", String(port)] }
            server = started
            client = try await MCPClient.connect(.http("http://127.0.0.1:\(started.port)/mcp"))
        }
        defer { server?.stop() }
        #expect(client.server.name == "swiftsdk-mcp-server")
        #expect(try await client.listTools().map(\.name) == ["add"])
        #expect(try await client.callTool("add", arguments: ["a": 2, "b": 3.5], as: Sum.self) == Sum(sum: 5.5))
        try await client.ping()
        await client.close()
    }
}
