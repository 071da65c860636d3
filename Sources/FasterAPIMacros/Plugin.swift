import SwiftCompilerPlugin
import SwiftSyntaxMacros

/// The compiler plugin that provides FasterAPI's macros.
@main
struct FasterAPIMacrosPlugin: CompilerPlugin {
    let providingMacros: [any Macro.Type] = [
        RoutesMacro.self, RouteMethodMacro.self, SchemaMacro.self, FieldMacro.self, ResolverMacro.self,
    ]
}
