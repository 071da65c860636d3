import SwiftSyntaxMacrosGenericTestSupport
import Testing

@testable import FasterAPIMacros

struct RoutesMacroTests {
    @Test func headerNamesBecomeHyphenated() {
        #expect(Handler.headerName("userAgent") == "user-agent")
        #expect(Handler.headerName("x_token") == "x-token")
        #expect(Handler.headerName("xToken") == "x-token")
    }

    @Test func pathNamesAreReadFromThePattern() {
        #expect(Handler.pathNames("/items/{item_id}/files/{rest...}") == ["item_id", "rest"])
        #expect(Handler.pathNames("/static/{file:path}") == ["file"])
        #expect(Handler.pathNames("/plain") == [])
    }

    @Test func pathNamesMatchSwiftNamesIgnoringUnderscoresAndCase() {
        #expect(Handler.sameName("item_id", "itemID"))
        #expect(Handler.sameName("item_id", "itemId"))
        #expect(Handler.sameName("id", "id"))
        #expect(!Handler.sameName("id", "itemID"))
    }

    // MARK: - Expansion

    @Test func getRouteReadsPathQueryAndHeader() {
        let (source, diagnostics) = expand(
            #"""
            @Routes struct Items {
                /// Fetch one item.
                ///
                /// Longer text.
                /// - Parameter verbose: Whether to say more.
                @GET("/items/{item_id}", tags: ["items"])
                func get(itemID: Int, @Query(ge: 1, le: 100) limit: Int = 10, verbose: Bool = false, @Header userAgent: String? = nil) async throws -> Item { fatalError() }
            }
            """#)
        #expect(diagnostics.isEmpty)
        expectFragments(
            source,
            [
                "extension Items: FasterAPI.RouteCollection {",
                "func routes() -> [FasterAPI.TypedRoute] {",
                #"let __p0 = FasterAPI.Parameter(.path, "item_id", as: (Int).self)"#,
                #"let __p1 = FasterAPI.Parameter(.query, "limit", as: (Int).self, default: 10, constraints: FasterAPI.Constraints(ge: 1, le: 100))"#,
                #"let __p2 = FasterAPI.Parameter(.query, "verbose", as: (Bool).self, default: false, description: "Whether to say more.")"#,
                #"let __p3 = FasterAPI.Parameter(.header, "user-agent", as: (String?).self, default: nil)"#,
                #".get, "/items/{item_id}", operationID: "get","#,
                #"summary: "Fetch one item.", description: "Longer text.", tags: ["items"],"#,
                "response: FasterAPI.ResponseDoc.returning((Item).self),",
                "inputs: [.parameter(__p0.spec), .parameter(__p1.spec), .parameter(__p2.spec), .parameter(__p3.spec)], body: .none",
                "let __v0 = __p0.read(&__reader)",
                "let __v3 = __p3.read(&__reader)",
                "try __reader.finish()",
                "try await self.get(itemID: __v0!, limit: __v1!, verbose: __v2!, userAgent: __v3!), status: .ok, request: __reader.request)",
            ])
        // The @GET attribute is consumed; the method stays.
        #expect(!source.contains("@GET"))
        #expect(source.contains("func get(itemID: Int"))
    }

    @Test func inputsAreReadDependenciesPathQueryHeaderCookieBody() {
        let (source, diagnostics) = expand(
            #"""
            @Routes struct API {
                @PUT("/items/{id}")
                func put(@Cookie session: String, @Body item: Item, @Header xToken: String, q: String, id: Int, @Depends user: User) -> Item { item }
            }
            """#)
        #expect(diagnostics.isEmpty)
        expectFragments(
            source,
            [
                "inputs: [.dependency(__p5.spec), .parameter(__p4.spec), .parameter(__p3.spec), .parameter(__p2.spec), .parameter(__p0.spec), .body(__p1.spec)], body: .json",
                "let __v5 = try await __p5.read(&__reader) let __v4 = __p4.read(&__reader) let __v3 = __p3.read(&__reader) let __v2 = __p2.read(&__reader) let __v0 = __p0.read(&__reader) let __v1 = __p1.read(&__reader)",
                "self.put(session: __v0!, item: __v1!, xToken: __v2!, q: __v3!, id: __v4!, user: __v5!)",
                #"FasterAPI.Parameter(.cookie, "session", as: (String).self)"#,
                #"FasterAPI.Parameter(.header, "x-token", as: (String).self)"#,
                "FasterAPI.BodyParameter((Item).self)",
                "FasterAPI.DependencyParameter((User).self)",
            ])
        // A synchronous, non-throwing method is called without `try`/`await`.
        expectFragments(source, ["return try await FasterAPI.TypedRoute.respond( self.put("])
    }

    @Test func bodiesStatusAndExplicitNames() {
        let (source, diagnostics) = expand(
            #"""
            @Routes struct API {
                @POST("/orders", status: .created, summary: "Place", operationID: "placeOrder", deprecated: true)
                func place(@Body order: Order, @Body(description: "Who pays") payer: Payer, @Query("dry-run") dryRun: Bool = false, @Header("X-Custom") custom: String) throws {}
                @PATCH("/owners") func owner(@Body(embed: true) owner: Owner) async {}
                @DELETE("/x") func remove() {}
            }
            """#)
        #expect(diagnostics.isEmpty)
        expectFragments(
            source,
            [
                #"FasterAPI.BodyParameter((Order).self, embeddedAs: "order")"#,
                #"FasterAPI.BodyParameter((Payer).self, embeddedAs: "payer", description: "Who pays")"#,
                #"FasterAPI.Parameter(.query, "dry-run", as: (Bool).self, default: false)"#,
                #"FasterAPI.Parameter(.header, "X-Custom", as: (String).self)"#,
                #".post, "/orders", operationID: "placeOrder", summary: "Place", description: nil, status: .created, deprecated: true,"#,
                "response: FasterAPI.ResponseDoc.returning((Void).self)",
                "try self.place(order: __v0!, payer: __v1!, dryRun: __v2!, custom: __v3!), status: .created,",
                #"FasterAPI.BodyParameter((Owner).self, embeddedAs: "owner")"#,
                ".patch, \"/owners\"",
                "await self.owner(owner: __v0!), status: .ok,",
                ".delete, \"/x\"",
                "inputs: [], body: .none",
            ])
    }

    @Test func formsFilesAndInjectedValues() {
        let (source, diagnostics) = expand(
            #"""
            @Routes struct API {
                @POST("/upload")
                func upload(@Form(minLength: 3) title: String, @File document: UploadedFile, attachments: [UploadedFile], request: Request, tasks: BackgroundTasks, scope: RequestScope, @Security(scopes: ["files:write"]) user: User) {}
            }
            """#)
        #expect(diagnostics.isEmpty)
        expectFragments(
            source,
            [
                #"FasterAPI.FormField("title", as: (String).self, constraints: FasterAPI.Constraints(minLength: 3))"#,
                #"FasterAPI.FileField("document", as: (UploadedFile).self)"#,
                #"FasterAPI.FileField("attachments", as: ([UploadedFile]).self)"#,
                #"FasterAPI.DependencyParameter((User).self, scopes: ["files:write"])"#,
                "body: .form",
                "let __v3 = __reader.request",
                "let __v4 = FasterAPI.BackgroundTasks(__reader.scope)",
                "let __v5 = __reader.scope",
                "self.upload(title: __v0!, document: __v1!, attachments: __v2!, request: __v3, tasks: __v4, scope: __v5, user: __v6!)",
            ])
    }

    @Test func publicTypeGetsPublicRoutes() {
        let (source, _) = expand(
            #"""
            @Routes public struct API {
                @GET("/") func root() -> String { "" }
            }
            """#)
        expectFragments(
            source, ["extension API: FasterAPI.RouteCollection {", "public func routes() -> [FasterAPI.TypedRoute]"])
    }

    @Test func everyRouteOfTheTypeIsGenerated() {
        let (source, _) = expand(
            #"""
            @Routes struct API {
                @GET("/a") func a() {}
                func helper() {}
                @POST("/b") func b() {}
            }
            """#)
        expectFragments(source, [#".get, "/a", operationID: "a""#, #".post, "/b", operationID: "b""#])
        // A method without a route attribute is not an operation.
        #expect(source.components(separatedBy: "helper(").count == 2)
        #expect(source.components(separatedBy: "__routes.append(").count == 3)
    }

    // MARK: - Diagnostics

    @Test func unknownPathParameterName() {
        assertMacroExpansion(
            #"""
            struct API {
                @GET("/items/{id}") func get(itemID2: Int) {}
            }
            """#,
            expandedSource: #"""
                struct API {
                    func get(itemID2: Int) {}
                }
                """#,
            diagnostics: [
                DiagnosticSpec(
                    message: #"path parameter '{id}' in "/items/{id}" has no matching function parameter"#, line: 2,
                    column: 5)
            ],
            macroSpecs: testMacros, failureHandler: recordFailure)
    }

    @Test func routesSkipsAnOperationWithMistakes() {
        let (source, diagnostics) = expand(
            #"""
            @Routes struct API {
                @GET("/items/{id}") func get(itemID2: Int) {}
                @GET("/fine") func fine() {}
            }
            """#)
        // Reported once (by @GET), and the faulty operation is left out of routes().
        #expect(diagnostics == [#"path parameter '{id}' in "/items/{id}" has no matching function parameter"#])
        #expect(!source.contains(#""/items/{id}""#))
        #expect(source.contains(#".get, "/fine""#))
    }

    @Test func bodyOnGet() {
        assertMacroExpansion(
            #"""
            struct API {
                @GET("/items") func list(limit: Int, @Body filter: Filter) {}
            }
            """#,
            expandedSource: #"""
                struct API {
                    func list(limit: Int, @Body filter: Filter) {}
                }
                """#,
            diagnostics: [
                DiagnosticSpec(message: "a GET operation cannot read a request body ('filter')", line: 2, column: 42)
            ],
            macroSpecs: testMacros, failureHandler: recordFailure)
    }

    @Test func formAndFileOnGet() {
        let (_, diagnostics) = expand(
            #"""
            struct API {
                @GET("/items") func list(@Form name: String, upload: UploadedFile) {}
            }
            """#)
        #expect(
            diagnostics == [
                "a GET operation cannot read a request body ('name')",
                "a GET operation cannot read a request body ('upload')",
            ])
    }

    @Test func pathAttributeNotInThePath() {
        assertMacroExpansion(
            #"""
            struct API {
                @GET("/items") func get(@Path id: Int) {}
            }
            """#,
            expandedSource: #"""
                struct API {
                    func get(@Path id: Int) {}
                }
                """#,
            diagnostics: [
                DiagnosticSpec(message: #"'id' is declared @Path but "/items" has no '{id}'"#, line: 2, column: 29)
            ],
            macroSpecs: testMacros, failureHandler: recordFailure)
    }

    @Test func optionalPathParameter() {
        assertMacroExpansion(
            #"""
            struct API {
                @DELETE("/items/{id}") func remove(id: Int?) {}
            }
            """#,
            expandedSource: #"""
                struct API {
                    func remove(id: Int?) {}
                }
                """#,
            diagnostics: [
                DiagnosticSpec(message: "path parameter 'id' cannot be optional", line: 2, column: 40)
            ],
            macroSpecs: testMacros, failureHandler: recordFailure)
    }

    @Test func jsonBodyAndFormTogether() {
        assertMacroExpansion(
            #"""
            struct API {
                @POST("/items") func create(@Body item: Item, @Form note: String) {}
            }
            """#,
            expandedSource: #"""
                struct API {
                    func create(@Body item: Item, @Form note: String) {}
                }
                """#,
            diagnostics: [
                DiagnosticSpec(
                    message: "an operation reads either a JSON body or form fields, not both", line: 2, column: 5)
            ],
            macroSpecs: testMacros, failureHandler: recordFailure)
    }

    @Test func operationOnANonFunction() {
        assertMacroExpansion(
            #"""
            struct API {
                @GET("/items") var items: [Int] = []
            }
            """#,
            expandedSource: #"""
                struct API {
                    var items: [Int] = []
                }
                """#,
            diagnostics: [DiagnosticSpec(message: "an operation must be a method", line: 2, column: 5)],
            macroSpecs: testMacros, failureHandler: recordFailure)
    }

    @Test func pathMustBeALiteralStartingWithSlash() {
        let (_, relative) = expand("struct API { @GET(\"items\") func list() {} }")
        #expect(relative == [#"the path must start with '/': "items""#])
        let (_, computed) = expand("struct API { @GET(prefix + \"/items\") func list() {} }")
        #expect(computed == ["the path must be a string literal"])
    }

    // MARK: - @Resolver

    @Test func resolverGeneratesTheDependencyProvider() {
        let (source, diagnostics) = expand(
            #"""
            struct Pagination: Dependency {
                @Resolver public static func resolve(@Query(ge: 0) skip: Int = 0, @Depends user: User, request: Request, scopes: SecurityScopes) throws -> Pagination { fatalError() }
            }
            """#)
        #expect(diagnostics.isEmpty)
        expectFragments(
            source,
            [
                "public static let dependency: FasterAPI.DependencyProvider<Pagination> = {",
                "let __p1 = FasterAPI.DependencyParameter((User).self)",
                #"let __p0 = FasterAPI.Parameter(.query, "skip", as: (Int).self, default: 0, constraints: FasterAPI.Constraints(ge: 0))"#,
                "return FasterAPI.DependencyProvider(inputs: [.dependency(__p1.spec), .parameter(__p0.spec)]) { __reader in",
                "let __mark = __reader.mark",
                "let __v1 = try await __p1.read(&__reader) let __v0 = __p0.read(&__reader) let __v2 = __reader.request let __v3 = FasterAPI.SecurityScopes(__reader.scopes)",
                "guard __reader.isClean(since: __mark) else { return nil }",
                "return try Self.resolve(skip: __v0!, user: __v1!, request: __v2, scopes: __v3)",
            ])
    }

    @Test func resolverOnANonStaticMethod() {
        assertMacroExpansion(
            #"""
            struct Pagination: Dependency {
                @Resolver func resolve() -> Pagination { self }
            }
            """#,
            expandedSource: #"""
                struct Pagination: Dependency {
                    func resolve() -> Pagination { self }
                }
                """#,
            diagnostics: [
                DiagnosticSpec(
                    message: "@Resolver goes on a static method returning the dependency", line: 2, column: 5)
            ],
            macroSpecs: testMacros, failureHandler: recordFailure)
    }

    @Test func resolverWithoutAReturnTypeOrReadingTheBody() {
        let (_, noReturn) = expand("struct D { @Resolver static func resolve() {} }")
        #expect(noReturn == ["@Resolver goes on a static method returning the dependency"])
        let (_, body) = expand(
            "struct D { @Resolver static func resolve(@Body item: Item, @Form name: String) -> D { D() } }")
        #expect(
            body == [
                "a resolver reads parameters and dependencies, not the body",
                "a resolver reads parameters and dependencies, not the body",
            ])
    }
}
