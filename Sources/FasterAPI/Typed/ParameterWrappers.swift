// The attributes a typed handler puts on its parameters. They are property wrappers only so that
// Swift accepts them on function parameters; the @Routes and @Resolver macros read their
// arguments at compile time and generate the reading, validation and documentation.

/// A query parameter, with an optional wire name, documentation and constraints.
///
/// ```swift
/// @GET("/items") func list(@Query(ge: 1, le: 100) limit: Int = 10, @Query("q", minLength: 3) search: String? = nil)
/// ```
/// Parameters without an attribute are query parameters already (or path parameters when the
/// path names them); the attribute adds a name, constraints or documentation.
@propertyWrapper public struct Query<Value: Sendable>: Sendable {
    /// The value.
    public var wrappedValue: Value
    /// Wraps the value; the arguments are read by the macros.
    public init(
        wrappedValue: Value, _ name: String? = nil, description: String? = nil, gt: Double? = nil,
        ge: Double? = nil, lt: Double? = nil, le: Double? = nil, multipleOf: Double? = nil, minLength: Int? = nil,
        maxLength: Int? = nil, pattern: String? = nil, deprecated: Bool = false, example: JSONValue? = nil
    ) { self.wrappedValue = wrappedValue }
}

/// A path parameter with constraints or documentation (`{name}` in the route's path).
@propertyWrapper public struct Path<Value: Sendable>: Sendable {
    /// The value.
    public var wrappedValue: Value
    /// Wraps the value; the arguments are read by the macros.
    public init(
        wrappedValue: Value, _ name: String? = nil, description: String? = nil, gt: Double? = nil,
        ge: Double? = nil, lt: Double? = nil, le: Double? = nil, multipleOf: Double? = nil, minLength: Int? = nil,
        maxLength: Int? = nil, pattern: String? = nil, deprecated: Bool = false, example: JSONValue? = nil
    ) { self.wrappedValue = wrappedValue }
}

/// A header. Its name is the parameter's, with `_` and camel-case humps turned into `-`
/// (`userAgent` and `user_agent` read `user-agent`), unless given.
@propertyWrapper public struct Header<Value: Sendable>: Sendable {
    /// The value.
    public var wrappedValue: Value
    /// Wraps the value; the arguments are read by the macros.
    public init(
        wrappedValue: Value, _ name: String? = nil, description: String? = nil, gt: Double? = nil,
        ge: Double? = nil, lt: Double? = nil, le: Double? = nil, multipleOf: Double? = nil, minLength: Int? = nil,
        maxLength: Int? = nil, pattern: String? = nil, deprecated: Bool = false, example: JSONValue? = nil
    ) { self.wrappedValue = wrappedValue }
}

/// A cookie.
@propertyWrapper public struct Cookie<Value: Sendable>: Sendable {
    /// The value.
    public var wrappedValue: Value
    /// Wraps the value; the arguments are read by the macros.
    public init(
        wrappedValue: Value, _ name: String? = nil, description: String? = nil, gt: Double? = nil,
        ge: Double? = nil, lt: Double? = nil, le: Double? = nil, multipleOf: Double? = nil, minLength: Int? = nil,
        maxLength: Int? = nil, pattern: String? = nil, deprecated: Bool = false, example: JSONValue? = nil
    ) { self.wrappedValue = wrappedValue }
}

/// A field of an `application/x-www-form-urlencoded` or `multipart/form-data` body.
@propertyWrapper public struct Form<Value: Sendable>: Sendable {
    /// The value.
    public var wrappedValue: Value
    /// Wraps the value; the arguments are read by the macros.
    public init(
        wrappedValue: Value, _ name: String? = nil, description: String? = nil, gt: Double? = nil,
        ge: Double? = nil, lt: Double? = nil, le: Double? = nil, multipleOf: Double? = nil, minLength: Int? = nil,
        maxLength: Int? = nil, pattern: String? = nil, deprecated: Bool = false, example: JSONValue? = nil
    ) { self.wrappedValue = wrappedValue }
}

/// The JSON body, decoded into a model. With several body parameters (or `embed: true`) each is
/// read from the body's member of its name, as FastAPI does.
@propertyWrapper public struct Body<Value: Sendable>: Sendable {
    /// The value.
    public var wrappedValue: Value
    /// Wraps the value; the arguments are read by the macros.
    public init(wrappedValue: Value, _ name: String? = nil, embed: Bool = false, description: String? = nil) {
        self.wrappedValue = wrappedValue
    }
}

/// An uploaded file from a `multipart/form-data` body.
@propertyWrapper public struct File<Value: Sendable>: Sendable {
    /// The value.
    public var wrappedValue: Value
    /// Wraps the value; the arguments are read by the macros.
    public init(wrappedValue: Value, _ name: String? = nil, description: String? = nil) {
        self.wrappedValue = wrappedValue
    }
}

/// A dependency: a ``Dependency`` type resolved (once per request) before the handler runs, or an
/// application singleton registered with ``App/provide(_:)``.
@propertyWrapper public struct Depends<Value: Sendable>: Sendable {
    /// The value.
    public var wrappedValue: Value
    /// Wraps the value.
    public init(wrappedValue: Value) { self.wrappedValue = wrappedValue }
}

/// A dependency that authenticates, requiring `scopes` (OAuth2) of the credentials it checks.
/// Its security schemes and scopes appear on the operation in OpenAPI.
@propertyWrapper public struct Security<Value: Sendable>: Sendable {
    /// The value.
    public var wrappedValue: Value
    /// Wraps the value; the arguments are read by the macros.
    public init(wrappedValue: Value, scopes: [String] = []) { self.wrappedValue = wrappedValue }
}
