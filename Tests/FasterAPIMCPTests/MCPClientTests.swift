import FasterAPI
import Foundation
import PeerSupport
import Synchronization
import Testing

@testable import FasterAPIMCP

/// Values a test collects from callbacks.
final class Collected<Value: Sendable>: Sendable {
    private let box = Mutex<[Value]>([])
    func append(_ value: Value) { box.withLock { $0.append(value) } }
    var values: [Value] { box.withLock { $0 } }
}

@Schema struct Consent: Codable, Sendable {
    /// Whether the user agrees.
    var ok: Bool
}

/// Our client against our own server (the demo) on every transport.
@Suite("MCP client against our server")
struct MCPClientTests {
    enum Kind: String, CaseIterable, Sendable { case stdio, http, sse, webSocket }

    private func connect(_ kind: Kind, port: Int, handlers: MCPClientHandlers = MCPClientHandlers()) async throws -> MCPClient {
        switch kind {
        case .stdio: try await MCPClient.connect(.stdio(executable: try Peers.demoExecutable(), arguments: ["mcp-stdio"]), handlers: handlers)
        case .http: try await MCPClient.connect(.http("http://127.0.0.1:\(port)/mcp"), handlers: handlers)
        case .sse: try await MCPClient.connect(.sse("http://127.0.0.1:\(port)/mcp/sse"), handlers: handlers)
        case .webSocket: try await MCPClient.connect(.webSocket("ws://127.0.0.1:\(port)/mcp/ws"), handlers: handlers)
        }
    }

    @Test("Initialize, list and call tools (typed, with progress and logs), read resources and templates, get prompts", arguments: Kind.allCases)
    func everything(kind: Kind) async throws {
        let server = try await PeerServer.startDemo()
        defer { server.stop() }
        let client = try await connect(kind, port: server.port)
        #expect(client.server.name == "fasterapi-demo")
        #expect(client.server.protocolVersion == MCPProtocolVersion.latest)
        let tools = try await client.listTools()
        #expect(tools.map(\.name).prefix(2) == ["add", "countdown"])
        #expect(tools.first?.outputSchema?.objectValue?["required"] == ["sum"])

        struct Sum: Codable { var sum: Double }
        let sum = try await client.callTool("add", arguments: ["a": 2, "b": 3.5], as: Sum.self)
        #expect(sum.sum == 5.5)

        try await client.setLoggingLevel(.info)
        let progress = Collected<MCPProgress>()
        let counted = try await client.callTool("countdown", arguments: ["from": 3]) { progress.append($0) }
        #expect(counted.structuredContent == ["sum": 0.0])
        #expect(progress.values.map(\.progress) == [1, 2, 3])
        #expect(progress.values.last?.message == "0 to go")
        var logs: [JSONValue] = []
        for await notification in client.notifications where notification.method == "notifications/message" {
            logs.append(notification.params?.objectValue?["data"] ?? .null)
            if logs.count == 3 { break }
        }
        #expect(logs == ["step 1", "step 2", "step 3"])

        await #expect(throws: JSONRPCError.self) { try await client.callTool("add", arguments: ["a": "two"]) }
        #expect(try await client.listResources().map(\.uri) == ["demo://readme"])
        #expect(try await client.listResourceTemplates().map(\.uriTemplate) == ["items://{id}"])
        let item = try await client.readResource("items://7")
        #expect(item == [.text(#"{"id":7,"name":"item 7"}"#, mimeType: "application/json")])
        let missing = await #expect(throws: JSONRPCError.self) { try await client.readResource("items://0") }
        #expect(missing?.code == -32002)
        #expect(try await client.listPrompts().map(\.name) == ["summarise"])
        let prompt = try await client.getPrompt("summarise", arguments: ["text": "A long story."])
        #expect(prompt.messages.first?.content.text == "Summarise this in one sentence:\n\nA long story.")
        try await client.ping()
        await client.close()
    }

