import FasterAPI
import FasterAPIPostgres

/// An item in the demo catalogue.
@Schema struct Item: Codable, Sendable, Equatable {
    /// The item's identifier.
    var id: Int
    /// The item's name.
    @Field(minLength: 1, maxLength: 100) var name: String
    /// The price, in euros.
    @Field(ge: 0) var price: Double
    /// Labels for search.
    @Field(maxLength: 10) var tags: [String] = []
}

/// What clients send to create or replace an item.
@Schema struct ItemInput: Codable, Sendable {
    /// The item's name.
    @Field(minLength: 1, maxLength: 100) var name: String
    /// The price, in euros.
    @Field(ge: 0) var price: Double
    /// Labels for search.
    @Field(maxLength: 10) var tags: [String] = []
}

/// The store behind the items API (an application singleton): PostgreSQL when the demo runs
/// with `DATABASE_URL`, memory otherwise.
final class ItemStore: Sendable {
    private enum Backend {
        case memory(MemoryItems)
        case postgres(PostgresDatabase)
    }

    private let backend: Backend

    /// Items kept in memory.
    init() { backend = .memory(MemoryItems()) }

    /// Items kept in the `items` table (see ``createTable(in:)``).
    init(database: PostgresDatabase) { backend = .postgres(database) }

    /// Creates the `items` table if it is missing.
    static func createTable(in database: PostgresDatabase) async throws {
        try await database.withConnection { db in
            try await db.execute(
                """
                CREATE TABLE IF NOT EXISTS items (
                    id serial PRIMARY KEY, name text NOT NULL, price float8 NOT NULL CHECK (price >= 0),
                    tags text[] NOT NULL DEFAULT '{}')
                """)
        }
    }

    func list(offset: Int, limit: Int) async throws -> [Item] {
        switch backend {
        case .memory(let items): return await items.list(offset: offset, limit: limit)
        case .postgres(let database):
            return try await database.withConnection { db in
                try await db.query("SELECT id, name, price, tags FROM items ORDER BY id OFFSET \(offset) LIMIT \(limit)")
                    .all(Item.self)
            }
        }
    }

    func get(_ id: Int) async throws -> Item? {
        switch backend {
        case .memory(let items): return await items.get(id)
        case .postgres(let database):
            return try await database.withConnection { db in
                try await db.query("SELECT id, name, price, tags FROM items WHERE id = \(id)").first(Item.self)
            }
        }
    }

    func create(_ input: ItemInput) async throws -> Item {
        switch backend {
        case .memory(let items): return await items.create(input)
        case .postgres(let database):
            return try await database.withConnection { db in
                try await db.query(
                    """
                    INSERT INTO items (name, price, tags) VALUES (\(input.name), \(input.price), \(input.tags))
                    RETURNING id, name, price, tags
                    """
                ).one(Item.self)
            }
        }
    }

    func replace(_ id: Int, with input: ItemInput) async throws -> Item? {
        switch backend {
        case .memory(let items): return await items.replace(id, with: input)
        case .postgres(let database):
            return try await database.withConnection { db in
                try await db.query(
                    """
                    UPDATE items SET name = \(input.name), price = \(input.price), tags = \(input.tags)
                    WHERE id = \(id) RETURNING id, name, price, tags
                    """
                ).first(Item.self)
            }
        }
    }

    func delete(_ id: Int) async throws -> Bool {
        switch backend {
        case .memory(let items): return await items.delete(id)
        case .postgres(let database):
            return try await database.withConnection { db in
                try await db.execute("DELETE FROM items WHERE id = \(id)") > 0
            }
        }
    }
}

/// The items, in memory.
actor MemoryItems {
    private var items: [Int: Item] = [:]
    private var nextID = 1

    func list(offset: Int, limit: Int) -> [Item] {
        Array(items.values.sorted { $0.id < $1.id }.dropFirst(offset).prefix(limit))
    }

    func get(_ id: Int) -> Item? { items[id] }

    func create(_ input: ItemInput) -> Item {
        let item = Item(id: nextID, name: input.name, price: input.price, tags: input.tags)
        items[item.id] = item
        nextID += 1
        return item
    }

    func replace(_ id: Int, with input: ItemInput) -> Item? {
        guard items[id] != nil else { return nil }
        let item = Item(id: id, name: input.name, price: input.price, tags: input.tags)
        items[id] = item
        return item
    }

    func delete(_ id: Int) -> Bool { items.removeValue(forKey: id) != nil }
}

/// Paging through a list: `offset` and `limit` query parameters, shared by list operations.
struct Page: Dependency {
    var offset: Int
    var limit: Int

    /// - Parameters:
    ///   - offset: How many items to skip.
    ///   - limit: How many items to return at most.
    @Resolver static func resolve(@Query(ge: 0) offset: Int = 0, @Query(ge: 1, le: 1000) limit: Int = 100) -> Page {
        Page(offset: offset, limit: limit)
    }
}

/// The items API: list, create, read, replace and delete, with 404 and 422 errors.
@Routes struct ItemsAPI {
    /// List items.
    ///
    /// Items come in creation order; page through them with `offset` and `limit`.
    @GET("/items", tags: ["items"])
    func list(@Depends page: Page, @Depends store: ItemStore) async throws -> [Item] {
        try await store.list(offset: page.offset, limit: page.limit)
    }

    /// Create an item.
    @POST("/items", tags: ["items"], status: .created)
    func create(@Body item: ItemInput, @Security(scopes: ["items:write"]) user: CurrentUser, @Depends store: ItemStore)
        async throws -> Item
    {
        try await store.create(item)
    }

    /// Fetch one item.
    @GET("/items/{id}", tags: ["items"], responses: [404: ResponseDoc("Item not found")])
    func get(@Path(ge: 1) id: Int, @Depends store: ItemStore) async throws -> Item {
        guard let item = try await store.get(id) else { throw HTTPError(.notFound, detail: "Item not found") }
        return item
    }

    /// Replace an item.
    @PUT("/items/{id}", tags: ["items"], responses: [404: ResponseDoc("Item not found")])
    func replace(
        @Path(ge: 1) id: Int, @Body item: ItemInput, @Security(scopes: ["items:write"]) user: CurrentUser,
        @Depends store: ItemStore
    ) async throws -> Item {
        guard let replaced = try await store.replace(id, with: item) else {
            throw HTTPError(.notFound, detail: "Item not found")
        }
        return replaced
    }

    /// Delete an item.
    @DELETE("/items/{id}", tags: ["items"], status: .noContent, responses: [404: ResponseDoc("Item not found")])
    func delete(@Path(ge: 1) id: Int, @Security(scopes: ["items:write"]) user: CurrentUser, @Depends store: ItemStore)
        async throws
    {
        guard try await store.delete(id) else { throw HTTPError(.notFound, detail: "Item not found") }
    }
}
