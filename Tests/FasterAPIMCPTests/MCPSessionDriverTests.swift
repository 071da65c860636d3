import FasterAPI
import NIOCore
import Synchronization
import Testing

@testable import FasterAPIMCP

@Suite("MCP session driver")
struct MCPSessionDriverTests {
    private static let initialize =
        #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"#

    private func driver(_ sent: SentJSON) -> MCPSessionDriver {
        let server = MCPServer(name: "t", version: "1")
        server.tool("slow") { (arguments: AddArguments) in
            try await Task.sleep(for: .seconds(arguments.a))
            return AddResult(sum: arguments.a)
        }
        return MCPSessionDriver(server: server) { sent.append($0.json) }
    }

    private func receive(_ driver: MCPSessionDriver, _ text: String, _ sent: SentJSON) async {
        await driver.receive(JSONRPCPayload.decode(ByteBuffer(string: text)), send: { sent.append($0) })
    }

    @Test("A request runs while others are answered; notifications/cancelled stops it and its answer is not sent")
    func cancellation() async throws {
        let sent = SentJSON()
        let driver = driver(sent)
        await receive(driver, Self.initialize, sent)
        await receive(driver, #"{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"slow","arguments":{"a":30,"b":0}}}"#, sent)
        await receive(driver, #"{"jsonrpc":"2.0","id":2,"method":"ping"}"#, sent)
        await receive(driver, #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow"}}"#, sent)
        await driver.finish()  // returns at once: the slow call was cancelled, not waited for 30 s
        let ids = sent.values.compactMap { value -> JSONValue? in
            guard case .object(let object) = value else { return nil }
            return object["id"]
        }
        #expect(ids == [.int(1), .int(2)])
    }

    @Test("A batch (2025-03-26) is answered as one array")
    func batch() async {
        let sent = SentJSON()
        let driver = driver(sent)
        await receive(driver, Self.initialize, sent)
        await receive(driver, #"[{"jsonrpc":"2.0","id":2,"method":"ping"},{"jsonrpc":"2.0","id":3,"method":"ping"}]"#, sent)
        guard case .array(let replies)? = sent.values.last else {
            Issue.record("no batch answer: \(sent.values)")
            return
        }
        #expect(replies.count == 2)
    }
}

/// JSON a test's driver sent.
final class SentJSON: Sendable {
    private let box = Mutex<[JSONValue]>([])
    func append(_ value: JSONValue) { box.withLock { $0.append(value) } }
    var values: [JSONValue] { box.withLock { $0 } }
}
