import Foundation
import PeerSupport
import Testing

/// The demo app run with `DATABASE_URL`, checked with curl as a user would.
@Suite("Demo app on PostgreSQL")
struct DemoDatabaseTests {
    private func curl(_ arguments: [String]) async throws -> String {
        let output = try await Peers.run("/usr/bin/curl", ["-sS", "--max-time", "10"] + arguments)
        try #require(output.status == 0, "curl \(arguments): \(output.stderr)")
        return output.stdout
    }

    @Test("/db, /queries and /ready come from PostgreSQL; items are stored there")
    func demo() async throws {
        let server = try await PeerServer.startDemo(environment: ["DATABASE_URL": try LivePostgres.url() + "?sslmode=disable"])
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        struct World: Decodable { var id: Int; var randomNumber: Int }

        let row = try JSONDecoder().decode(World.self, from: Data(try await curl(["\(base)/db"]).utf8))
        #expect((1...10_000).contains(row.id) && (1...10_000).contains(row.randomNumber))
        let rows = try JSONDecoder().decode([World].self, from: Data(try await curl(["\(base)/queries?n=20"]).utf8))
        #expect(rows.count == 20)
        for (query, count) in [("n=0", 1), ("n=abc", 1), ("n=501", 500), ("", 1)] {
            let rows = try JSONDecoder().decode([World].self, from: Data(try await curl(["\(base)/queries?\(query)"]).utf8))
            #expect(rows.count == count, "/queries?\(query)")
        }
        #expect(try await curl(["\(base)/ready"]) == #"{"status":"ready"}"#)

        struct Token: Decodable { var access_token: String }
        let token = try JSONDecoder().decode(
            Token.self,
            from: Data(try await curl(["-d", "username=alice&password=wonderland", "\(base)/token"]).utf8))
        let name = "lamp \(UUID().uuidString)"
        struct Item: Decodable { var id: Int; var name: String; var price: Double; var tags: [String] }
        let created = try JSONDecoder().decode(
            Item.self,
            from: Data(
                try await curl([
                    "-H", "Authorization: Bearer \(token.access_token)", "-H", "Content-Type: application/json",
                    "-d", #"{"name":"\#(name)","price":12.5,"tags":["a","b"]}"#, "\(base)/items",
                ]).utf8))
        #expect(created.name == name && created.tags == ["a", "b"])
        let stored = try await LivePostgres.withDatabase { database in
            try await database.withConnection { db in
                try await db.query("SELECT price FROM items WHERE id = \(created.id)").scalar(Double.self)
            }
        }
        #expect(stored == 12.5)
        let read = try JSONDecoder().decode(Item.self, from: Data(try await curl(["\(base)/items/\(created.id)"]).utf8))
        #expect(read.name == name)
    }
}
