import FasterAPI
import Foundation
import NIOCore
import Synchronization

/// An MCP server: register tools, resources and prompts, then serve it on a transport.
///
/// ```swift
/// let mcp = MCPServer(name: "catalogue", version: "1.0.0")
/// mcp.tool("add", description: "Add two numbers.") { (args: AddArgs) in AddResult(sum: args.a + args.b) }
/// try await mcp.run(.stdio)
/// ```
public final class MCPServer: Sendable {
    /// How a standalone server talks to its client.
    public enum Transport: Sendable {
        /// Newline-delimited JSON on standard input and output (logs go to standard error).
        case stdio
        /// Streamable HTTP at `path` (with the legacy SSE transport at `path/sse` and WebSocket
        /// at `path/ws`), served by an app of its own.
        case http(host: String = "127.0.0.1", port: Int = 8000, path: String = "/mcp")
    }

    private let name: String
    private let version: String
    private let instructions: String?
    /// How many entries a `…/list` answer holds before it gives a `nextCursor`.
    let pageSize: Int
    private let tools = Mutex(MCPToolRegistry())
    private let resources = Mutex(MCPResourceRegistry())
    private let prompts = Mutex(MCPPromptRegistry())
    /// Completion suggestions, by "kind name argument".
    private let completers = Mutex<[String: @Sendable (String) async throws -> [String]]>([:])
    /// The sessions open now, on every transport.
    private let sessions = Mutex<[ObjectIdentifier: MCPSessionDriver]>([:])

    /// A server called `name`, at `version`, with optional `instructions` for the model; lists
    /// come in pages of `pageSize` entries.
    public init(name: String, version: String, instructions: String? = nil, pageSize: Int = 100) {
        self.name = name
        self.version = version
        self.instructions = instructions
        self.pageSize = max(1, pageSize)
    }

    /// Registers a tool whose arguments decode (and are validated) as `Arguments` and whose
    /// result is returned as structured content; both schemas come from the types.
    public func tool<Arguments: SchemaModel, Output: Encodable & SchemaDescribable & Sendable>(
        _ name: String, description: String? = nil, annotations: MCPToolAnnotations = MCPToolAnnotations(),
        _ handler: @escaping @Sendable (Arguments) async throws -> Output
    ) {
        tool(name, description: description, annotations: annotations) { arguments, _ in try await handler(arguments) }
    }

    /// Registers a tool that also gets the request's ``MCPContext`` (progress, logging).
    public func tool<Arguments: SchemaModel, Output: Encodable & SchemaDescribable & Sendable>(
        _ name: String, description: String? = nil, annotations: MCPToolAnnotations = MCPToolAnnotations(),
        _ handler: @escaping @Sendable (Arguments, MCPContext) async throws -> Output
    ) {
        add(MCPTool.make(name: name, description: description, annotations: annotations, handler: handler))
    }

    func add(_ tool: MCPTool) {
        tools.withLock { $0.add(tool) }
        listChanged("tools")
    }

    /// Removes the tool called `name` (sessions are told the list changed).
    public func removeTool(_ name: String) {
        if tools.withLock({ $0.remove(named: name) }) { listChanged("tools") }
    }

    /// Registers a resource at a fixed `uri`.
    public func resource(
        _ uri: String, name: String, description: String? = nil, mimeType: String? = nil,
        _ read: @escaping @Sendable () async throws -> MCPResourceContents
    ) {
        resources.withLock {
            $0.add(.init(uri: uri, name: name, description: description, mimeType: mimeType, read: read))
        }
        listChanged("resources")
    }

    /// Registers a resource template (`items://{id}`): `read` gets the variables of the URI asked
    /// for, and returns nil when nothing is there (answered -32002).
    public func resource(
        template: String, name: String, description: String? = nil, mimeType: String? = nil,
        _ read: @escaping @Sendable ([String: String]) async throws -> MCPResourceContents?
    ) {
        resources.withLock {
            $0.add(.init(template: URITemplate(template), name: name, description: description, mimeType: mimeType, read: read))
        }
        listChanged("resources")
    }

    /// Removes the resource at `uri` (or the template written `uri`).
    public func removeResource(_ uri: String) {
        if resources.withLock({ $0.remove(uri) }) { listChanged("resources") }
    }

