import FasterAPICore

/// How a request path that differs from a route only by a trailing slash is treated.
public enum TrailingSlashBehavior: Sendable {
    /// Redirect (307) to the registered form, like FastAPI.
    case redirect
    /// Serve the registered route directly.
    case ignore
    /// Treat the two paths as different (404).
    case strict
}

/// One segment of a route pattern.
enum RouteSegment: Equatable {
    case literal(String)
    /// `{name}`: one non-empty segment.
    case parameter(String)
    /// `{name...}` or `{name:path}`: the rest of the path, slashes included.
    case catchAll(String)

    /// Parses a pattern such as `/users/{id}/files/{path...}`.
    static func parse(_ pattern: String) -> [RouteSegment] {
        precondition(pattern.hasPrefix("/"), "Route patterns start with '/': \(pattern)")
        let parts = pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        if parts == [""] { return [] }
        var segments: [RouteSegment] = []
        for (index, part) in parts.enumerated() {
            if part.hasPrefix("{") && part.hasSuffix("}") {
                var name = part.dropFirst().dropLast()
                if name.hasSuffix("...") || name.hasSuffix(":path") {
                    name = name.hasSuffix("...") ? name.dropLast(3) : name.dropLast(5)
                    precondition(index == parts.count - 1, "A catch-all parameter must be last: \(pattern)")
                    segments.append(.catchAll(String(name)))
                } else {
                    segments.append(.parameter(String(name)))
                }
                precondition(!name.isEmpty, "Empty parameter name in \(pattern)")
            } else {
                segments.append(.literal(String(part)))
            }
        }
        return segments
    }
}

/// Builds the route trie; ``compile()`` flattens it for lookup.
struct RouterBuilder {
    private final class Node {
        var literals: [String: Node] = [:]
        var parameter: (name: String, node: Node)?
        var catchAll: (name: String, node: Node)?
        var handlers: [(method: HTTPMethod, route: Int)] = []
    }

    private let root = Node()

    /// Registers route number `route` for `method` at `pattern`.
    mutating func add(_ method: HTTPMethod, _ pattern: String, route: Int) {
        var node = root
        for segment in RouteSegment.parse(pattern) {
            switch segment {
            case .literal(let text):
                if let next = node.literals[text] {
                    node = next
                } else {
                    let next = Node()
                    node.literals[text] = next
                    node = next
                }
            case .parameter(let name):
                if let existing = node.parameter {
                    precondition(
                        existing.name == name,
                        "Conflicting parameter names {\(existing.name)} and {\(name)} at the same place in \(pattern)")
                    node = existing.node
                } else {
                    let next = Node()
                    node.parameter = (name, next)
                    node = next
                }
            case .catchAll(let name):
                if let existing = node.catchAll {
                    precondition(existing.name == name, "Conflicting catch-all names in \(pattern)")
                    node = existing.node
                } else {
                    let next = Node()
                    node.catchAll = (name, next)
                    node = next
                }
            }
        }
        precondition(
            !node.handlers.contains { $0.method == method }, "Route \(method) \(pattern) is registered twice")
        node.handlers.append((method, route))
    }

    /// The trie flattened into arrays.
    func compile() -> CompiledRouter {
        var nodes: [CompiledRouter.Node] = []
        func flatten(_ node: Node) -> Int {
            let index = nodes.count
            nodes.append(CompiledRouter.Node())
            var literals: [(key: [UInt8], node: Int)] = []
            for (key, child) in node.literals.sorted(by: { $0.key < $1.key }) {
                literals.append((Array(key.utf8), flatten(child)))
            }
            var compiled = CompiledRouter.Node()
            compiled.literals = literals
            if let parameter = node.parameter { compiled.parameter = (parameter.name, flatten(parameter.node)) }
            if let catchAll = node.catchAll { compiled.catchAll = (catchAll.name, flatten(catchAll.node)) }
            compiled.handlers = node.handlers
            nodes[index] = compiled
            return index
        }
        _ = flatten(root)
        return CompiledRouter(nodes: nodes)
    }
}

/// The route trie as flat arrays: matching walks the path's bytes without splitting it.
///
/// Priority at every level is literal, then `{parameter}`, then `{catch-all...}`, with
/// backtracking when a more specific branch does not lead to a route.
struct CompiledRouter: Sendable {
    struct Node: Sendable {
        var literals: [(key: [UInt8], node: Int)] = []
        var parameter: (name: String, node: Int)?
        var catchAll: (name: String, node: Int)?
        var handlers: [(method: HTTPMethod, route: Int)] = []
    }

    /// A successful match: the node with handlers and the captured parameters.
    struct Match {
        var node: Int
        var captures: [(name: String, value: String)]
    }

    let nodes: [Node]

    /// The handlers at `node`.
    func handlers(at node: Int) -> [(method: HTTPMethod, route: Int)] { nodes[node].handlers }

    /// Finds the node for `path` (percent-encoded, starting with `/`), or nil.
    func match(_ path: Substring) -> Match? {
        var path = path
        return path.withUTF8 { bytes -> Match? in
            guard bytes.first == UInt8(ascii: "/") else { return nil }
            var captures: [(name: String, value: String)] = []
            // "/" is the root itself; otherwise every "/" starts a segment (maybe an empty one).
            guard let node = walk(0, bytes, from: bytes.count == 1 ? nil : 1, captures: &captures) else { return nil }
            return Match(node: node, captures: captures)
        }
    }

    /// Matches the segment starting at `start` (or the end of the path when `start` is nil).
    private func walk(
        _ index: Int, _ bytes: UnsafeBufferPointer<UInt8>, from start: Int?,
        captures: inout [(name: String, value: String)]
    ) -> Int? {
        let node = nodes[index]
        guard let start else { return node.handlers.isEmpty ? nil : index }
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "/") { end += 1 }
        let next: Int? = end < bytes.count ? end + 1 : nil
        let segment = UnsafeBufferPointer(rebasing: bytes[start..<end])

        if !node.literals.isEmpty {
            let decoded: [UInt8]? =
                segment.contains(UInt8(ascii: "%")) ? FormURLEncoded.percentDecodeBytes(segment) : nil
            for literal in node.literals {
                let matches = decoded.map { $0 == literal.key } ?? segment.elementsEqual(literal.key)
                if matches, let found = walk(literal.node, bytes, from: next, captures: &captures) { return found }
            }
        }
        if let parameter = node.parameter, !segment.isEmpty {
            // Like Starlette, a stray "%" stays as it is rather than failing the match.
            let value = FormURLEncoded.decode(segment, plusAsSpace: false, lenient: true) ?? ""
            captures.append((parameter.name, value))
            if let found = walk(parameter.node, bytes, from: next, captures: &captures) { return found }
            captures.removeLast()
        }
        if let catchAll = node.catchAll, !nodes[catchAll.node].handlers.isEmpty {
            let rest = UnsafeBufferPointer(rebasing: bytes[start...])
            let value = FormURLEncoded.decode(rest, plusAsSpace: false, lenient: true) ?? ""
            captures.append((catchAll.name, value))
            return catchAll.node
        }
        return nil
    }
}
