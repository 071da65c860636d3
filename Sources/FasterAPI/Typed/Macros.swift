/// Makes a type's `@GET`, `@POST`… methods into routes: adds ``RouteCollection`` conformance
/// with code that reads, converts and validates each parameter, resolves dependencies, calls the
/// method and encodes its result, plus the OpenAPI description of each operation (summary and
/// description from the doc comment).
@attached(extension, conformances: RouteCollection, names: named(routes))
public macro Routes() = #externalMacro(module: "FasterAPIMacros", type: "RoutesMacro")

/// Declares a `GET` operation (which also answers `HEAD`) at `path` on a method of a `@Routes` type.
@attached(peer)
public macro GET(
    _ path: String, tags: [String] = [], summary: String? = nil, description: String? = nil,
    status: HTTPStatus = .ok, responses: [Int: ResponseDoc] = [:], deprecated: Bool = false,
    operationID: String? = nil, includeInSchema: Bool = true
) = #externalMacro(module: "FasterAPIMacros", type: "RouteMethodMacro")

/// Declares a `POST` operation at `path` on a method of a `@Routes` type.
@attached(peer)
public macro POST(
    _ path: String, tags: [String] = [], summary: String? = nil, description: String? = nil,
    status: HTTPStatus = .ok, responses: [Int: ResponseDoc] = [:], deprecated: Bool = false,
    operationID: String? = nil, includeInSchema: Bool = true
) = #externalMacro(module: "FasterAPIMacros", type: "RouteMethodMacro")

/// Declares a `PUT` operation at `path` on a method of a `@Routes` type.
@attached(peer)
public macro PUT(
    _ path: String, tags: [String] = [], summary: String? = nil, description: String? = nil,
    status: HTTPStatus = .ok, responses: [Int: ResponseDoc] = [:], deprecated: Bool = false,
    operationID: String? = nil, includeInSchema: Bool = true
) = #externalMacro(module: "FasterAPIMacros", type: "RouteMethodMacro")

/// Declares a `PATCH` operation at `path` on a method of a `@Routes` type.
@attached(peer)
public macro PATCH(
    _ path: String, tags: [String] = [], summary: String? = nil, description: String? = nil,
    status: HTTPStatus = .ok, responses: [Int: ResponseDoc] = [:], deprecated: Bool = false,
    operationID: String? = nil, includeInSchema: Bool = true
) = #externalMacro(module: "FasterAPIMacros", type: "RouteMethodMacro")

/// Declares a `DELETE` operation at `path` on a method of a `@Routes` type.
@attached(peer)
public macro DELETE(
    _ path: String, tags: [String] = [], summary: String? = nil, description: String? = nil,
    status: HTTPStatus = .ok, responses: [Int: ResponseDoc] = [:], deprecated: Bool = false,
    operationID: String? = nil, includeInSchema: Bool = true
) = #externalMacro(module: "FasterAPIMacros", type: "RouteMethodMacro")

/// Makes a struct a validated, documented model (``SchemaModel``), or an enum with raw values a
/// validated choice (``SchemaEnum``). Properties are required unless optional or defaulted;
/// `@Field` adds constraints; doc comments become descriptions.
@attached(extension, conformances: SchemaModel, SchemaEnum, names: arbitrary)
public macro Schema(_ name: String? = nil) = #externalMacro(module: "FasterAPIMacros", type: "SchemaMacro")

/// Constraints and documentation for a property of a `@Schema` model.
@attached(peer)
public macro Field(
    description: String? = nil, gt: Double? = nil, ge: Double? = nil, lt: Double? = nil, le: Double? = nil,
    multipleOf: Double? = nil, minLength: Int? = nil, maxLength: Int? = nil, pattern: String? = nil,
    example: JSONValue? = nil
) = #externalMacro(module: "FasterAPIMacros", type: "FieldMacro")

/// Makes a static method the resolver of a ``Dependency``: generates `dependency`, which reads and
/// validates the method's parameters (declared as a handler's are) and calls it.
@attached(peer, names: named(dependency))
public macro Resolver() = #externalMacro(module: "FasterAPIMacros", type: "ResolverMacro")
