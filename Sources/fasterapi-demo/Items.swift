import FasterAPI

/// An item in the demo catalogue.
struct Item: Codable, Sendable, Equatable {
    var id: Int
    var name: String
    var price: Double
    var tags: [String]
}

/// What clients send to create or replace an item.
struct ItemInput: Codable, Sendable {
    var name: String
    var price: Double
    var tags: [String]?

    /// The same checks FastAPI would derive from `Field(min_length=1)` and `Field(ge=0)`.
    func validate() throws {
        var issues: [ValidationIssue] = []
        if name.isEmpty {
            issues.append(
                ValidationIssue(
                    type: "string_too_short", loc: ["body", "name"], msg: "String should have at least 1 character",
                    input: name))
        }
        if price < 0 {
            issues.append(
                ValidationIssue(
                    type: "greater_than_equal", loc: ["body", "price"],
                    msg: "Input should be greater than or equal to 0",
                    input: String(price)))
        }
        if !issues.isEmpty { throw ValidationError(issues) }
    }
}

/// The in-memory store behind the items API.
actor ItemStore {
    private var items: [Int: Item] = [:]
    private var nextID = 1

    func list(offset: Int, limit: Int) -> [Item] {
        Array(items.values.sorted { $0.id < $1.id }.dropFirst(offset).prefix(limit))
    }

    func get(_ id: Int) -> Item? { items[id] }

    func create(_ input: ItemInput) -> Item {
        let item = Item(id: nextID, name: input.name, price: input.price, tags: input.tags ?? [])
        items[item.id] = item
        nextID += 1
        return item
    }

    func replace(_ id: Int, with input: ItemInput) -> Item? {
        guard items[id] != nil else { return nil }
        let item = Item(id: id, name: input.name, price: input.price, tags: input.tags ?? [])
        items[id] = item
        return item
    }

    func delete(_ id: Int) -> Bool { items.removeValue(forKey: id) != nil }
}

extension RouteRegistrar {
    /// Items CRUD: list, create (201), read, replace and delete (204), with 404 and 422 errors.
    func addItemRoutes(store: ItemStore) {
        get("/items") { request in
            let query = request.query
            let offset = try query.get("offset", as: Int.self) ?? 0
            let limit = try query.get("limit", as: Int.self) ?? 100
            return await store.list(offset: max(0, offset), limit: max(0, min(limit, 1000)))
        }
        post("/items") { request in
            let input = try await request.json(ItemInput.self)
            try input.validate()
            return JSON(await store.create(input), status: .created)
        }
        get("/items/{id}") { request in
            guard let item = await store.get(try request.path("id", as: Int.self)) else {
                throw HTTPError(.notFound, detail: "Item not found")
            }
            return item
        }
        put("/items/{id}") { request in
            let id = try request.path("id", as: Int.self)
            let input = try await request.json(ItemInput.self)
            try input.validate()
            guard let item = await store.replace(id, with: input) else {
                throw HTTPError(.notFound, detail: "Item not found")
            }
            return item
        }
        delete("/items/{id}") { request in
            guard await store.delete(try request.path("id", as: Int.self)) else {
                throw HTTPError(.notFound, detail: "Item not found")
            }
            return HTTPStatus.noContent
        }
    }
}
