import Foundation
import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxMacros

/// A handler or resolver function, read from its declaration: its parameters classified by
/// source, and the code that reads them.
struct Handler {
    enum Kind: Equatable {
        case path, query, header, cookie, body, form, file, dependency, security
        case request, backgroundTasks, scope, securityScopes
    }

    struct Parameter {
        let label: String?
        let name: String
        let type: String
        let defaultValue: String?
        let kind: Kind
        let arguments: LabeledExprListSyntax?
        let node: FunctionParameterSyntax

        /// The attribute's first unlabelled string literal: the wire name.
        var explicitName: String? {
            guard let first = arguments?.first, first.label == nil else { return nil }
            return first.expression.as(StringLiteralExprSyntax.self)?.representedLiteralValue
        }

        func argument(_ label: String) -> String? {
            arguments?.first { $0.label?.text == label }?.expression.trimmedDescription
        }

        var isOptional: Bool { type.hasSuffix("?") || type.hasPrefix("Optional<") }
    }

    static let constraintLabels = ["gt", "ge", "lt", "le", "multipleOf", "minLength", "maxLength", "pattern"]

    let function: FunctionDeclSyntax
    let parameters: [Parameter]
    let pathNames: [String]
    let docs: DocComment

    init(_ function: FunctionDeclSyntax, path: String?) {
        self.function = function
        self.pathNames = path.map(Self.pathNames) ?? []
        self.docs = DocComment(function.leadingTrivia)
        var parameters: [Parameter] = []
        for parameter in function.signature.parameterClause.parameters {
            let name = (parameter.secondName ?? parameter.firstName).text
            let label = parameter.firstName.text == "_" ? nil : parameter.firstName.text
            let type = parameter.type.trimmedDescription
            var kind: Kind?
            var arguments: LabeledExprListSyntax?
            for case .attribute(let attribute) in parameter.attributes {
                let attributeName = attribute.attributeName.trimmedDescription.replacingOccurrences(
                    of: "FasterAPI.", with: "")
                let kinds: [String: Kind] = [
                    "Query": .query, "Path": .path, "Header": .header, "Cookie": .cookie, "Body": .body,
                    "Form": .form, "File": .file, "Depends": .dependency, "Security": .security,
                ]
                if let found = kinds[attributeName] {
                    kind = found
                    if case .argumentList(let list) = attribute.arguments { arguments = list }
                }
            }
            if kind == nil {
                let bare = type.replacingOccurrences(of: "FasterAPI.", with: "")
                switch bare {
                case "Request": kind = .request
                case "BackgroundTasks": kind = .backgroundTasks
                case "RequestScope": kind = .scope
                case "SecurityScopes": kind = .securityScopes
                case "UploadedFile", "UploadedFile?", "[UploadedFile]": kind = .file
                default:
                    kind = pathNames.contains { Self.sameName($0, name) } ? .path : .query
                }
            }
            parameters.append(
                Parameter(
                    label: label, name: name, type: type,
                    defaultValue: parameter.defaultValue?.value.trimmedDescription, kind: kind!,
                    arguments: arguments, node: parameter))
        }
        self.parameters = parameters
    }

