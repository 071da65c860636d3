import Foundation
import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxMacros

/// `@Schema`: a struct becomes a `SchemaModel` (schema and field-by-field decoder from its stored
/// properties), an enum with raw values a `SchemaEnum`.
public struct SchemaMacro: ExtensionMacro {
    public static func expansion(
        of node: AttributeSyntax, attachedTo declaration: some DeclGroupSyntax,
        providingExtensionsOf type: some TypeSyntaxProtocol, conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        let typeName = type.trimmedDescription
        var schemaName = typeName.split(separator: ".").last.map(String.init) ?? typeName
        if case .argumentList(let arguments) = node.arguments,
            let name = arguments.first?.expression.as(StringLiteralExprSyntax.self)?.representedLiteralValue
        {
            schemaName = name
        }
        let access = accessModifier(of: declaration)
        if let enumDecl = declaration.as(EnumDeclSyntax.self) {
            return [try enumExtension(enumDecl, typeName: typeName, schemaName: schemaName, access: access)]
        }
        guard declaration.is(StructDeclSyntax.self) else {
            context.diagnose(
                Diagnostic(
                    node: node, message: MacroMessage.error("@Schema applies to structs and enums with raw values")))
            return []
        }
        var fields: [Field] = []
        for member in declaration.memberBlock.members {
            guard let variable = member.decl.as(VariableDeclSyntax.self),
                !variable.modifiers.contains(where: { $0.name.tokenKind == .keyword(.static) })
            else { continue }
            let isLet = variable.bindingSpecifier.tokenKind == .keyword(.let)
            let bindings = Array(variable.bindings)
            for (position, binding) in bindings.enumerated() {
                guard let name = binding.pattern.as(IdentifierPatternSyntax.self)?.identifier.text else { continue }
                if let accessors = binding.accessorBlock, !Self.isObserverOnly(accessors) { continue }
                if isLet && binding.initializer != nil { continue }  // not decodable, as with Codable
                // `var x, y: Double`: a binding without type or value takes the next annotation.
                let annotation =
                    binding.typeAnnotation
                    ?? (binding.initializer == nil
                        ? bindings[(position + 1)...].first { $0.typeAnnotation != nil }?.typeAnnotation : nil)
                guard let type = annotation?.type.trimmedDescription else {
                    context.diagnose(
                        Diagnostic(
                            node: binding,
                            message: MacroMessage.error("'\(name)' needs an explicit type for @Schema")))
                    continue
                }
                var arguments: LabeledExprListSyntax?
                for case .attribute(let attribute) in variable.attributes
                where attribute.attributeName.trimmedDescription.hasSuffix("Field") {
                    if case .argumentList(let list) = attribute.arguments { arguments = list }
                }
                fields.append(
                    Field(
                        name: name, type: type, defaultValue: binding.initializer?.value.trimmedDescription,
                        arguments: arguments, docs: DocComment(variable.leadingTrivia)))
            }
        }
        let codingKeys = Self.codingKeys(in: declaration)
        let docs = DocComment(declaration.leadingTrivia)
        let description = [docs.summary, docs.description].compactMap { $0 }.joined(separator: "\n\n")
        var constants: [String] = []
        var properties: [String] = []
        var decodes: [String] = []
        var required: [String] = []
        for (index, field) in fields.enumerated() {
            let constraintArguments = Handler.constraintLabels.compactMap { label in
                field.argument(label).map { "\(label): \($0)" }
            }
            var constraints = "nil"
            if !constraintArguments.isEmpty {
                constants.append(
                    "private static let __constraints\(index) = FasterAPI.Constraints(\(constraintArguments.joined(separator: ", ")))"
                )
                constraints = "Self.__constraints\(index)"
            }
            let fieldDescription =
                field.argument("description") ?? [field.docs.summary, field.docs.description].compactMap { $0 }
                .joined(separator: "\n\n").nonEmpty.map(Handler.literal) ?? "nil"
            let defaultArgument = field.defaultValue.map { ", default: \($0)" } ?? ""
            var property =
                "registry.property((\(field.type)).self, constraints: \(constraints), description: \(fieldDescription)\(defaultArgument))"
            if let example = field.argument("example") {
                property = "{ var schema = \(property); schema[\"examples\"] = [\(example)]; return schema }()"
            }
            let key = Handler.literal(codingKeys[field.name] ?? field.name)
            properties.append("__properties[\(key)] = .object(\(property))")
            decodes.append(
                "let __f\(index) = context.field(__object, \(key), as: (\(field.type)).self, constraints: \(constraints)\(defaultArgument))"
            )
            if field.defaultValue == nil && !field.isOptional { required.append(key) }
        }
        let unwrap = fields.indices.map { "let __f\($0)" }.joined(separator: ", ")
        let construct = fields.enumerated().map { "\($1.name): __f\($0)" }.joined(separator: ", ")
        let guardLine = fields.isEmpty ? "" : "guard \(unwrap) else { return nil }"
        let source = """
            extension \(typeName): FasterAPI.SchemaModel {
                \(access)static var schemaName: String { \(Handler.literal(schemaName)) }
                \(access)static func modelSchema(in registry: inout FasterAPI.SchemaRegistry) -> FasterAPI.JSONObject {
                    var __properties = FasterAPI.JSONObject()
                    \(properties.joined(separator: "\n"))
                    var __schema: FasterAPI.JSONObject = ["title": \(Handler.literal(schemaName)), "type": "object"]
                    \(description.isEmpty ? "" : "__schema[\"description\"] = \(Handler.literal(description))")
                    __schema["properties"] = .object(__properties)
                    \(required.isEmpty ? "" : "__schema[\"required\"] = [\(required.joined(separator: ", "))]")
                    return __schema
                }
                \(access)static func decode(json: FasterAPI.JSONValue, in context: inout FasterAPI.ValidationContext) -> Self? {
                    guard case .object(let __object) = json else {
                        context.notAnObject(json)
                        return nil
                    }
                    \(decodes.joined(separator: "\n"))
                    \(guardLine)
                    return Self(\(construct))
                }
                \(constants.joined(separator: "\n"))
            }
            """
        return [try ExtensionDeclSyntax("\(raw: source)")]
    }

