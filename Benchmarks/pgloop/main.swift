// The raw database loop of scripts/bench.sh: single-row prepared selects over a pool, or a COPY
// of generated rows, timed; prints one JSON line like the asyncpg peer's.
//
//   fasterapi-pgloop --url URL --mode select|copy --count N [--concurrency C]
import FasterAPICore
import FasterAPIPostgres
import Foundation
import NIOPosix

struct World: Decodable {
    let id: Int
    let randomnumber: Int
}

struct CopyRow: Encodable {
    let id: Int
    let name: String
    let score: Double

    /// Row `i` of the benchmark's data (the same rows the psql peer copies from a file).
    static func numbered(_ i: Int) -> CopyRow { CopyRow(id: i, name: "item-\(i)", score: Double(i) / 4) }
}

var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let name = arguments.popFirst(), name.hasPrefix("--"), let value = arguments.popFirst() {
    options[String(name.dropFirst(2))] = value
}
guard let url = options["url"], let mode = options["mode"], ["select", "copy"].contains(mode),
    let count = options["count"].flatMap(Int.init), count > 0
else {
    FileHandle.standardError.write(Data("usage: fasterapi-pgloop --url URL --mode select|copy --count N [--concurrency C]\n".utf8))
    exit(2)
}
let concurrency = options["concurrency"].flatMap(Int.init) ?? 16

var configuration = try PostgresConfiguration(url: url)
configuration.maximumConnections = concurrency
let database = try PostgresDatabase(configuration)

let seconds = try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { await database.run() }
    defer { group.cancelAll() }
    let clock = ContinuousClock()
    switch mode {
    case "select":
        /// Each worker selects `share(worker)` random rows on a connection of its own. Workers
        /// run on the event loops, as FasterAPI's handlers do, so each uses its loop's connections.
        let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        func selects(_ share: @escaping @Sendable (Int) -> Int) async throws {
            try await withThrowingTaskGroup(of: Void.self) { workers in
                for worker in 0..<concurrency {
                    workers.addTask(executorPreference: EventLoopTaskExecutor(loops[worker % loops.count])) {
                        try await database.withConnection { db in
                            for _ in 0..<share(worker) {
                                let id = Int.random(in: 1...10_000)
                                _ = try await db.query("SELECT id, randomnumber FROM world WHERE id = \(id)").one(World.self)
                            }
                        }
                    }
                }
                try await workers.waitForAll()
            }
        }
        // Connecting and preparing are not timed (nor are they for the peers).
        try await selects { _ in 1 }
        let elapsed = try await clock.measure {
            try await selects { count / concurrency + ($0 < count % concurrency ? 1 : 0) }
        }
        return elapsed / .seconds(1)
    default:
        try await database.withConnection { db in
            try await db.execute("CREATE TABLE IF NOT EXISTS copy_bench (id int, name text, score float8)")
            try await db.execute("TRUNCATE copy_bench")
        }
        // The rows exist before the clock starts, as psql's file does.
        let rows = (1...count).map(CopyRow.numbered)
        let elapsed = try await clock.measure {
            try await database.withConnection { db in
                _ = try await db.copyIn(into: "copy_bench", rows: rows)
            }
        }
        return elapsed / .seconds(1)
    }
}
let rate = Double(count) / seconds
print(#"{"driver":"fasterapi","mode":"\#(mode)","count":\#(count),"concurrency":\#(concurrency),"seconds":\#(seconds),"rate":\#(rate)}"#)
