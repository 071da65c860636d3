import Foundation

/// Collects the problems found while reading one request's declared inputs, so that every problem
/// is reported at once (one 422 entry each), as FastAPI does.
public struct ValidationContext: Sendable {
    /// The problems found so far.
    public var issues: [ValidationIssue] = []
    /// Where the value being read sits (`["body", "dimensions", "width"]`).
    public var location: [ValidationIssue.LocationElement]

    /// A context reading values at `location`.
    public init(location: [ValidationIssue.LocationElement] = []) {
        self.location = location
    }

    /// Records a problem with the value at the current location.
    public mutating func fail(_ type: String, _ message: String, input: JSONValue?, ctx: JSONObject? = nil) {
        issues.append(ValidationIssue(type: type, loc: location, msg: message, input: input, ctx: ctx))
    }

    /// Records that the value at the current location is missing; `input` is what held it (the
    /// enclosing object for a body field, `null` for a parameter).
    public mutating func missing(input: JSONValue? = nil) {
        fail("missing", "Field required", input: input ?? .null)
    }

    /// Runs `body` with `element` appended to the location.
    public mutating func at<T>(_ element: ValidationIssue.LocationElement, _ body: (inout Self) -> T) -> T {
        location.append(element)
        defer { location.removeLast() }
        return body(&self)
    }

    /// `text` as a `T` read from `location`, or the 422 saying why it is not one.
    static func convert<T: TextInput>(
        _ text: String, to type: T.Type, at location: [ValidationIssue.LocationElement]
    ) throws(ValidationError) -> T {
        var context = ValidationContext(location: location)
        guard let value = T.decode(text: text, in: &context) else { throw ValidationError(context.issues) }
        return value
    }

    /// Throws the 422 for the problems found, if any.
    public func finish() throws(ValidationError) {
        if !issues.isEmpty { throw ValidationError(issues) }
    }
}

/// Limits on a declared value, checked after it has been converted: numeric bounds, string
/// length and pattern, and list length (Pydantic's `min_length`/`max_length` count list items).
public struct Constraints: Sendable {
    /// Exclusive lower bound.
    public var gt: Double?
    /// Inclusive lower bound.
    public var ge: Double?
    /// Exclusive upper bound.
    public var lt: Double?
    /// Inclusive upper bound.
    public var le: Double?
    /// The value must be a multiple of this.
    public var multipleOf: Double?
    /// Fewest characters (strings, counted in Unicode scalars as Python counts) or items (lists).
    public var minLength: Int?
    /// Most characters or items.
    public var maxLength: Int?
    /// A regular expression the string must contain a match for (anchor it with `^…$`).
    public let pattern: Pattern?

    /// Constraints from their parts; all optional.
    public init(
        gt: Double? = nil, ge: Double? = nil, lt: Double? = nil, le: Double? = nil, multipleOf: Double? = nil,
        minLength: Int? = nil, maxLength: Int? = nil, pattern: String? = nil
    ) {
        self.gt = gt
        self.ge = ge
        self.lt = lt
        self.le = le
        self.multipleOf = multipleOf
        self.minLength = minLength
        self.maxLength = maxLength
        self.pattern = pattern.map(Pattern.init)
    }

    /// Whether nothing is constrained.
    public var isEmpty: Bool {
        gt == nil && ge == nil && lt == nil && le == nil && multipleOf == nil && minLength == nil
            && maxLength == nil && pattern == nil
    }

    /// A compiled regular expression, kept with its source for messages and the schema.
    public struct Pattern: Sendable {
        /// The expression as written.
        public let source: String
        private let compiled: Compiled?

        init(_ source: String) {
            self.source = source
            // `$` ends the text in Pydantic's (Rust) regular expressions; in ICU's it also matches
            // before a final newline, so a trailing `$` becomes `\z`.
            var pattern = source
            if pattern.hasSuffix("$") && !pattern.hasSuffix("\\$") { pattern = pattern.dropLast() + "\\z" }
            self.compiled = (try? NSRegularExpression(pattern: pattern)).map(Compiled.init)
        }