    private static func enumExtension(
        _ declaration: EnumDeclSyntax, typeName: String, schemaName: String, access: String
    ) throws -> ExtensionDeclSyntax {
        var cases: [String] = []
        for member in declaration.memberBlock.members {
            guard let caseDecl = member.decl.as(EnumCaseDeclSyntax.self) else { continue }
            cases.append(contentsOf: caseDecl.elements.map { ".\($0.name.text)" })
        }
        let source = """
            extension \(typeName): FasterAPI.SchemaModel, FasterAPI.SchemaEnum {
                \(access)static var schemaName: String { \(Handler.literal(schemaName)) }
                \(access)static var schemaCases: [Self] { [\(cases.joined(separator: ", "))] }
            }
            """
        return try ExtensionDeclSyntax("\(raw: source)")
    }

    /// The JSON keys a `CodingKeys` enum gives properties (`case userName = "user_name"`), so the
    /// decoder and the schema use the keys `Codable` encodes with.
    private static func codingKeys(in declaration: some DeclGroupSyntax) -> [String: String] {
        var keys: [String: String] = [:]
        for member in declaration.memberBlock.members {
            guard let keyEnum = member.decl.as(EnumDeclSyntax.self), keyEnum.name.text == "CodingKeys" else { continue }
            for caseMember in keyEnum.memberBlock.members {
                guard let caseDecl = caseMember.decl.as(EnumCaseDeclSyntax.self) else { continue }
                for element in caseDecl.elements {
                    let raw = element.rawValue?.value.as(StringLiteralExprSyntax.self)?.representedLiteralValue
                    keys[element.name.text] = raw ?? element.name.text
                }
            }
        }
        return keys
    }

    private static func isObserverOnly(_ accessors: AccessorBlockSyntax) -> Bool {
        guard case .accessors(let list) = accessors.accessors else { return false }
        return list.allSatisfy { [.keyword(.willSet), .keyword(.didSet)].contains($0.accessorSpecifier.tokenKind) }
    }

    struct Field {
        let name: String
        let type: String
        let defaultValue: String?
        let arguments: LabeledExprListSyntax?
        let docs: DocComment

        var isOptional: Bool { type.hasSuffix("?") || type.hasPrefix("Optional<") }

        func argument(_ label: String) -> String? {
            arguments?.first { $0.label?.text == label }?.expression.trimmedDescription
        }
    }
}

/// `@Field(…)`: read by `@Schema`; generates nothing itself.
public struct FieldMacro: PeerMacro {
    public static func expansion(
        of node: AttributeSyntax, providingPeersOf declaration: some DeclSyntaxProtocol,
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] { [] }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