    @Test("The server's sampling, elicitation and roots requests reach the client's handlers", arguments: [Kind.http, .sse, .webSocket])
    func serverRequests(kind: Kind) async throws {
        let app = App()
        let mcp = MCPServer(name: "asking", version: "1")
        mcp.tool("ask") { (question: Question, context: MCPContext) in
            let reply = try await context.sample(MCPSamplingRequest(messages: [.init(role: "user", content: .text(question.text))], maxTokens: 5))
            let consent = try await context.elicit("sure?", as: Consent.self)
            guard consent.value?.ok == true else { throw MCPError.unexpectedAnswer("no consent") }
            let roots = try await context.roots()
            return Answer(text: "\(reply.content.text ?? "") \(consent.action.rawValue) \(roots.map(\.uri).joined(separator: ","))")
        }
        app.mount(mcp, at: "/mcp")
        try await app.test(.live) { testClient in
            let port = testClient.serverAddress!.port!
            let handlers = MCPClientHandlers(
                sampling: { request in MCPSamplingResult(content: .text("echo:" + (request.messages.first?.content.text ?? "")), model: "test") },
                elicitation: { _ in MCPElicitationResult(action: .accept, content: ["ok": true]) },
                roots: { [MCPRoot(uri: "file:///tmp/a"), MCPRoot(uri: "file:///tmp/b", name: "b")] })
            let client = try await connect(kind, port: port, handlers: handlers)
            let answer = try await client.callTool("ask", arguments: ["text": "hi"], as: Answer.self)
            #expect(answer.text == "echo:hi accept file:///tmp/a,file:///tmp/b")
            await client.close()
        }
    }

    @Test("A call that takes too long times out and the server stops it; a closed client fails its calls", arguments: [Kind.http, .sse, .webSocket])
    func timeoutAndClose(kind: Kind) async throws {
        let app = App()
        let mcp = MCPServer(name: "slow", version: "1")
        let stopped = Collected<Bool>()
        mcp.tool("slow") { (question: Question) in
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                stopped.append(true)
                throw error
            }
            return Answer(text: question.text)
        }
        app.mount(mcp, at: "/mcp")
        try await app.test(.live) { testClient in
            let client = try await connect(kind, port: testClient.serverAddress!.port!)
            let started = ContinuousClock.now
            let slow = await #expect(throws: MCPError.self) {
                try await client.callTool("slow", arguments: ["text": "x"], timeout: .milliseconds(300))
            }
            #expect(slow == .timedOut(method: "tools/call"))
            #expect(ContinuousClock.now - started < .seconds(10))
            for _ in 0..<500 where stopped.values.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            #expect(stopped.values == [true])  // notifications/cancelled reached the server
            try await client.ping()
            await client.close()
            await #expect(throws: MCPError.sessionClosed) { try await client.ping() }
        }
    }

    @Test("Lists come in pages; the client follows the cursors to the end")
    func pagination() async throws {
        let app = App()
        let mcp = MCPServer(name: "paged", version: "1", pageSize: 2)
        for index in 0..<5 { mcp.tool("echo\(index)") { (question: Question) in Answer(text: question.text) } }
        for index in 0..<3 { mcp.prompt("prompt\(index)") { _ in [] } }
        app.mount(mcp, at: "/mcp")
        try await app.test(.live) { testClient in
            let client = try await connect(.http, port: testClient.serverAddress!.port!)
            #expect(try await client.listTools().map(\.name) == (0..<5).map { "echo\($0)" })
            #expect(try await client.listPrompts().map(\.name) == ["prompt0", "prompt1", "prompt2"])
            let firstPage = try await client.request("tools/list")
            #expect(firstPage.objectValue?["nextCursor"] != nil)
            await client.close()
        }
    }

    @Test("Notifications the server sends unasked arrive on the standalone stream: list changes and subscribed resource updates")
    func unsolicited() async throws {
        let app = App()
        let mcp = MCPServer(name: "changing", version: "1")
        mcp.resource("demo://a", name: "a") { .text("A") }
        app.mount(mcp, at: "/mcp")
        try await app.test(.live) { testClient in
            let port = testClient.serverAddress!.port!
            for kind in [Kind.http, .sse, .webSocket] {
                let client = try await connect(kind, port: port)
                try await client.subscribe("demo://a")
                // Over HTTP the standalone stream opens right after initialize; wait until it is there.
                for _ in 0..<100 where mcp.sessionCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
                try await Task.sleep(for: .milliseconds(200))
                await mcp.resourceUpdated("demo://a")
                mcp.prompt("p") { _ in [] }
                var seen: [String] = []
                for await notification in client.notifications {
                    seen.append(notification.method)
                    if seen.count == 2 { break }
                }
                #expect(Set(seen) == ["notifications/resources/updated", "notifications/prompts/list_changed"], "\(kind)")
                mcp.removePrompt("p")
                await client.close()
            }
        }
    }
}
