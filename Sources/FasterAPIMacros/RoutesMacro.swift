import Foundation
import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxMacros

/// `@Routes`: conforms the type to `RouteCollection`, generating one `TypedRoute` per method
/// marked `@GET`, `@POST`, `@PUT`, `@PATCH` or `@DELETE`.
public struct RoutesMacro: ExtensionMacro {
    static let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    public static func expansion(
        of node: AttributeSyntax, attachedTo declaration: some DeclGroupSyntax,
        providingExtensionsOf type: some TypeSyntaxProtocol, conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        var blocks: [String] = []
        for member in declaration.memberBlock.members {
            guard let function = member.decl.as(FunctionDeclSyntax.self) else { continue }
            for case .attribute(let attribute) in function.attributes {
                let name = attribute.attributeName.trimmedDescription.replacingOccurrences(of: "FasterAPI.", with: "")
                guard methods.contains(name), let route = RouteAttribute(attribute) else { continue }
                let handler = Handler(function, path: route.path)
                guard handler.diagnostics(method: name, path: route.path, attribute: attribute).isEmpty else {
                    continue  // the method macro reports them
                }
                blocks.append(block(for: handler, method: name, route: route, in: context))
            }
        }
        let access = accessModifier(of: declaration)
        let source = """
            extension \(type.trimmedDescription): FasterAPI.RouteCollection {
                \(access)func routes() -> [FasterAPI.TypedRoute] {
                    var __routes: [FasterAPI.TypedRoute] = []
                    \(blocks.joined(separator: "\n"))
                    return __routes
                }
            }
            """
        return [try ExtensionDeclSyntax("\(raw: source)")]
    }

    private static func block(
        for handler: Handler, method: String, route: RouteAttribute, in context: some MacroExpansionContext
    ) -> String {
        let function = handler.function
        let operationID = route.argument("operationID") ?? Handler.literal(function.name.text)
        let summary = route.argument("summary") ?? handler.docs.summary.map(Handler.literal) ?? "nil"
        let description = route.argument("description") ?? handler.docs.description.map(Handler.literal) ?? "nil"
        var options = ""
        for label in ["tags", "status", "responses", "deprecated", "includeInSchema"] {
            if let value = route.argument(label) { options += ", \(label): \(value)" }
        }
        let returnType = function.signature.returnClause?.type.trimmedDescription ?? "Void"
        let body = !handler.bodyParameters.isEmpty ? ".json" : handler.hasForm ? ".form" : ".none"
        let status = route.argument("status") ?? ".ok"
        return """
            do {
                \(handler.declarations(in: context).joined(separator: "\n"))
                __routes.append(
                    FasterAPI.TypedRoute(
                        .\(method.lowercased()), \(Handler.literal(route.path)), operationID: \(operationID),
                        summary: \(summary), description: \(description)\(options),
                        response: FasterAPI.ResponseDoc.returning((\(returnType)).self),
                        inputs: \(handler.inputsArray()), body: \(body)
                    ) { [self] __reader in
                        \(handler.reads().joined(separator: "\n"))
                        try __reader.finish()
                        return try await FasterAPI.TypedRoute.respond(
                            \(handler.call(on: "self")), status: \(status), request: __reader.request)
                    })
            }
            """
    }
}

/// `@GET("/path", …)` and its siblings: checks the declaration (path parameters, bodies on GET);
/// `@Routes` generates the code.
public struct RouteMethodMacro: PeerMacro {
    public static func expansion(
        of node: AttributeSyntax, providingPeersOf declaration: some DeclSyntaxProtocol,
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] {
        guard let function = declaration.as(FunctionDeclSyntax.self) else {
            context.diagnose(Diagnostic(node: node, message: MacroMessage.error("an operation must be a method")))
            return []
        }
        guard let route = RouteAttribute(node) else {
            context.diagnose(
                Diagnostic(node: node, message: MacroMessage.error("the path must be a string literal")))
            return []
        }
        if !route.path.hasPrefix("/") {
            context.diagnose(
                Diagnostic(node: node, message: MacroMessage.error("the path must start with '/': \"\(route.path)\"")))
        }
        let method = node.attributeName.trimmedDescription.replacingOccurrences(of: "FasterAPI.", with: "")
        for diagnostic in Handler(function, path: route.path).diagnostics(
            method: method, path: route.path, attribute: node)
        {
            context.diagnose(diagnostic)
        }
        return []
    }
}

/// The arguments of a route attribute.
struct RouteAttribute {
    let path: String
    let arguments: LabeledExprListSyntax

    init?(_ attribute: AttributeSyntax) {
        guard case .argumentList(let arguments) = attribute.arguments,
            let first = arguments.first, first.label == nil,
            let path = first.expression.as(StringLiteralExprSyntax.self)?.representedLiteralValue
        else { return nil }
        self.path = path
        self.arguments = arguments
    }

    func argument(_ label: String) -> String? {
        arguments.first { $0.label?.text == label }?.expression.trimmedDescription
    }
}

/// `public ` for a public type (its generated members must be public too), else nothing.
func accessModifier(of declaration: some DeclGroupSyntax) -> String {
    for modifier in declaration.modifiers {
        switch modifier.name.tokenKind {
        case .keyword(.public), .keyword(.open): return "public "
        case .keyword(.package): return "package "
        default: continue
        }
    }
    return ""
}

/// `@Resolver`: generates a dependency's `dependency` provider from its static resolver method.
public struct ResolverMacro: PeerMacro {
    public static func expansion(
        of node: AttributeSyntax, providingPeersOf declaration: some DeclSyntaxProtocol,
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] {
        guard let function = declaration.as(FunctionDeclSyntax.self),
            function.modifiers.contains(where: { $0.name.tokenKind == .keyword(.static) }),
            let returnType = function.signature.returnClause?.type.trimmedDescription
        else {
            context.diagnose(
                Diagnostic(
                    node: node,
                    message: MacroMessage.error("@Resolver goes on a static method returning the dependency")))
            return []
        }
        let handler = Handler(function, path: nil)
        for parameter in handler.parameters where [.body, .form, .file].contains(parameter.kind) {
            context.diagnose(
                Diagnostic(
                    node: parameter.node,
                    message: MacroMessage.error("a resolver reads parameters and dependencies, not the body")))
        }
        var access = ""
        for modifier in function.modifiers {
            if [.keyword(.public), .keyword(.package)].contains(modifier.name.tokenKind) {
                access = modifier.name.text + " "
            }
        }
        let source = """
            \(access)static let dependency: FasterAPI.DependencyProvider<\(returnType)> = {
                \(handler.declarations(in: context).joined(separator: "\n"))
                return FasterAPI.DependencyProvider(inputs: \(handler.inputsArray())) { __reader in
                    let __mark = __reader.mark
                    \(handler.reads().joined(separator: "\n"))
                    guard __reader.isClean(since: __mark) else { return nil }
                    return \(handler.call(on: "Self"))
                }
            }()
            """
        return [DeclSyntax(stringLiteral: source)]
    }
}