    /// Tells the sessions subscribed to `uri` that it changed (`notifications/resources/updated`).
    public func resourceUpdated(_ uri: String) async {
        let message = JSONRPCMessage.notification(method: "notifications/resources/updated", params: ["uri": .string(uri)])
        for session in sessions.withLock({ Array($0.values) }) { await session.notify(message, onlyIfSubscribed: uri) }
    }

    /// Registers a prompt taking `arguments` (strings) and producing its messages.
    public func prompt(
        _ name: String, description: String? = nil, arguments: [MCPPromptArgument] = [],
        _ render: @escaping @Sendable ([String: String]) async throws -> [MCPPromptMessage]
    ) {
        prompts.withLock {
            $0.add(.init(name: name, description: description, arguments: arguments, render: render))
        }
        listChanged("prompts")
    }

    /// Removes the prompt called `name`.
    public func removePrompt(_ name: String) {
        if prompts.withLock({ $0.remove(named: name) }) { listChanged("prompts") }
    }

    /// Tells every session in operation that the `kind` list changed.
    private func listChanged(_ kind: String) {
        let open = sessions.withLock { Array($0.values) }
        guard !open.isEmpty else { return }
        let message = JSONRPCMessage.notification(method: "notifications/\(kind)/list_changed", params: nil)
        Task { for session in open { await session.notify(message) } }
    }

    func attach(_ session: MCPSessionDriver) { sessions.withLock { $0[ObjectIdentifier(session)] = session } }
    func detach(_ session: MCPSessionDriver) { sessions.withLock { $0[ObjectIdentifier(session)] = nil } }

    /// How many sessions are open (on every transport).
    public var sessionCount: Int { sessions.withLock { $0.count } }

    /// What `initialize` answers with.
    var info: MCPServerInfo {
        var capabilities = JSONObject()
        capabilities["tools"] = ["listChanged": true]
        capabilities["resources"] = ["subscribe": true, "listChanged": true]
        capabilities["prompts"] = ["listChanged": true]
        capabilities["logging"] = .object(JSONObject())
        capabilities["completions"] = .object(JSONObject())
        return MCPServerInfo(name: name, version: version, capabilities: .object(capabilities), instructions: instructions)
    }

    /// A new session's state.
    func makeSession() -> MCPServerSession { MCPServerSession(info: info) }

    /// The answer to request `id`: its handler's result, or the error it failed with.
    func respond(id: JSONRPCID, method: String, params: JSONValue?, context: MCPContext) async -> JSONRPCMessage {
        do {
            return .response(id: id, result: try await dispatch(method, params, context))
        } catch {
            return .error(id: id, error)
        }
    }

    private func dispatch(_ method: String, _ params: JSONValue?, _ context: MCPContext) async throws(JSONRPCError)
        -> JSONValue
    {
        switch method {
        case "tools/list": return try MCPPage.result("tools", tools.withLock { $0.listing }, params, size: pageSize)
        case "tools/call": return try await tools.withLock { $0 }.call(params, context: context)
        case "resources/list":
            return try MCPPage.result("resources", resources.withLock { $0.listing }, params, size: pageSize)
        case "resources/templates/list":
            return try MCPPage.result("resourceTemplates", resources.withLock { $0.templateListing }, params, size: pageSize)
        case "resources/read": return try await resources.withLock { $0 }.read(params)
        case "prompts/list": return try MCPPage.result("prompts", prompts.withLock { $0.listing }, params, size: pageSize)
        case "prompts/get": return try await prompts.withLock { $0 }.get(params)
        case "completion/complete": return try await completions(params)
        default: throw .methodNotFound(method)
        }
    }

    /// Suggests values for argument `argument` of prompt `prompt` as the user types (`partial`
    /// is what they typed so far); at most 100 are sent.
    public func completion(prompt: String, argument: String, _ suggest: @escaping @Sendable (String) async throws -> [String]) {
        completers.withLock { $0["ref/prompt \(prompt) \(argument)"] = suggest }
    }

    /// Suggests values for variable `variable` of the resource template written `template`.
    public func completion(
        template: String, variable: String, _ suggest: @escaping @Sendable (String) async throws -> [String]
    ) {
        completers.withLock { $0["ref/resource \(template) \(variable)"] = suggest }
    }

