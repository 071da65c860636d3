// swiftsdk-mcp-client: an MCP client written with the official Swift SDK's `Client`.
//
//   swiftsdk-mcp-client check (--http URL | --stdio CMD [ARGS...]) [--timeout SECONDS]
//       initialize, tools/list, tools/call add(a=2, b=3.5); prints one JSON object:
//       {"protocolVersion","serverName","tools","addText","addStructured","error":null}
//   swiftsdk-mcp-client bench (--http URL | --stdio CMD [ARGS...]) --calls N --sessions S [--timeout SECONDS]
//       S sessions (S children for stdio), each calling add N/S times in turn; prints
//       {"calls","sessions","seconds","rps","p50_us","p99_us"} (connect/initialize not timed).
//
// On failure (or after --timeout, 30 s for check and 600 s for bench) prints {"error": "..."} and exits 1.
import Foundation
import MCP

let options: Set<String> = ["--http", "--stdio", "--calls", "--sessions", "--timeout"]

/// Parses the arguments after the mode; `--stdio` takes every argument up to the next option.
func parse(_ args: ArraySlice<String>) -> (target: Target?, values: [String: String]) {
    var target: Target?
    var values: [String: String] = [:]
    var rest = args
    while let option = rest.popFirst() {
        switch option {
        case "--stdio":
            let command = rest.prefix { !options.contains($0) }
            rest = rest.dropFirst(command.count)
            if !command.isEmpty { target = .stdio(Array(command)) }
        case "--http":
            if let url = rest.popFirst().flatMap(URL.init(string:)) { target = .http(url) }
        default:
            values[option] = rest.popFirst()
        }
    }
    return (target, values)
}

/// The `tools/call` request for add(a, b). `client.callTool` would drop `structuredContent`,
/// so callers send this with `client.send` and read the full `CallTool.Result`.
func addRequest(_ a: Value, _ b: Value) -> Request<CallTool> {
    CallTool.request(.init(name: "add", arguments: ["a": a, "b": b]))
}

func check(_ target: Target) async throws -> Value {
    let connection = try await connect(target)
    let client = connection.client
    let tools = try await client.listTools().tools.map { Value.string($0.name) }
    let result = try await client.send(addRequest(2, 3.5)).value
    let text = result.content.compactMap { content -> String? in
        if case .text(let text, _, _) = content { return text } else { return nil }
    }.first
    if result.isError == true { throw MCPError.internalError("add answered isError: \(text ?? "")") }
    return [
        "protocolVersion": .string(connection.initialized.protocolVersion),
        "serverName": .string(connection.initialized.serverInfo.name),
        "tools": .array(tools),
        "addText": text.map(Value.string) ?? .null,
        "addStructured": result.structuredContent ?? .null,
        "error": .null,
    ]
}

func bench(_ target: Target, calls: Int, sessions: Int) async throws -> Value {
    let connections = try await withThrowingTaskGroup(of: Connection.self) { group in
        for _ in 0..<sessions { group.addTask { try await connect(target) } }
        return try await group.reduce(into: []) { $0.append($1) }
    }
    let clock = ContinuousClock()
    let start = clock.now
    let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
        for (i, connection) in connections.enumerated() {
            let share = calls / sessions + (i < calls % sessions ? 1 : 0)
            group.addTask {
                var latencies: [Duration] = []
                latencies.reserveCapacity(share)
                for n in 0..<share {
                    let t0 = clock.now
                    let result = try await connection.client.send(addRequest(.int(n), 1.5)).value
                    latencies.append(clock.now - t0)
                    guard result.structuredContent == ["sum": .double(Double(n) + 1.5)] else {
                        throw MCPError.internalError("unexpected add result: \(result)")
                    }
                }
                return latencies
            }
        }
        return try await group.reduce(into: []) { $0 += $1 }.sorted()
    }
    let seconds = (clock.now - start) / .seconds(1)
    func percentileMicros(_ p: Double) -> Value {
        guard !latencies.isEmpty else { return .null }
        let d = latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
        return .double(((d / .microseconds(1)) * 10).rounded() / 10)
    }
    return [
        "calls": .int(latencies.count),
        "sessions": .int(sessions),
        "seconds": .double((seconds * 1000).rounded() / 1000),
        "rps": .double((Double(latencies.count) / seconds).rounded()),
        "p50_us": percentileMicros(0.50),
        "p99_us": percentileMicros(0.99),
    ]
}

signal(SIGPIPE, SIG_IGN)
let usage = "usage: swiftsdk-mcp-client check|bench (--http URL | --stdio CMD [ARGS...]) [--calls N --sessions S] [--timeout SECONDS]"
let mode = CommandLine.arguments.dropFirst().first
let (target, values) = parse(CommandLine.arguments.dropFirst(2))
guard let target, mode == "check" || mode == "bench" else { finish(["error": .string(usage)], code: 1) }
let timeout = values["--timeout"].flatMap(Double.init) ?? (mode == "check" ? 30 : 600)
Task.detached {
    try await Task.sleep(for: .seconds(timeout))
    finish(["error": .string("timed out after \(timeout) s")], code: 1)
}
do {
    if mode == "check" {
        finish(try await check(target), code: 0)
    }
    let calls = values["--calls"].flatMap(Int.init) ?? 1000
    let sessions = max(1, values["--sessions"].flatMap(Int.init) ?? 1)
    finish(try await bench(target, calls: calls, sessions: sessions), code: 0)
} catch {
    finish(["error": .string(String(describing: error))], code: 1)
}