    /// `{id}`, `{rest...}` and `{rest:path}` give `id` and `rest`.
    static func pathNames(_ path: String) -> [String] {
        var names: [String] = []
        var rest = Substring(path)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            var name = rest[rest.index(after: open)..<close]
            if name.hasSuffix("...") { name = name.dropLast(3) }
            if let colon = name.firstIndex(of: ":") { name = name[..<colon] }
            names.append(String(name))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    /// `item_id` matches `itemID` and `itemId`: compared without underscores, ignoring case.
    static func sameName(_ wire: String, _ swift: String) -> Bool {
        wire.replacingOccurrences(of: "_", with: "").lowercased()
            == swift.replacingOccurrences(of: "_", with: "")
            .lowercased()
    }

    /// `userAgent` and `user_agent` become `user-agent`.
    static func headerName(_ name: String) -> String {
        var result = ""
        for character in name {
            if character == "_" {
                result.append("-")
            } else if character.isUppercase {
                if !result.isEmpty && result.last != "-" { result.append("-") }
                result.append(contentsOf: character.lowercased())
            } else {
                result.append(character)
            }
        }
        return result
    }

    func wireName(_ parameter: Parameter) -> String {
        if let explicit = parameter.explicitName { return explicit }
        switch parameter.kind {
        case .path: return pathNames.first { Self.sameName($0, parameter.name) } ?? parameter.name
        case .header: return Self.headerName(parameter.name)
        default: return parameter.name
        }
    }

    var bodyParameters: [Parameter] { parameters.filter { $0.kind == .body } }
    var hasForm: Bool { parameters.contains { $0.kind == .form || $0.kind == .file } }

    // MARK: - Generated code

    /// The order FastAPI reads inputs in (and reports their problems in): dependencies, then
    /// path, query, header and cookie parameters, then the body.
    var readingOrder: [Int] {
        let rank: (Kind) -> Int = { kind in
            switch kind {
            case .dependency, .security: 0
            case .path: 1
            case .query: 2
            case .header: 3
            case .cookie: 4
            case .body, .form, .file: 5
            default: 6
            }
        }
        return parameters.indices.sorted { (rank(parameters[$0].kind), $0) < (rank(parameters[$1].kind), $1) }
    }

    /// `let __pN = …` declarations, one per input. With `context`, each is marked with its
    /// parameter's source location, so a type error (a parameter type that cannot be read) is
    /// reported on the parameter's line.
    func declarations(in context: (any MacroExpansionContext)? = nil) -> [String] {
        let embed = bodyParameters.count > 1
        var lines: [String] = []
        for index in readingOrder {
            let start = lines.count
            defer {
                if lines.count > start, let context, let location = context.location(of: parameters[index].node) {
                    lines[start] =
                        "#sourceLocation(file: \(location.file), line: \(location.line))\n\(lines[start])\n#sourceLocation()"
                }
            }
            let parameter = parameters[index]
            let name = wireName(parameter)
            let description = parameter.argument("description") ?? docs.parameters[parameter.name].map(Self.literal)
            let constraintArguments = Self.constraintLabels.compactMap { label in
                parameter.argument(label).map { "\(label): \($0)" }
            }
            var arguments = ""
            if let defaultValue = parameter.defaultValue { arguments += ", default: \(defaultValue)" }
            if !constraintArguments.isEmpty {
                arguments += ", constraints: FasterAPI.Constraints(\(constraintArguments.joined(separator: ", ")))"
            }
            if let description { arguments += ", description: \(description)" }
            switch parameter.kind {
            case .path, .query, .header, .cookie:
                if let deprecated = parameter.argument("deprecated") { arguments += ", deprecated: \(deprecated)" }
                if let example = parameter.argument("example") { arguments += ", example: \(example)" }
                lines.append(
                    "let __p\(index) = FasterAPI.Parameter(.\(parameter.kind), \(Self.literal(name)), as: (\(parameter.type)).self\(arguments))"
                )
            case .form:
                lines.append(
                    "let __p\(index) = FasterAPI.FormField(\(Self.literal(name)), as: (\(parameter.type)).self\(arguments))"
                )
            case .file:
                let description = description.map { ", description: \($0)" } ?? ""
                lines.append(
                    "let __p\(index) = FasterAPI.FileField(\(Self.literal(name)), as: (\(parameter.type)).self\(description))"
                )
            case .body:
                let embedded =
                    embed || parameter.argument("embed") == "true" ? ", embeddedAs: \(Self.literal(name))" : ""
                let description = description.map { ", description: \($0)" } ?? ""
                lines.append(
                    "let __p\(index) = FasterAPI.BodyParameter((\(parameter.type)).self\(embedded)\(description))")
            case .dependency:
                lines.append("let __p\(index) = FasterAPI.DependencyParameter((\(parameter.type)).self)")
            case .security:
                let scopes = parameter.argument("scopes") ?? "[]"
                lines.append(
                    "let __p\(index) = FasterAPI.DependencyParameter((\(parameter.type)).self, scopes: \(scopes))")
            default:
                break
            }
        }
        return lines
    }

    /// The `inputs:` array for the documentation.
    func inputsArray() -> String {
        let items = readingOrder.compactMap { index -> String? in
            switch parameters[index].kind {
            case .path, .query, .header, .cookie: ".parameter(__p\(index).spec)"
            case .body: ".body(__p\(index).spec)"
            case .form, .file: ".formField(__p\(index).spec)"
            case .dependency, .security: ".dependency(__p\(index).spec)"
            default: nil
            }
        }
        return "[\(items.joined(separator: ", "))]"
    }

    /// `let __vN = …` statements reading each input from `__reader`.
    func reads() -> [String] {
        readingOrder.map { index in
            let parameter = parameters[index]
            switch parameter.kind {
            case .dependency, .security: return "let __v\(index) = try await __p\(index).read(&__reader)"
            case .request: return "let __v\(index) = __reader.request"
            case .backgroundTasks: return "let __v\(index) = FasterAPI.BackgroundTasks(__reader.scope)"
            case .scope: return "let __v\(index) = __reader.scope"
            case .securityScopes: return "let __v\(index) = FasterAPI.SecurityScopes(__reader.scopes)"
            default: return "let __v\(index) = __p\(index).read(&__reader)"
            }
        }
    }

    /// The call of the function with the values read, `try`/`await` as its signature needs.
    func call(on receiver: String) -> String {
        let arguments = parameters.indices.map { index -> String in
            let parameter = parameters[index]
            let unwrap: String
            switch parameter.kind {
            case .request, .backgroundTasks, .scope, .securityScopes: unwrap = ""
            default: unwrap = "!"
            }
            let value = "__v\(index)\(unwrap)"
            return parameter.label.map { "\($0): \(value)" } ?? value
        }
        let effects = function.signature.effectSpecifiers
        let prefix = (effects?.throwsClause != nil ? "try " : "") + (effects?.asyncSpecifier != nil ? "await " : "")
        return "\(prefix)\(receiver).\(function.name.text)(\(arguments.joined(separator: ", ")))"
    }

    static func literal(_ text: String) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return "\"\(escaped)\""
    }