    /// `completion/complete`: the registered suggestions for a prompt argument or a template
    /// variable (an empty list when none are registered).
    private func completions(_ params: JSONValue?) async throws(JSONRPCError) -> JSONValue {
        guard case .object(let object)? = params, case .object(let reference)? = object["ref"],
            case .string(let kind)? = reference["type"], ["ref/prompt", "ref/resource"].contains(kind),
            case .string(let name)? = reference[kind == "ref/prompt" ? "name" : "uri"],
            case .object(let argument)? = object["argument"], case .string(let argumentName)? = argument["name"]
        else {
            throw .invalidParams("completion/complete needs a ref (ref/prompt with a name or ref/resource with a uri) and an argument name")
        }
        var values: [String] = []
        if let suggest = completers.withLock({ $0["\(kind) \(name) \(argumentName)"] }) {
            do {
                values = try await suggest(argument["value"]?.stringValue ?? "")
            } catch {
                throw .internalError("completing \(argumentName) failed: \(error)")
            }
        }
        let sent = values.prefix(100).map(JSONValue.string)
        return ["completion": ["values": .array(Array(sent)), "total": .int(values.count), "hasMore": .bool(values.count > 100)]]
    }

    /// Serves one session on `transport` until the client goes away; messages over
    /// `maxMessageBytes` are refused (-32600) and the session goes on.
    public func run(_ transport: Transport, maxMessageBytes: Int = 4 << 20) async throws {
        switch transport {
        case .http(let host, let port, let path):
            let app = App()
            app.mount(self, at: path, maxMessageBytes: maxMessageBytes)
            try await app.run(host: host, port: port)
        case .stdio:
            let output = MCPLineWriter(FileHandle.standardOutput)
            let send: @Sendable (JSONValue) async -> Void = { message in output.write(message) }
            let driver = MCPSessionDriver(server: self, send: send)
            for await line in MCPLineReader.lines(from: STDIN_FILENO, limit: maxMessageBytes) {
                switch line {
                case .message(let bytes):
                    await driver.receive(JSONRPCPayload.decode(bytes), send: send)
                case .oversized:
                    await send(JSONRPCMessage.error(id: nil, .invalidRequest("the message exceeds \(maxMessageBytes) bytes")).json)
                }
            }
            await driver.finish()
        }
    }
}

/// Writes newline-delimited messages to a file, one whole line at a time (writes from several
/// tasks would otherwise interleave: a pipe write over 4 KiB is not atomic). A write that fails
/// (the reader has gone) is dropped.
final class MCPLineWriter: Sendable {
    private let file: Mutex<FileHandle>

    init(_ file: FileHandle) { self.file = Mutex(file) }

    func write(_ message: JSONValue) {
        guard var bytes = try? JSONWriter.encode(message) else { return }
        bytes.writeStaticString("\n")
        let data = Data(bytes.readableBytesView)
        file.withLock { try? $0.write(contentsOf: data) }
    }
}

/// Newline-delimited messages from a file descriptor, read on a thread of their own (a
/// blocking read must not hold one of Swift's few cooperative threads). A line longer than the
/// limit is skipped up to its newline and reported as oversized.
enum MCPLineReader {
    enum Line: Sendable {
        case message(ByteBuffer)
        case oversized
    }

    static func lines(from descriptor: Int32, limit: Int) -> AsyncStream<Line> {
        let (lines, continuation) = AsyncStream.makeStream(of: Line.self)
        Thread {
            var pending = ByteBuffer()
            var skipping = false
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                pending.writeBytes(chunk[..<count])
                while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending.readSlice(length: newline - pending.readerIndex + 1)!
                    if skipping {
                        skipping = false
                    } else if line.readableBytes > limit + 1 {
                        continuation.yield(.oversized)
                    } else if line.readableBytesView.contains(where: { $0 > 32 }) {
                        continuation.yield(.message(line))
                    }
                }
                if pending.readableBytes > limit, !skipping {
                    // Too long already: drop it, and the rest of it when it comes.
                    continuation.yield(.oversized)
                    skipping = true
                }
                if skipping { pending.clear() }
                pending.discardReadBytes()
            }
            continuation.finish()
        }.start()
        return lines
    }
}
