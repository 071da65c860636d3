// How the client reaches a server: a spawned child over the SDK's StdioTransport, or Streamable
// HTTP over the SDK's HTTPClientTransport.
import Foundation
import Logging  // swift-log, through the SDK: the `Transport` protocol names its `Logger`
import MCP
import Synchronization
import SystemPackage  // swift-system, through the SDK: StdioTransport takes its `FileDescriptor`s

/// Where to connect: `--http URL` or `--stdio CMD [ARGS...]`.
enum Target: Sendable {
    case http(URL)
    case stdio([String])
}

/// PIDs of spawned servers, ended by `finish` before the client exits.
let children = Mutex<[pid_t]>([])

/// Prints one JSON line to stdout, ends spawned servers and exits.
func finish(_ output: Value, code: Int32) -> Never {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let json = (try? encoder.encode(output)) ?? Data(#"{"error":"could not encode output"}"#.utf8)
    FileHandle.standardOutput.write(json + Data("\n".utf8))
    // SIGKILL: Foundation's Process starts children with the spawning thread's signal mask,
    // which under Swift concurrency blocks SIGTERM. Exiting also closes their stdin.
    for pid in children.withLock({ $0 }) { kill(pid, SIGKILL) }
    exit(code)
}

/// A connected SDK client plus what `initialize` returned.
struct Connection: Sendable {
    let client: Client
    let initialized: Initialize.Result
}

/// Connects a new `Client` (which runs `initialize` inside `connect`).
func connect(_ target: Target) async throws -> Connection {
    let client = Client(name: "swiftsdk-mcp-client", version: "0.12.1")
    switch target {
    case .stdio(let command):
        let result = try await client.connect(transport: try spawn(command))
        return Connection(client: client, initialized: result)
    case .http(let url):
        let http = HTTPClientTransport(endpoint: url, streaming: false)
        let result = try await client.connect(transport: SSEUnwrappingTransport(http))
        // `Client` does this itself only when the transport *is* an HTTPClientTransport.
        await http.updateNegotiatedProtocolVersion(result.protocolVersion)
        return Connection(client: client, initialized: result)
    }
}

/// Starts `command` (found on PATH through /usr/bin/env) with piped stdin/stdout (stderr is
/// inherited) and returns a StdioTransport over the pipes; the SDK's transport does not spawn.
func spawn(_ command: [String]) throws -> StdioTransport {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = command
    let toChild = Pipe(), fromChild = Pipe()
    process.standardInput = toChild
    process.standardOutput = fromChild
    try process.run()
    children.withLock { $0.append(process.processIdentifier) }
    // Duplicate our ends (close-on-exec, so later children don't hold them): the transport
    // outlives the Pipe objects, which close their descriptors when freed.
    let input = FileDescriptor(rawValue: fcntl(fromChild.fileHandleForReading.fileDescriptor, F_DUPFD_CLOEXEC, 0))
    let output = FileDescriptor(rawValue: fcntl(toChild.fileHandleForWriting.fileDescriptor, F_DUPFD_CLOEXEC, 0))
    return StdioTransport(input: input, output: output)
}

/// Wraps HTTPClientTransport so that SSE answers reach the `Client` as JSON-RPC messages.
///
/// On Linux the SDK's HTTPClientTransport reads a POST answer whole and, when it is
/// `text/event-stream`, hands the raw SSE text to the `Client`, which cannot decode it. This
/// splits such a body into its events' `data:` payloads; JSON answers pass through unchanged.
actor SSEUnwrappingTransport: Transport {
    nonisolated let logger: Logger
    private let inner: HTTPClientTransport
    private let stream: AsyncThrowingStream<Data, Error>
    private let continuation: AsyncThrowingStream<Data, Error>.Continuation

    init(_ inner: HTTPClientTransport) {
        self.inner = inner
        self.logger = inner.logger
        (stream, continuation) = AsyncThrowingStream.makeStream()
    }

    func connect() async throws {
        try await inner.connect()
        let upstream = await inner.receive()
        let continuation = self.continuation
        Task {
            do {
                for try await data in upstream {
                    for message in isSSE(data) ? sseMessages(data) : [data] { continuation.yield(message) }
                }
                continuation.finish()
            } catch { continuation.finish(throwing: error) }
        }
    }

    func disconnect() async { await inner.disconnect() }
    func send(_ data: Data) async throws { try await inner.send(data) }
    func receive() -> AsyncThrowingStream<Data, Error> { stream }
}

/// Whether a body is SSE text rather than JSON (JSON starts with `{` or `[`).
func isSSE(_ data: Data) -> Bool {
    guard let first = data.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else { return false }
    return first != UInt8(ascii: "{") && first != UInt8(ascii: "[")
}

/// The non-empty `data:` payloads of an SSE body, one per event.
func sseMessages(_ sse: Data) -> [Data] {
    var messages: [Data] = []
    var current: [Substring] = []
    for line in String(decoding: sse, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
        let line = line.hasSuffix("\r") ? line.dropLast() : line
        if line.isEmpty {
            if !current.isEmpty { messages.append(Data(current.joined(separator: "\n").utf8)) }
            current = []
        } else if line.hasPrefix("data:") {
            let value = line.dropFirst(5)
            current.append(value.hasPrefix(" ") ? value.dropFirst() : value)
        }
    }
    if !current.isEmpty { messages.append(Data(current.joined(separator: "\n").utf8)) }
    return messages.filter { !$0.isEmpty }
}
