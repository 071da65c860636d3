import FasterAPI

/// Pagination of `…/list` answers: the cursor is opaque to clients (the offset of the next
/// page); a cursor we did not hand out is -32602.
enum MCPPage {
    static func result(_ key: String, _ items: [JSONValue], _ params: JSONValue?, size: Int) throws(JSONRPCError)
        -> JSONValue
    {
        var start = 0
        if case .object(let object)? = params, let cursor = object["cursor"], cursor != .null {
            guard case .string(let text) = cursor, text.hasPrefix("o"), let offset = Int(text.dropFirst()),
                (0...items.count).contains(offset)
            else { throw .invalidParams("unknown cursor") }
            start = offset
        }
        let end = min(items.count, start + size)
        var members: [(key: String, value: JSONValue)] = [(key, .array(Array(items[start..<end])))]
        if end < items.count { members.append(("nextCursor", .string("o\(end)"))) }
        return .object(JSONObject(members))
    }
}
