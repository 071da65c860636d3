import FasterAPI
import FasterAPIPostgres

/// A row of the benchmark's `world` table.
@Schema struct World: Codable, Sendable {
    /// 1 to 10,000.
    var id: Int
    /// A random number from 1 to 10,000.
    var randomNumber: Int
}

/// The TechEmpower database routes, served when the demo runs with `DATABASE_URL`.
@Routes struct WorldAPI {
    /// One random row of `world`.
    @GET("/db", tags: ["benchmark"])
    func single(@Depends db: DB) async throws -> World {
        try await WorldAPI.randomRow(db)
    }

    /// `n` random rows of `world`, one query each (`n` is clamped to 1…500; anything not a number
    /// counts as 1, as TechEmpower asks).
    @GET("/queries", tags: ["benchmark"])
    func multiple(n: String? = nil, @Depends db: DB) async throws -> [World] {
        let count = min(max(n.flatMap { Int($0) } ?? 1, 1), 500)
        var rows: [World] = []
        rows.reserveCapacity(count)
        for _ in 0..<count { rows.append(try await WorldAPI.randomRow(db)) }
        return rows
    }

    private static func randomRow(_ db: DB) async throws -> World {
        try await db.query("SELECT id, randomnumber AS random_number FROM world WHERE id = \(Int.random(in: 1...10_000))")
            .one(World.self)
    }

    /// Creates `world` and fills it with 10,000 rows if it is missing or short.
    static func createTable(in database: PostgresDatabase) async throws {
        try await database.withConnection { db in
            try await db.execute("CREATE TABLE IF NOT EXISTS world (id integer PRIMARY KEY, randomnumber integer NOT NULL)")
            guard try await db.query("SELECT count(*) FROM world").scalar(Int.self) < 10_000 else { return }
            try await db.execute(
                """
                INSERT INTO world (id, randomnumber)
                SELECT i, 1 + floor(random() * 10000)::integer FROM generate_series(1, 10000) AS i
                ON CONFLICT (id) DO NOTHING
                """)
        }
    }
}
