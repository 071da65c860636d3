import FasterAPI
import NIOCore
import Testing

@testable import FasterAPIMCP

@Schema struct Question: Codable, Sendable {
    /// What to ask.
    var text: String
}

@Schema struct Answer: Codable, Sendable {
    /// What came back.
    var text: String
}

/// The server's own requests to the client, and the notifications it sends unasked.
@Suite("MCP server requests and notifications")
struct MCPServerRequestTests {
    private static func initialize(_ capabilities: String) -> String {
        #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":"#
            + capabilities + #","clientInfo":{"name":"x","version":"1"}}}"#
    }

    private static let initialized = #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#

    private func server() -> MCPServer {
        let server = MCPServer(name: "t", version: "1")
        server.tool("ask") { (question: Question, context: MCPContext) in
            let reply = try await context.sample(
                MCPSamplingRequest(messages: [.init(role: "user", content: .text(question.text))], maxTokens: 10),
                timeout: .milliseconds(question.text == "slow" ? 200 : 10_000))
            return Answer(text: reply.content.text ?? "")
        }
        server.tool("roots") { (_: Question, context: MCPContext) in
            Answer(text: try await context.roots().map(\.uri).joined(separator: " "))
        }
        server.resource("demo://a", name: "a") { .text("A") }
        return server
    }

    private func receive(_ driver: MCPSessionDriver, _ text: String, _ sent: SentJSON) async {
        await driver.receive(JSONRPCPayload.decode(ByteBuffer(string: text)), send: { sent.append($0) })
    }

