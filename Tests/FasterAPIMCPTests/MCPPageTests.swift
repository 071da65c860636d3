import FasterAPI
import Testing

@testable import FasterAPIMCP

@Suite("MCP list pagination")
struct MCPPageTests {
    private let items: [JSONValue] = (1...5).map { .int($0) }

    @Test("Pages of the given size, each with the cursor of the next; the last has none")
    func pages() throws {
        let first = try MCPPage.result("tools", items, nil, size: 2)
        #expect(first == ["tools": [1, 2], "nextCursor": "o2"])
        let second = try MCPPage.result("tools", items, ["cursor": "o2"], size: 2)
        #expect(second == ["tools": [3, 4], "nextCursor": "o4"])
        #expect(try MCPPage.result("tools", items, ["cursor": "o4"], size: 2) == ["tools": [5]])
    }

    @Test("A cursor we did not hand out is -32602", arguments: ["x", "o9", "o-1", ""])
    func badCursor(cursor: String) {
        #expect(throws: JSONRPCError.self) { try MCPPage.result("tools", items, ["cursor": .string(cursor)], size: 2) }
    }
}
