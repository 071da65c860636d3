// The MCP client of scripts/bench.sh: S sessions, each calling `add` over and over; the same
// client for every server measured. Prints one JSON line: calls, seconds, calls per second and
// the latency percentiles of one call.
//
//   fasterapi-mcpload --calls N [--sessions S] (--http URL | --stdio COMMAND [ARGS...])
import FasterAPI
import FasterAPIMCP
import Foundation

var options: [String: String] = [:]
var command: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let name = arguments.popFirst() {
    if name == "--stdio" {
        command = Array(arguments)
        break
    }
    guard name.hasPrefix("--"), let value = arguments.popFirst() else { break }
    options[String(name.dropFirst(2))] = value
}
guard let calls = options["calls"].flatMap(Int.init), calls > 0, options["http"] != nil || !command.isEmpty else {
    FileHandle.standardError.write(Data("usage: fasterapi-mcpload --calls N [--sessions S] (--http URL | --stdio COMMAND [ARGS...])\n".utf8))
    exit(2)
}
let sessions = max(1, options["sessions"].flatMap(Int.init) ?? 1)
let transport: MCPClient.Transport =
    if let url = options["http"] { .http(url) } else { .stdio(executable: command[0], arguments: Array(command.dropFirst())) }

/// Connects the sessions, warms each up (connections, caches), then times `calls` calls of
/// `add` spread over them; returns every call's latency, sorted, and the seconds taken.
func measure() async throws -> (latencies: [Duration], seconds: Double) {
    var clients: [MCPClient] = []
    for _ in 0..<sessions { clients.append(try await MCPClient.connect(transport)) }
    for client in clients { for _ in 0..<20 { _ = try await client.callTool("add", arguments: ["a": 1, "b": 2]) } }
    let started = ContinuousClock.now
    let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
        for (index, client) in clients.enumerated() {
            let share = calls / sessions + (index < calls % sessions ? 1 : 0)
            group.addTask {
                var latencies: [Duration] = []
                latencies.reserveCapacity(share)
                for call in 0..<share {
                    let start = ContinuousClock.now
                    let result = try await client.callTool("add", arguments: ["a": .int(call), "b": 2])
                    guard result.structuredContent?.objectValue?["sum"] != nil else {
                        throw MCPError.unexpectedAnswer("add answered \(result)")
                    }
                    latencies.append(ContinuousClock.now - start)
                }
                return latencies
            }
        }
        var all: [Duration] = []
        for try await share in group { all += share }
        return all.sorted()
    }
    let seconds = Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000
    for client in clients { await client.close() }
    return (latencies, seconds)
}

let latencies: [Duration]
let seconds: Double
do {
    (latencies, seconds) = try await measure()
} catch {
    FileHandle.standardError.write(Data("fasterapi-mcpload: \(error)\n".utf8))
    exit(1)
}

func microseconds(_ fraction: Double) -> Double {
    Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))] / .nanoseconds(1)) / 1000
}
let line: JSONValue = [
    "calls": .int(latencies.count), "sessions": .int(sessions), "seconds": .number(seconds),
    "rps": .number(Double(latencies.count) / seconds), "p50_us": .number(microseconds(0.5)), "p99_us": .number(microseconds(0.99)),
]
print(String(buffer: try JSONWriter.encode(line)))
