import FasterAPI

// The Swift twin of Interop/differential_app.py: the same API, declared once with types.

@Schema enum Sort: String, Codable, Sendable {
    case asc, desc
}

@Schema struct Dimensions: Codable, Sendable, Equatable {
    @Field(ge: 0) var width: Double
    @Field(ge: 0) var height: Double
}

/// A catalogue item.
@Schema struct Item: Codable, Sendable, Equatable {
    @Field(minLength: 1, maxLength: 50) var name: String
    @Field(pattern: "^[A-Z]{3}-[0-9]{4}$") var sku: String
    @Field(gt: 0) var price: Double
    @Field(ge: 0, le: 1000) var quantity: Int = 0
    @Field(maxLength: 5) var tags: [String] = []
    var dimensions: Dimensions?
}

struct Pagination: Dependency {
    var skip: Int
    var limit: Int

    @Resolver static func resolve(@Query(ge: 0) skip: Int = 0, @Query(ge: 1, le: 100) limit: Int = 10) -> Pagination {
        Pagination(skip: skip, limit: limit)
    }
}

struct CurrentUser: Dependency {
    var name: String

    @Resolver static func resolve(@Header authorization: String? = nil) throws -> CurrentUser {
        guard authorization == "Bearer secret-token" else {
            throw HTTPError(
                .unauthorized, detail: "Not authenticated", headers: HTTPHeaders([("WWW-Authenticate", "Bearer")]))
        }
        return CurrentUser(name: "alice")
    }
}

struct ItemView: Encodable, Sendable {
    var item_id: Int
    var q: String?
    var verbose: Bool
}

struct ListView: Encodable, Sendable {
    var skip: Int
    var limit: Int
    var sort: Sort
    var tags: [String]
}

struct ReplaceView: Encodable, Sendable {
    var item_id: Int
    var item: Item
    var notify: Bool
}

@Routes struct DifferentialAPI {
    @GET("/items/{item_id}")
    func readItem(@Path(ge: 1) itemID: Int, @Query(minLength: 3, maxLength: 10) q: String? = nil, verbose: Bool = false)
        -> ItemView
    {
        ItemView(item_id: itemID, q: q, verbose: verbose)
    }

    @GET("/items")
    func listItems(@Depends page: Pagination, sort: Sort = .asc, tags: [String] = []) -> ListView {
        ListView(skip: page.skip, limit: page.limit, sort: sort, tags: tags)
    }

    @POST("/items", status: .created)
    func createItem(@Body item: Item) -> Item { item }

    @PUT("/items/{item_id}")
    func replaceItem(itemID: Int, @Body item: Item, notify: Bool = false) -> ReplaceView {
        ReplaceView(item_id: itemID, item: item, notify: notify)
    }

    @GET("/ratio")
    func ratio(@Query(ge: 0, le: 1) value: Double, @Query(multipleOf: 5) step: Int = 5) -> [String: Double] {
        ["value": value, "step": Double(step)]
    }

    @GET("/headers")
    func headers(@Header xToken: String, @Header xCount: Int? = nil) -> JSONValue {
        ["x_token": .string(xToken), "x_count": xCount.map { .int($0) } ?? .null]
    }

    @GET("/cookies")
    func cookies(@Cookie(minLength: 4) session: String) -> [String: String] { ["session": session] }

    @GET("/me")
    func me(@Depends user: CurrentUser, @Depends page: Pagination) -> JSONValue {
        ["user": .string(user.name), "skip": .int(page.skip), "limit": .int(page.limit)]
    }

    @POST("/login")
    func login(@Form(minLength: 3) username: String, @Form password: String, @Form remember: Bool = false) -> JSONValue
    {
        ["username": .string(username), "remember": .bool(remember)]
    }

    @GET("/missing/{n}")
    func missing(n: Int) throws -> [String: Int] {
        guard n == 1 else { throw HTTPError(.notFound, detail: "Item not found") }
        return ["n": 1]
    }
}