        /// Whether the expression compiled.
        public var isValid: Bool { compiled != nil }

        /// Whether `text` contains a match (Pydantic's search semantics).
        func matches(_ text: String) -> Bool {
            guard let regex = compiled?.regex else { return false }
            return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        }

        // Sendable: NSRegularExpression is immutable once made and documented as safe to use
        // from several threads at once.
        private final class Compiled: @unchecked Sendable {
            let regex: NSRegularExpression
            init(_ regex: NSRegularExpression) { self.regex = regex }
        }
    }

    /// Checks a number, reporting the first bound it breaks in Pydantic's order (`multiple_of`,
    /// `le`, `lt`, `ge`, `gt`): one problem per value, as Pydantic reports.
    func checkNumber(_ value: Double, input: JSONValue, in context: inout ValidationContext) {
        if let multipleOf, multipleOf != 0 {
            let remainder = value.truncatingRemainder(dividingBy: multipleOf)
            if remainder != 0 && abs(remainder) != abs(multipleOf) || value.isNaN {
                return context.fail(
                    "multiple_of", "Input should be a multiple of \(Self.format(multipleOf))", input: input,
                    ctx: ["multiple_of": .number(multipleOf)])
            }
        }
        if let le, !(value <= le) {
            return context.fail(
                "less_than_equal", "Input should be less than or equal to \(Self.format(le))", input: input,
                ctx: ["le": .number(le)])
        }
        if let lt, !(value < lt) {
            return context.fail(
                "less_than", "Input should be less than \(Self.format(lt))", input: input, ctx: ["lt": .number(lt)])
        }
        if let ge, !(value >= ge) {
            return context.fail(
                "greater_than_equal", "Input should be greater than or equal to \(Self.format(ge))", input: input,
                ctx: ["ge": .number(ge)])
        }
        if let gt, !(value > gt) {
            return context.fail(
                "greater_than", "Input should be greater than \(Self.format(gt))", input: input,
                ctx: ["gt": .number(gt)])
        }
    }

    /// Checks a string's length (in Unicode scalars, as Python counts) and pattern, reporting the
    /// first problem.
    func checkString(_ value: String, in context: inout ValidationContext) {
        guard minLength != nil || maxLength != nil || pattern != nil else { return }
        let length = value.unicodeScalars.count
        if let minLength, length < minLength {
            return context.fail(
                "string_too_short", "String should have at least \(Self.count(minLength, "character"))",
                input: .string(value), ctx: ["min_length": .int(minLength)])
        }
        if let maxLength, length > maxLength {
            return context.fail(
                "string_too_long", "String should have at most \(Self.count(maxLength, "character"))",
                input: .string(value), ctx: ["max_length": .int(maxLength)])
        }
        if let pattern, !pattern.matches(value) {
            context.fail(
                "string_pattern_mismatch", "String should match pattern '\(pattern.source)'", input: .string(value),
                ctx: ["pattern": .string(pattern.source)])
        }
    }

    /// Checks a list's length, reporting the first problem.
    func checkCount(_ count: Int, input: @autoclosure () -> JSONValue, in context: inout ValidationContext) {
        if let minLength, count < minLength {
            return context.fail(
                "too_short",
                "List should have at least \(Self.count(minLength, "item")) after validation, not \(count)",
                input: input(),
                ctx: ["field_type": "List", "min_length": .int(minLength), "actual_length": .int(count)])
        }
        if let maxLength, count > maxLength {
            context.fail(
                "too_long", "List should have at most \(Self.count(maxLength, "item")) after validation, not \(count)",
                input: input(),
                ctx: ["field_type": "List", "max_length": .int(maxLength), "actual_length": .int(count)])
        }
    }

    /// A bound as Python prints it: `0` for whole numbers, `0.5` otherwise.
    static func format(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }

    private static func count(_ value: Int, _ noun: String) -> String {
        value == 1 ? "1 \(noun)" : "\(value) \(noun)s"
    }
}
