import FasterAPI

/// What reading a resource gives: text (or base64 bytes) with its MIME type.
public struct MCPResourceContents: Sendable, Equatable {
    /// The text, or nil for binary contents.
    public var text: String?
    /// Base64 of binary contents.
    public var blob: String?
    /// The MIME type.
    public var mimeType: String?

    /// Text contents.
    public static func text(_ text: String, mimeType: String? = "text/plain") -> MCPResourceContents {
        MCPResourceContents(text: text, blob: nil, mimeType: mimeType)
    }

    /// Binary contents, base64-encoded.
    public static func blob(_ base64: String, mimeType: String? = nil) -> MCPResourceContents {
        MCPResourceContents(text: nil, blob: base64, mimeType: mimeType)
    }

    func json(uri: String) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [("uri", .string(uri))]
        if let mimeType { members.append(("mimeType", .string(mimeType))) }
        if let text { members.append(("text", .string(text))) }
        if let blob { members.append(("blob", .string(blob))) }
        return .object(JSONObject(members))
    }
}

/// A URI template of RFC 6570's simplest form (`items://{id}`, `files:///{path}`): literal text
/// and `{name}` variables, each matching a non-empty run of characters up to the next literal.
struct URITemplate: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case literal(String)
        case variable(String)
    }

    let text: String
    let parts: [Part]

    init(_ text: String) {
        self.text = text
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            if open > rest.startIndex { parts.append(.literal(String(rest[..<open]))) }
            parts.append(.variable(String(rest[rest.index(after: open)..<close])))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        self.parts = parts
    }

    /// The variables' values if `uri` matches, else nil.
    func match(_ uri: String) -> [String: String]? {
        var values: [String: String] = [:]
        var rest = Substring(uri)
        for (index, part) in parts.enumerated() {
            switch part {
            case .literal(let literal):
                guard rest.hasPrefix(literal) else { return nil }
                rest = rest.dropFirst(literal.count)
            case .variable(let name):
                // Up to the next literal, or to the end.
                var end = rest.endIndex
                if index + 1 < parts.count, case .literal(let next) = parts[index + 1] {
                    guard let found = rest.range(of: next) else { return nil }
                    end = found.lowerBound
                }
                guard end > rest.startIndex else { return nil }
                values[name] = String(rest[..<end])
                rest = rest[end...]
            }
        }
        return rest.isEmpty ? values : nil
    }
}

/// The resources of a server: fixed URIs and templates.
struct MCPResourceRegistry: Sendable {
    struct Fixed: Sendable {
        let uri: String
        let name: String
        let description: String?
        let mimeType: String?
        let read: @Sendable () async throws -> MCPResourceContents
    }

    struct Template: Sendable {
        let template: URITemplate
        let name: String
        let description: String?
        let mimeType: String?
        let read: @Sendable ([String: String]) async throws -> MCPResourceContents?
    }

    private(set) var fixed: [Fixed] = []
    private(set) var templates: [Template] = []

    var isEmpty: Bool { fixed.isEmpty && templates.isEmpty }

    mutating func add(_ resource: Fixed) { fixed.append(resource) }
    mutating func add(_ template: Template) { templates.append(template) }

    /// Removes the resource at `uri` or the template written `uri`; false if there is neither.
    mutating func remove(_ uri: String) -> Bool {
        let count = fixed.count + templates.count
        fixed.removeAll { $0.uri == uri }
        templates.removeAll { $0.template.text == uri }
        return fixed.count + templates.count < count
    }

    /// `resources/list`'s entries.
    var listing: [JSONValue] {
        fixed.map { Self.describe(["uri": .string($0.uri)], $0.name, $0.description, $0.mimeType) }
    }

    /// `resources/templates/list`'s entries.
    var templateListing: [JSONValue] {
        templates.map { Self.describe(["uriTemplate": .string($0.template.text)], $0.name, $0.description, $0.mimeType) }
    }

    /// `resources/read`'s result; -32002 for a URI nothing serves.
    func read(_ params: JSONValue?) async throws(JSONRPCError) -> JSONValue {
        guard case .object(let object)? = params, case .string(let uri)? = object["uri"] else {
            throw .invalidParams("resources/read needs a uri")
        }
        do {
            if let resource = fixed.first(where: { $0.uri == uri }) {
                return ["contents": [try await resource.read().json(uri: uri)]]
            }
            for template in templates {
                guard let values = template.template.match(uri) else { continue }
                if let contents = try await template.read(values) {
                    return ["contents": [contents.json(uri: uri)]]
                }
            }
        } catch {
            throw .internalError("reading \(uri) failed: \(error)")
        }
        throw JSONRPCError(code: -32002, message: "Resource not found", data: ["uri": .string(uri)])
    }

    private static func describe(_ address: JSONObject, _ name: String, _ description: String?, _ mimeType: String?)
        -> JSONValue
    {
        var members = address.members
        members.append(("name", .string(name)))
        if let description { members.append(("description", .string(description))) }
        if let mimeType { members.append(("mimeType", .string(mimeType))) }
        return .object(JSONObject(members))
    }
}
