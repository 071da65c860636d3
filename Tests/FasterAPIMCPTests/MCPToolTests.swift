import FasterAPI
import Synchronization
import Testing

@testable import FasterAPIMCP

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

struct Refused: Error, CustomStringConvertible {
    var description: String { "the tool refused" }
}

@Suite("MCP tools")
struct MCPToolTests {
    static let context = MCPContext(requestID: .int(1), params: nil, logLevel: nil, related: { _ in })

    private func registry() -> MCPToolRegistry {
        var registry = MCPToolRegistry()
        registry.add(
            MCPTool.make(
                name: "add", description: "Add two numbers.", annotations: MCPToolAnnotations(readOnlyHint: true)
            ) { (arguments: AddArguments, _) in AddResult(sum: arguments.a + arguments.b) })
        registry.add(
            MCPTool.make(name: "refuse", description: nil, annotations: MCPToolAnnotations()) {
                (_: AddArguments, _) -> AddResult in throw Refused()
            })
        registry.add(
            MCPTool.make(name: "count", description: nil, annotations: MCPToolAnnotations()) {
                (arguments: AddArguments, _) -> Int in Int(arguments.a)
            })
        return registry
    }

    @Test("A result that is not a model is wrapped as {\"result\": …}, in the schema too")
    func wrapped() async throws {
        let result = try await registry().call(["name": "count", "arguments": ["a": 4, "b": 0]], context: Self.context)
        #expect(result == ["content": [["type": "text", "text": #"{"result":4}"#]], "structuredContent": ["result": 4]])
    }

    @Test("tools/list shows each tool with schemas derived from its types")
    func listing() throws {
        guard case .object(let add) = registry().listing[0] else {
            Issue.record("no tools")
            return
        }
        #expect(add["name"] == "add")
        #expect(add["description"] == "Add two numbers.")
        #expect(add["annotations"] == ["readOnlyHint": true])
        guard case .object(let input)? = add["inputSchema"], case .object(let properties)? = input["properties"] else {
            Issue.record("no input schema: \(add)")
            return
        }
        #expect(input["type"] == "object")
        #expect(properties["a"] != nil && properties["b"] != nil)
        #expect(input["required"] == ["a", "b"])
        guard case .object(let output)? = add["outputSchema"] else {
            Issue.record("no output schema")
            return
        }
        // The output model is the schema's root object (structured content is an object).
        #expect(output["type"] == "object")
        #expect(output["required"] == ["sum"])
    }

    @Test("tools/call returns structured content and its text")
    func call() async throws {
        let result = try await registry().call(["name": "add", "arguments": ["a": 2, "b": 3.5]], context: Self.context)
        #expect(result == ["content": [["type": "text", "text": #"{"sum":5.5}"#]], "structuredContent": ["sum": 5.5]])
    }

    @Test("A tool that throws gives an isError result, not a protocol error")
    func toolError() async throws {
        let result = try await registry().call(["name": "refuse", "arguments": ["a": 1, "b": 2]], context: Self.context)
        #expect(result == ["content": [["type": "text", "text": "the tool refused"]], "isError": true])
    }

    @Test("Unknown tools and arguments that do not fit are -32602, the latter with the problems")
    func invalidParams() async {
        await #expect(throws: JSONRPCError.self) { try await registry().call(["name": "nope"], context: Self.context) }
        do {
            _ = try await registry().call(["name": "add", "arguments": ["a": "x"]], context: Self.context)
            Issue.record("bad arguments accepted")
        } catch {
            #expect(error.code == -32602)
            guard case .array(let issues)? = error.data else {
                Issue.record("no validation details")
                return
            }
            #expect(issues.count == 2)  // a is not a number, b is missing
        }
    }

    @Test("A handler's progress reaches the client only with a progress token; logs only at or above its level")
    func contextNotifications() async {
        let sent = Sent()
        let context = MCPContext(
            requestID: .int(5), params: ["_meta": ["progressToken": "t1"]], logLevel: .warning,
            related: { sent.append($0) })
        await context.progress(1, total: 4, message: "one of four")
        await context.log(.info, "too quiet")
        await context.log(.error, "loud enough", logger: "db")
        #expect(
            sent.messages == [
                .notification(
                    method: "notifications/progress",
                    params: ["progressToken": "t1", "progress": 1, "total": 4, "message": "one of four"]),
                .notification(method: "notifications/message", params: ["level": "error", "data": "loud enough", "logger": "db"]),
            ])
        let silent = MCPContext(requestID: .int(6), params: nil, logLevel: nil, related: { sent.append($0) })
        await silent.progress(1)
        await silent.log(.emergency, "nobody asked")
        #expect(sent.messages.count == 2)
    }
}

/// Messages a test's outbound received.
final class Sent: Sendable {
    private let box = Mutex<[JSONRPCMessage]>([])
    func append(_ message: JSONRPCMessage) { box.withLock { $0.append(message) } }
    var messages: [JSONRPCMessage] { box.withLock { $0 } }
}
