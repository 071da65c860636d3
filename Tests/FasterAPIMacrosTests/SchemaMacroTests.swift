import SwiftParser
import SwiftSyntax
import SwiftSyntaxMacrosGenericTestSupport
import Testing

@testable import FasterAPIMacros

struct SchemaMacroTests {
    @Test func structFieldsAreRequiredOptionalOrDefaulted() {
        let (source, diagnostics) = expand(
            #"""
            /// A catalogue item.
            ///
            /// Sold by the unit.
            @Schema public struct Item {
                /// The display name.
                @Field(minLength: 1, maxLength: 50) var name: String
                @Field(description: "Unit price", gt: 0) var price: Double
                @Field(ge: 0, example: 3) var quantity: Int = 0
                var note: String?
                var tags: Optional<[String]>
                let id: Int = 1
                static var count = 0
                var computed: Int { 1 }
                var observed: Int = 1 { didSet {} }
            }
            """#)
        #expect(diagnostics.isEmpty)
        expectFragments(
            source,
            [
                "extension Item: FasterAPI.SchemaModel {",
                #"public static var schemaName: String { "Item" }"#,
                "public static func modelSchema(in registry: inout FasterAPI.SchemaRegistry) -> FasterAPI.JSONObject {",
                #"__properties["name"] = .object(registry.property((String).self, constraints: Self.__constraints0, description: "The display name."))"#,
                #"__properties["price"] = .object(registry.property((Double).self, constraints: Self.__constraints1, description: "Unit price"))"#,
                #"var schema = registry.property((Int).self, constraints: Self.__constraints2, description: nil, default: 0);"#,
                #"schema["examples"] = [3];"#,
                #"__properties["note"] = .object(registry.property((String?).self, constraints: nil, description: nil))"#,
                #"__properties["observed"] = .object(registry.property((Int).self, constraints: nil, description: nil, default: 1))"#,
                #"var __schema: FasterAPI.JSONObject = ["title": "Item", "type": "object"]"#,
                #"__schema["description"] = "A catalogue item.\n\nSold by the unit.""#,
                // Optional and defaulted fields are not required.
                #"__schema["required"] = ["name", "price"]"#,
                "public static func decode(json: FasterAPI.JSONValue, in context: inout FasterAPI.ValidationContext) -> Self? {",
                "context.notAnObject(json)",
                #"let __f0 = context.field(__object, "name", as: (String).self, constraints: Self.__constraints0)"#,
                #"let __f2 = context.field(__object, "quantity", as: (Int).self, constraints: Self.__constraints2, default: 0)"#,
                #"let __f3 = context.field(__object, "note", as: (String?).self, constraints: nil)"#,
                #"let __f4 = context.field(__object, "tags", as: (Optional<[String]>).self, constraints: nil)"#,
                "guard let __f0, let __f1, let __f2, let __f3, let __f4, let __f5 else { return nil }",
                "return Self(name: __f0, price: __f1, quantity: __f2, note: __f3, tags: __f4, observed: __f5)",
                "private static let __constraints0 = FasterAPI.Constraints(minLength: 1, maxLength: 50)",
                "private static let __constraints1 = FasterAPI.Constraints(gt: 0)",
                "private static let __constraints2 = FasterAPI.Constraints(ge: 0)",
            ])
        // A `let` with a value, static and computed properties are not fields.
        #expect(!source.contains(#""id""#))
        #expect(!source.contains(#""count""#))
        #expect(!source.contains(#""computed""#))
    }

    /// Keys renamed by `CodingKeys` are the keys the decoder reads and the schema documents, as
    /// `Codable` encodes them.
    @Test func codingKeysRenameTheJSONKeys() {
        let (source, diagnostics) = expand(
            #"""
            @Schema struct Account {
                var userName: String
                var age: Int
                enum CodingKeys: String, CodingKey {
                    case userName = "user_name"
                    case age
                }
            }
            """#)
        #expect(diagnostics.isEmpty)
        expectFragments(
            source,
            [
                #"__properties["user_name"] = .object(registry.property((String).self, constraints: nil, description: nil))"#,
                #"__properties["age"] = .object(registry.property((Int).self, constraints: nil, description: nil))"#,
                #"let __f0 = context.field(__object, "user_name", as: (String).self, constraints: nil)"#,
                #"__schema["required"] = ["user_name", "age"]"#,
                "return Self(userName: __f0, age: __f1)",
            ])
    }

    @Test func schemaNameArgumentAndEmptyModel() {
        let (source, _) = expand("@Schema(\"ItemOut\") struct Item {}")
        expectFragments(
            source,
            [
                #"static var schemaName: String { "ItemOut" }"#,
                #"["title": "ItemOut", "type": "object"]"#,
                "return Self()",
            ])
        #expect(!source.contains(#"__schema["required"]"#))
        #expect(!source.contains(#"__schema["description"]"#))
    }

    @Test func enumBecomesASchemaEnum() {
        assertMacroExpansion(
            #"""
            @Schema enum Color: String {
                case red, green
                case blue
            }
            """#,
            expandedSource: #"""
                enum Color: String {
                    case red, green
                    case blue
                }

                extension Color: FasterAPI.SchemaModel, FasterAPI.SchemaEnum {
                    static var schemaName: String {
                        "Color"
                    }
                    static var schemaCases: [Self] {
                        [.red, .green, .blue]
                    }
                }
                """#,
            macroSpecs: testMacros, failureHandler: recordFailure)
    }

    @Test func publicEnumWithCustomName() {
        let (source, _) = expand("@Schema(\"Shade\") public enum Color: Int { case light = 1, dark = 2 }")
        expectFragments(
            source,
            [
                #"public static var schemaName: String { "Shade" }"#,
                "public static var schemaCases: [Self] { [.light, .dark] }",
            ])
    }

    @Test func classIsRejected() {
        assertMacroExpansion(
            #"""
            @Schema class Item {
                var name: String = ""
            }
            """#,
            expandedSource: #"""
                class Item {
                    var name: String = ""
                }
                """#,
            diagnostics: [
                DiagnosticSpec(message: "@Schema applies to structs and enums with raw values", line: 1, column: 1)
            ],
            macroSpecs: testMacros, failureHandler: recordFailure)
    }

    @Test func fieldWithoutATypeIsRejected() {
        let (_, diagnostics) = expand("@Schema struct Item { var count = 0 }")
        #expect(diagnostics == ["'count' needs an explicit type for @Schema"])
    }

    @Test func severalVariablesInOneDeclarationShareTheType() {
        let (source, diagnostics) = expand("@Schema struct Point { var x, y: Double }")
        #expect(diagnostics.isEmpty)
        expectFragments(source, [#"__schema["required"] = ["x", "y"]"#, "return Self(x: __f0, y: __f1)"])
    }

    // MARK: - Doc comments

    private func docs(_ source: String) -> DocComment {
        let file = Parser.parse(source: source)
        let function = file.statements.first!.item.as(DeclSyntax.self)!
        return DocComment(function.leadingTrivia)
    }

    @Test func docCommentSummaryOnly() {
        let comment = docs("/// Fetch one item.\nfunc get() {}")
        #expect(comment.summary == "Fetch one item.")
        #expect(comment.description == nil)
        #expect(comment.parameters.isEmpty)
    }

    @Test func docCommentSummaryDescriptionAndParameters() {
        let comment = docs(
            """
            // An ordinary comment is not documentation.
            /// Fetch one item,
            /// by its identifier.
            ///
            /// Looks in the cache first.
            /// Then in the database.
            ///
            /// Second paragraph.
            /// - Parameter id: The item's identifier.
            /// - Parameter verbose:   Whether to include history.
            /// - Returns: The item.
            /// - Throws: When it is missing.
            func get(id: Int, verbose: Bool) {}
            """)
        #expect(comment.summary == "Fetch one item, by its identifier.")
        #expect(comment.description == "Looks in the cache first.\nThen in the database.\n\nSecond paragraph.")
        #expect(comment.parameters == ["id": "The item's identifier.", "verbose": "Whether to include history."])
    }

    @Test func docCommentParametersList() {
        let comment = docs(
            """
            /// Search.
            ///
            /// - Parameters:
            ///   - q: The text to look for.
            ///   - limit: At most this many.
            /// - Note: Results are sorted.
            func search(q: String, limit: Int) {}
            """)
        #expect(comment.summary == "Search.")
        #expect(comment.parameters == ["q": "The text to look for.", "limit": "At most this many."])
        #expect(comment.description == "- Note: Results are sorted.")
    }

    @Test func docCommentBlockStyle() {
        let comment = docs(
            """
            /**
             * Fetch one item.
             *
             * Looks in the cache first.
             * - Parameter id: The identifier.
             */
            func get(id: Int) {}
            """)
        #expect(comment.summary == "Fetch one item.")
        #expect(comment.description == "Looks in the cache first.")
        #expect(comment.parameters == ["id": "The identifier."])
    }

    @Test func noDocComment() {
        let comment = docs("func get() {}")
        #expect(comment.summary == nil)
        #expect(comment.description == nil)
    }
}