    // MARK: - Checks

    /// Mistakes in the declaration, reported at the offending node.
    func diagnostics(method: String, path: String, attribute: AttributeSyntax) -> [Diagnostic] {
        var found: [Diagnostic] = []
        for name in pathNames where !parameters.contains(where: { $0.kind == .path && wireName($0) == name }) {
            found.append(
                Diagnostic(
                    node: attribute,
                    message: MacroMessage.error(
                        "path parameter '{\(name)}' in \"\(path)\" has no matching function parameter")))
        }
        for parameter in parameters where parameter.kind == .path && !pathNames.contains(wireName(parameter)) {
            found.append(
                Diagnostic(
                    node: parameter.node,
                    message: MacroMessage.error(
                        "'\(parameter.name)' is declared @Path but \"\(path)\" has no '{\(wireName(parameter))}'")))
        }
        if method == "GET" || method == "HEAD" {
            for parameter in parameters where [.body, .form, .file].contains(parameter.kind) {
                found.append(
                    Diagnostic(
                        node: parameter.node,
                        message: MacroMessage.error(
                            "a \(method) operation cannot read a request body ('\(parameter.name)')")))
            }
        }
        if !bodyParameters.isEmpty && hasForm {
            found.append(
                Diagnostic(
                    node: attribute,
                    message: MacroMessage.error("an operation reads either a JSON body or form fields, not both")))
        }
        for parameter in parameters where parameter.kind == .path && parameter.isOptional {
            found.append(
                Diagnostic(
                    node: parameter.node,
                    message: MacroMessage.error("path parameter '\(parameter.name)' cannot be optional")))
        }
        return found
    }
}

/// Summary, description and parameter descriptions from a `///` doc comment.
struct DocComment {
    var summary: String?
    var description: String?
    var parameters: [String: String] = [:]

    init(_ trivia: Trivia) {
        var lines: [String] = []
        for piece in trivia {
            switch piece {
            case .docLineComment(let text):
                var line = Substring(text.dropFirst(3))
                if line.first == " " { line = line.dropFirst() }
                lines.append(String(line))
            case .docBlockComment(let text):
                let body = text.dropFirst(3).dropLast(2)
                lines.append(
                    contentsOf: body.split(separator: "\n", omittingEmptySubsequences: false).map {
                        var line = Substring($0.trimmingCharacters(in: .whitespaces))
                        if line.first == "*" { line = line.dropFirst() }
                        if line.first == " " { line = line.dropFirst() }
                        return String(line)
                    })
            default:
                break
            }
        }
        var prose: [String] = []
        var inParameters = false
        var listIndent = 0
        for line in lines {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let indent = line.prefix { $0 == " " }.count
            if trimmed.hasPrefix("- Parameters:") {
                inParameters = true
                listIndent = indent
                continue
            }
            if inParameters && !trimmed.isEmpty && indent <= listIndent { inParameters = false }
            if let entry = Self.parameterEntry(trimmed, listed: inParameters) {
                parameters[entry.0] = entry.1
                continue
            }
            if trimmed.hasPrefix("- Returns:") || trimmed.hasPrefix("- Throws:") { continue }
            inParameters = inParameters && trimmed.hasPrefix("-")
            prose.append(line)
        }
        let paragraphs = prose.split(whereSeparator: { $0.trimmingCharacters(in: .whitespaces).isEmpty })
        summary = paragraphs.first.map { $0.joined(separator: " ") }
        let rest = paragraphs.dropFirst().map { $0.joined(separator: "\n") }
        description = rest.isEmpty ? nil : rest.joined(separator: "\n\n")
    }

    private static func parameterEntry(_ line: String, listed: Bool) -> (String, String)? {
        var rest = Substring(line)
        guard rest.hasPrefix("- ") else { return nil }
        rest = rest.dropFirst(2)
        if rest.hasPrefix("Parameter ") {
            rest = rest.dropFirst("Parameter ".count)
        } else if !listed {
            return nil
        }
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        let name = rest[..<colon].trimmingCharacters(in: .whitespaces)
        guard !name.contains(" ") else { return nil }
        return (name, rest[rest.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }
}

/// A diagnostic message of the macros.
struct MacroMessage: DiagnosticMessage {
    let message: String
    let diagnosticID: MessageID
    let severity: DiagnosticSeverity

    static func error(_ message: String) -> MacroMessage {
        MacroMessage(message: message, diagnosticID: MessageID(domain: "FasterAPI", id: "error"), severity: .error)
    }
}