    /// Waits (at most 10 s) until `sent` holds a message matching `predicate`.
    private func awaitMessage(_ sent: SentJSON, _ predicate: (JSONObject) -> Bool) async throws -> JSONObject {
        for _ in 0..<1000 {
            for case .object(let object) in sent.values where predicate(object) { return object }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw MCPError.timedOut(method: "test wait; sent: \(sent.values)")
    }

    @Test("A tool asks the client's model (sampling/createMessage) and answers with what came back")
    func sampling() async throws {
        let sent = SentJSON()
        let driver = MCPSessionDriver(server: server()) { sent.append($0.json) }
        await receive(driver, Self.initialize(#"{"sampling":{}}"#), sent)
        await receive(driver, Self.initialized, sent)
        await receive(driver, #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ask","arguments":{"text":"why?"}}}"#, sent)
        let request = try await awaitMessage(sent) { $0["method"] == "sampling/createMessage" }
        #expect(request["params"] == ["messages": [["role": "user", "content": ["type": "text", "text": "why?"]]], "maxTokens": 10])
        let id = try #require(request["id"])
        let reply: JSONValue = [
            "jsonrpc": "2.0", "id": id, "result": ["role": "assistant", "content": ["type": "text", "text": "because"], "model": "m"],
        ]
        await receive(driver, String(buffer: try JSONWriter.encode(reply)), sent)
        let answer = try await awaitMessage(sent) { $0["id"] == 2 }
        guard case .object(let result)? = answer["result"] else { throw MCPError.unexpectedAnswer("\(answer)") }
        #expect(result["structuredContent"] == ["text": "because"])
    }

    @Test("An unanswered request times out: the tool fails and the client is told the request is cancelled")
    func timeout() async throws {
        let sent = SentJSON()
        let driver = MCPSessionDriver(server: server()) { sent.append($0.json) }
        await receive(driver, Self.initialize(#"{"sampling":{}}"#), sent)
        await receive(driver, #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ask","arguments":{"text":"slow"}}}"#, sent)
        let answer = try await awaitMessage(sent) { $0["id"] == 2 }
        guard case .object(let result)? = answer["result"] else { throw MCPError.unexpectedAnswer("\(answer)") }
        #expect(result["isError"] == true)
        let cancelled = try await awaitMessage(sent) { $0["method"] == "notifications/cancelled" }
        #expect(cancelled["params"]?.objectValue?["reason"] == "timed out")
    }

    @Test("A request needing a capability the client did not declare fails without being sent; an error answer fails the tool")
    func capabilities() async throws {
        let sent = SentJSON()
        let driver = MCPSessionDriver(server: server()) { sent.append($0.json) }
        await receive(driver, Self.initialize(#"{"roots":{}}"#), sent)
        await receive(driver, #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ask","arguments":{"text":"x"}}}"#, sent)
        let refused = try await awaitMessage(sent) { $0["id"] == 2 }
        #expect(String(describing: refused).contains("capabilityMissing"))
        await receive(driver, #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"roots","arguments":{"text":""}}}"#, sent)
        let request = try await awaitMessage(sent) { $0["method"] == "roots/list" }
        let id = String(buffer: try JSONWriter.encode(try #require(request["id"])))
        await receive(driver, #"{"jsonrpc":"2.0","id":"# + id + #","error":{"code":-32601,"message":"no roots here"}}"#, sent)
        let failed = try await awaitMessage(sent) { $0["id"] == 3 }
        #expect(String(describing: failed).contains("no roots here"))
        #expect(!sent.values.contains { $0.objectValue?["method"] == "sampling/createMessage" })
    }

    @Test("Registering or removing a tool tells initialized sessions the list changed")
    func listChanged() async throws {
        let server = server()
        let sent = SentJSON()
        let driver = MCPSessionDriver(server: server) { sent.append($0.json) }
        await receive(driver, Self.initialize("{}"), sent)
        await receive(driver, Self.initialized, sent)
        server.tool("late") { (question: Question) in Answer(text: question.text) }
        _ = try await awaitMessage(sent) { $0["method"] == "notifications/tools/list_changed" }
        server.removePrompt("none")  // nothing removed: nothing sent
        server.removeResource("demo://a")
        _ = try await awaitMessage(sent) { $0["method"] == "notifications/resources/list_changed" }
        #expect(!sent.values.contains { $0.objectValue?["method"] == "notifications/prompts/list_changed" })
        driver.close()
        #expect(server.sessionCount == 0)
    }

    @Test("resources/updated reaches only the sessions subscribed to that URI")
    func subscriptions() async throws {
        let server = server()
        let (first, second) = (SentJSON(), SentJSON())
        let subscribed = MCPSessionDriver(server: server) { first.append($0.json) }
        let other = MCPSessionDriver(server: server) { second.append($0.json) }
        for (driver, sent) in [(subscribed, first), (other, second)] {
            await receive(driver, Self.initialize("{}"), sent)
            await receive(driver, Self.initialized, sent)
        }
        await receive(subscribed, #"{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"demo://a"}}"#, first)
        await server.resourceUpdated("demo://a")
        await receive(subscribed, #"{"jsonrpc":"2.0","id":3,"method":"resources/unsubscribe","params":{"uri":"demo://a"}}"#, first)
        await server.resourceUpdated("demo://a")
        let updates = first.values.filter { $0.objectValue?["method"] == "notifications/resources/updated" }
        #expect(updates == [["jsonrpc": "2.0", "method": "notifications/resources/updated", "params": ["uri": "demo://a"]]])
        #expect(!second.values.contains { $0.objectValue?["method"] == "notifications/resources/updated" })
    }

    @Test("The event log resumes a stream after the last event seen, and knows when it ended")
    func eventLog() {
        var log = MCPEventLog(capacity: 4)
        let post = log.openStream()
        let first = log.append(.notification(method: "a", params: nil), to: post)
        _ = log.append(.notification(method: "unrelated", params: nil), to: 0)
        let second = log.append(.response(id: .int(1), result: [:]), to: post)
        #expect(log.resume(after: String(first.id)) == .init(stream: post, replay: [second], ended: false))
        _ = log.append(nil, to: post)
        #expect(log.resume(after: String(first.id)).ended)
        #expect(log.resume(after: "999") == .init(stream: 0, replay: [], ended: false))
        for _ in 0..<4 { _ = log.append(.notification(method: "b", params: nil), to: 0) }
        #expect(log.events.count == 4)  // at twice the capacity, the oldest are forgotten
        #expect(log.resume(after: String(first.id)) == .init(stream: 0, replay: [], ended: false))
    }
}
