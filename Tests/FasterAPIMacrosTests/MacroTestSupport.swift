import SwiftParser
import SwiftSyntax
import SwiftSyntaxMacroExpansion
import SwiftSyntaxMacros
import SwiftSyntaxMacrosGenericTestSupport
import Testing

@testable import FasterAPIMacros

/// The macros under test, as the compiler plugin provides them.
let testMacros: [String: MacroSpec] = [
    "Routes": MacroSpec(type: RoutesMacro.self, conformances: ["RouteCollection"]),
    "GET": MacroSpec(type: RouteMethodMacro.self),
    "POST": MacroSpec(type: RouteMethodMacro.self),
    "PUT": MacroSpec(type: RouteMethodMacro.self),
    "PATCH": MacroSpec(type: RouteMethodMacro.self),
    "DELETE": MacroSpec(type: RouteMethodMacro.self),
    "Schema": MacroSpec(type: SchemaMacro.self, conformances: ["SchemaModel", "SchemaEnum"]),
    "Field": MacroSpec(type: FieldMacro.self),
    "Resolver": MacroSpec(type: ResolverMacro.self),
]

/// Records a swift-syntax assertion failure as a Swift Testing issue at the failing line.
func recordFailure(_ failure: TestFailureSpec) {
    Issue.record(
        Comment(rawValue: failure.message),
        sourceLocation: Testing.SourceLocation(
            fileID: failure.location.fileID, filePath: failure.location.filePath, line: failure.location.line,
            column: failure.location.column))
}

/// `source` with every macro expanded, and the diagnostics the macros emitted.
func expand(_ source: String) -> (source: String, diagnostics: [String]) {
    let file = Parser.parse(source: source)
    let context = BasicMacroExpansionContext(
        sourceFiles: [file: .init(moduleName: "TestModule", fullFilePath: "test.swift")])
    let expanded = file.expand(
        macroSpecs: testMacros,
        contextGenerator: {
            BasicMacroExpansionContext(sharingWith: context, lexicalContext: $0.allMacroLexicalContexts())
        },
        indentationWidth: .spaces(4))
    return (expanded.description, context.diagnostics.map(\.message))
}

/// Expects every fragment in `source`, comparing with runs of whitespace (and `#sourceLocation`
/// lines) collapsed, so that the check does not depend on the formatter's line breaks.
func expectFragments(
    _ source: String, _ fragments: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    let normalized = normalize(source)
    for fragment in fragments {
        #expect(
            normalized.contains(normalize(fragment)), "missing: \(fragment)\nin:\n\(source)",
            sourceLocation: sourceLocation)
    }
}

private func normalize(_ text: String) -> String {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        .filter { !$0.trimmingPrefix(while: \.isWhitespace).hasPrefix("#sourceLocation") }
    return lines.joined(separator: " ").split(whereSeparator: \.isWhitespace).joined(separator: " ")
}
