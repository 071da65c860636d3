import Foundation
import PeerSupport
import NIOCore
import Testing

@testable import FasterAPI

// MARK: - Helpers

private func parse(_ text: String, maxDepth: Int = 512) throws(JSONParseError) -> JSONValue {
    try JSONValue.parse(text, maxDepth: maxDepth)
}

private func parse(bytes: [UInt8], maxDepth: Int = 512) throws(JSONParseError) -> JSONValue {
    let result = bytes.withUnsafeBytes { raw in
        Result { () throws(JSONParseError) in try JSONValue.parse(raw, maxDepth: maxDepth) }
    }
    return try result.get()
}

/// The error `text` fails with, or nil when it parses.
private func failure(_ bytes: [UInt8], maxDepth: Int = 512) -> JSONParseError? {
    do {
        _ = try parse(bytes: bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

private func failure(_ text: String, maxDepth: Int = 512) -> JSONParseError? {
    failure(Array(text.utf8), maxDepth: maxDepth)
}

/// Equality that also holds between two NaNs and tells -0.0 from 0.0.
private func same(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.double(let a), .double(let b)):
        return (a.isNaN && b.isNaN) || (a == b && a.sign == b.sign)
    case (.array(let a), .array(let b)):
        return a.count == b.count && zip(a, b).allSatisfy { same($0, $1) }
    case (.object(let a), .object(let b)):
        return a.members.count == b.members.count
            && zip(a.members, b.members).allSatisfy { $0.key == $1.key && same($0.value, $1.value) }
    default:
        return lhs == rhs
    }
}

// MARK: - Valid documents

@Test func parsesScalars() throws {
    #expect(try parse("null") == .null)
    #expect(try parse("true") == .bool(true))
    #expect(try parse("false") == .bool(false))
    #expect(try parse("0") == .int(0))
    #expect(try parse("-12") == .int(-12))
    #expect(try parse("1.5") == .double(1.5))
    #expect(try parse("\"hi\"") == .string("hi"))
    #expect(try parse("\"\"") == .string(""))
}

@Test func parsesContainers() throws {
    #expect(try parse("[]") == .array([]))
    #expect(try parse("{}") == .object(JSONObject()))
    #expect(
        try parse("[1, \"two\", [3], {\"four\": 4}, null]")
            == .array([
                .int(1), .string("two"), .array([.int(3)]), .object(JSONObject([("four", .int(4))])), .null,
            ]))
    let value = try parse(#"{"b": 1, "a": {"c": [true, false]}, "d": []}"#)
    guard case .object(let object) = value else {
        Issue.record("not an object: \(value)")
        return
    }
    #expect(object.members.map(\.key) == ["b", "a", "d"])
    #expect(object["a"] == .object(JSONObject([("c", .array([.bool(true), .bool(false)]))])))
    #expect(object["missing"] == nil)
}

@Test func keepsDuplicateKeysInOrderAndLooksUpTheLast() throws {
    guard case .object(let object) = try parse(#"{"a": 1, "b": 2, "a": 3}"#) else {
        Issue.record("not an object")
        return
    }
    #expect(object.members.map(\.key) == ["a", "b", "a"])
    #expect(object["a"] == .int(3))
}

@Test func acceptsPythonsNonFiniteConstants() throws {
    guard case .array(let values) = try parse("[NaN, Infinity, -Infinity]"), values.count == 3,
        case .double(let nan) = values[0]
    else {
        Issue.record("not three values")
        return
    }
    #expect(nan.isNaN)
    #expect(values[1] == .double(.infinity))
    #expect(values[2] == .double(-.infinity))
}

@Test func allowsPythonsWhitespaceEverywhere() throws {
    let value = try parse(" \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n[ \t\r\n1 \t\r\n, \t\r\n2 \t\r\n] \t\r\n} \t\r\n")
    #expect(value == .object(JSONObject([("a", .array([.int(1), .int(2)]))])))
    #expect(failure("\u{0C}1") == JSONParseError(message: "Expecting value", position: 0))
    #expect(failure("\u{A0}1") == JSONParseError(message: "Expecting value", position: 0))
}

@Test func skipsAUTF8ByteOrderMarkAndCountsPositionsAfterIt() throws {
    #expect(try parse(bytes: [0xEF, 0xBB, 0xBF] + Array("[1]".utf8)) == .array([.int(1)]))
    #expect(
        failure([0xEF, 0xBB, 0xBF] + Array("[1,]".utf8)) == JSONParseError(message: "Expecting value", position: 3))
}

@Test func stringBytesAndBufferEntryPointsAgree() throws {
    let text = #"{"name": "Zoë 😀", "n": [1, 2.5, -3e2]}"#
    #expect(try parse(text) == (try parse(bytes: Array(text.utf8))))
    var buffer = ByteBuffer(string: "xx" + text)
    buffer.moveReaderIndex(forwardBy: 2)
    #expect(try JSONValue.parse(buffer) == (try parse(text)))
    #expect(throws: JSONParseError(message: "Expecting value", position: 0)) { try JSONValue.parse(ByteBuffer()) }
}

// MARK: - Numbers

@Test func integersStayIntegersWhileTheyFit() throws {
    #expect(try parse("-0") == .int(0))
    #expect(try parse("9223372036854775807") == .int(.max))
    #expect(try parse("-9223372036854775808") == .int(.min))
    #expect(try parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
    #expect(try parse("-9223372036854775809") == .double(-0x1p63))
    #expect(try parse("18446744073709551616") == .double(18_446_744_073_709_551_616))
    #expect(try parse("123456789012345678901234567890") == .double(1.2345678901234568e29))
}

@Test func fractionsAndExponentsAreDoubles() throws {
    #expect(try parse("1E5") == .double(100_000))
    #expect(try parse("1e+2") == .double(100))
    #expect(try parse("25e-1") == .double(2.5))
    #expect(try parse("1.0") == .double(1))
    #expect(try parse("0.1") == .double(0.1))
    #expect(try parse("123.456e-7") == .double(123.456e-7))
    #expect(try parse("1.7976931348623157e308") == .double(.greatestFiniteMagnitude))
    #expect(try parse("5e-324") == .double(.leastNonzeroMagnitude))
    #expect(try parse("0e999999999999999999999") == .double(0))
    #expect(try parse("18446744073709551616.0") == .double(18_446_744_073_709_551_616))
    guard case .double(let negativeZero) = try parse("-0.0") else {
        Issue.record("-0.0 is not a double")
        return
    }
    #expect(negativeZero == 0 && negativeZero.sign == .minus)
}

@Test func outOfRangeFloatsSaturateAsPythonsFloatDoes() throws {
    #expect(try parse("1e400") == .double(.infinity))
    #expect(try parse("-1e400") == .double(-.infinity))
    #expect(try parse("1e-400") == .double(0))
    #expect(try parse("1" + String(repeating: "0", count: 400) + ".5") == .double(.infinity))
}

/// SplitMix64, so the generated numbers are the same on every run.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Test func readsDecimalsToTheCorrectlyRoundedDouble() throws {
    var generator = SeededGenerator(state: 2024)
    for _ in 0..<5000 {
        let digits = String(generator.next()).prefix(Int.random(in: 1...20, using: &generator))
        let point = Int.random(in: 0...digits.count, using: &generator)
        var text = String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
        if text.hasPrefix(".") { text = "0" + text }
        if text.hasSuffix(".") { text += "0" }
        if Bool.random(using: &generator) { text += "e\(Int.random(in: -30...30, using: &generator))" }
        let expected = try #require(Double(text))
        #expect(try parse(text) == .double(expected), "\(text)")
    }
}

@Test func limitsIntegerLiteralsToPythonsDigitCount() throws {
    let longest = String(repeating: "7", count: 4300)
    guard case .double = try parse(longest) else {
        Issue.record("4300 digits did not parse")
        return
    }
    let error = failure("[1, -" + longest + "1]")
    #expect(
        error?.message
            == "Exceeds the limit (4300 digits) for integer string conversion: value has 4301 digits; use sys.set_int_max_str_digits() to increase the limit"
    )
    #expect(error?.position == 4)
    #expect(error?.isSyntaxError == false)
    #expect(try parse(longest + "1.0") == .double(.infinity))
}

// MARK: - Strings

@Test func decodesEveryEscape() throws {
    #expect(try parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{08}\u{0C}\n\r\t"))
    #expect(try parse(#""caf\u00e9 \u20AC""#) == .string("café €"))
    #expect(try parse(#""\uD83D\uDE00 ok""#) == .string("😀 ok"))
    #expect(try parse(#""a\u0000b""#) == .string("a\u{0}b"))
    #expect(try parse(#""\ud800\u0041""#) == .string("\u{FFFD}A"))
}

@Test func replacesLoneSurrogatesWithTheReplacementCharacter() throws {
    #expect(try parse(#""\ud800""#) == .string("\u{FFFD}"))
    #expect(try parse(#""x\uDFFFy""#) == .string("x\u{FFFD}y"))
    #expect(try parse(#""\udc00\ud800""#) == .string("\u{FFFD}\u{FFFD}"))
    #expect(try parse(bytes: [0x22, 0x61, 0xED, 0xA0, 0x80, 0x62, 0x22]) == .string("a\u{FFFD}b"))
    #expect(try parse(bytes: [0x22, 0xED, 0xB0, 0x80, 0x5C, 0x6E, 0x22]) == .string("\u{FFFD}\n"))
}

@Test func keepsUnicodeText() throws {
    let text = "日本語 ключ Zoë 😀👍🏽 \u{7F}"
    #expect(try parse("\"\(text)\"") == .string(text))
    #expect(
        try parse("{\"\(text)\": \"\(text)\\n\(text)\"}") == .object(JSONObject([(text, .string(text + "\n" + text))])))
}

@Test func findsTheEndOfRunsAtEveryAlignment() throws {
    for length in 0..<40 {
        let body = String(repeating: "a", count: length)
        #expect(try parse("\"\(body)\"") == .string(body))
        #expect(try parse("\"\(body)\\n\(body)\"") == .string(body + "\n" + body))
        #expect(
            failure("\"\(body)\u{1F}\(body)\"")
                == JSONParseError(message: "Invalid control character at", position: length + 1))
        #expect(failure("\"\(body)") == JSONParseError(message: "Unterminated string starting at", position: 0))
    }
}

@Test func rejectsInvalidUTF8AnywhereFirst() throws {
    #expect(failure([0xFF]) == JSONParseError(message: JSONParseError.invalidUTF8Message, position: 0))
    #expect(
        failure(Array("[1,,".utf8) + [0xC3]) == JSONParseError(message: JSONParseError.invalidUTF8Message, position: 4))
    #expect(
        failure([0x22, 0xC0, 0x80, 0x22]) == JSONParseError(message: JSONParseError.invalidUTF8Message, position: 1))
    #expect(failure([0x22, 0x5C, 0x6E, 0xF4, 0x90, 0x80, 0x80, 0x22])?.message == JSONParseError.invalidUTF8Message)
    #expect(failure([0xFF])?.isSyntaxError == false)
}

@Test func readsUTF16AndUTF32WherePythonDoes() throws {
    let utf16LE: [UInt8] = [0xFF, 0xFE] + "[\"é😀\", 1]".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
    #expect(try parse(bytes: utf16LE) == .array([.string("é😀"), .int(1)]))
    let utf16BE: [UInt8] = "{\"a\": [ ]}".utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    #expect(try parse(bytes: utf16BE) == .object(JSONObject([("a", .array([]))])))
    let utf32LE: [UInt8] = "[\"ß\",]".unicodeScalars.flatMap { scalar in
        (0..<4).map { UInt8(truncatingIfNeeded: scalar.value >> (8 * $0)) }
    }
    #expect(failure(utf32LE) == JSONParseError(message: "Expecting value", position: 5))
    #expect(failure([0x5B, 0, 0x5D, 0, 0]) == JSONParseError(message: JSONParseError.invalidUTF16Message, position: 4))
    #expect(failure([0x5B, 0, 0x5D, 0, 0])?.isSyntaxError == false)
}

// MARK: - Errors

@Test func reportsPythonsMessagesAtCodePointPositions() {
    #expect(failure("") == JSONParseError(message: "Expecting value", position: 0))
    #expect(failure("[1 2]") == JSONParseError(message: "Expecting ',' delimiter", position: 3))
    #expect(failure("{\"a\" 1}") == JSONParseError(message: "Expecting ':' delimiter", position: 5))
    #expect(
        failure("{\"é\": 1,}")
            == JSONParseError(message: "Expecting property name enclosed in double quotes", position: 8))
    #expect(failure("[\"😀\", nul]") == JSONParseError(message: "Expecting value", position: 6))
    #expect(failure("\"日本\\q\"") == JSONParseError(message: "Invalid \\escape", position: 3))
    #expect(failure("\"\\u12G4\"") == JSONParseError(message: "Invalid \\uXXXX escape", position: 2))
    #expect(failure("\"éé\" x") == JSONParseError(message: "Extra data", position: 5))
    #expect(failure("[1,]")?.isSyntaxError == true)
}

@Test func limitsNestingAtTheOpeningBracket() throws {
    let deep = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
    #expect(try parse(deep) != .null)
    #expect(failure("[" + deep + "]") == JSONParseError(message: JSONParseError.nestingTooDeepMessage, position: 512))
    #expect(
        failure("{\"é\": [{\"a\": 1}]}", maxDepth: 2)
            == JSONParseError(message: JSONParseError.nestingTooDeepMessage, position: 7))
    #expect(try parse("{\"é\": [{\"a\": 1}]}", maxDepth: 3) != .null)
    #expect(failure("[]", maxDepth: 0)?.isSyntaxError == false)
    #expect(try parse("1", maxDepth: 0) == .int(1))
}

// MARK: - Round trips

/// JSON text for `value`, escaping only what JSON requires (a test oracle independent of the parser).
private func render(_ value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case .bool(let bool): return bool ? "true" : "false"
    case .int(let int): return String(int)
    case .double(let double):
        if double.isNaN { return "NaN" }
        if double.isInfinite { return double < 0 ? "-Infinity" : "Infinity" }
        return "\(double)"
    case .string(let string): return render(string)
    case .array(let values): return "[" + values.map(render).joined(separator: ",") + "]"
    case .object(let object):
        return "{" + object.members.map { render($0.key) + ":" + render($0.value) }.joined(separator: ",") + "}"
    }
}

private func render(_ string: String) -> String {
    var text = "\""
    for scalar in string.unicodeScalars {
        switch scalar {
        case "\"": text += "\\\""
        case "\\": text += "\\\\"
        case "\u{0}"..."\u{1F}": text += "\\u00" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
        default: text.unicodeScalars.append(scalar)
        }
    }
    return text + "\""
}

@Test func roundTripsThroughRenderedText() throws {
    let documents = [
        #"{"id":12345,"name":"Widget \"Deluxe\"","price":19.99,"tags":["a","b\n"],"active":true,"owner":null}"#,
        #"[[],{},[{}],-0,1e-7,1.5e300,-2.5E-300,"\u0001\u001f\u007f","😀 \u00e9",{"a":{"b":{"c":[1,2,3]}}}]"#,
        #"{"a":1,"a":2,"":{"":[]}}"#,
        #"[NaN,Infinity,-Infinity,-0.0,9223372036854775807,-9223372036854775808,1e22,1e23]"#,
    ]
    for document in documents {
        let value = try parse(document)
        let rendered = render(value)
        #expect(same(try parse(rendered), value), "\(document) → \(rendered)")
        #expect(render(try parse(rendered)) == rendered)
    }
}

// MARK: - Differential test against Python's json

/// Documents that fail (or nearly fail) in every way Python's `json.loads` knows, many with
/// multi-byte characters before the failure so positions are counted in code points.
private let handWrittenInputs: [[UInt8]] = {
    let texts: [String] = [
        // Structure
        "", " ", "\n\t ", "[", "{", "]", "}", "[1,]", "{\"a\":1,}", "{\"a\"", "{\"a\" 1}", "{\"a\":}", "[1 2]",
        "{\"a\":1 \"b\":2}", "{,}", "[,]", "{1:2}", "{'a':1}", "[1,,2]", "{\"a\":1,,}", "[[[]]", "[{]}",
        "{\"a\":[}", "1 2", "[] []", "{} x", "  [1,\n2,", "[[[[1]]]] ]", ":", "{\"a\":1}}", "[1]]",
        // Literals
        "nul", "tru", "fals", "nulll", "True", "NaN", "-NaN", "Infinity", "-Infinity", "-Infinit", "infinity",
        "[NaN, Infinity, -Infinity]", "nan", "[true,false,null]", "[tru]", "{\"a\":nul}",
        // Numbers
        "-", "-a", "01", "1.", "1e", "1e+", "1.5e+", "1.e5", "+1", ".5", "-0", "-0.0", "1E5", "1e400", "-1e400",
        "1e-400", "12345678901234567890", "-9223372036854775808", "9223372036854775807", "9223372036854775808",
        "[2.]", "0x10", "1_000", "[-]", "123.456e-7", "0.1", "1.7976931348623157e308", "5e-324", "[1e]", "[-01]",
        "-1.5E-3", "00", "[0.e1]", "1e5x", String(repeating: "9", count: 4300),
        "[" + String(repeating: "1", count: 4301) + "]", "-" + String(repeating: "2", count: 4400),
        // Strings
        "\"abc", "\"a\\", "\"\\x\"", "\"\\u12\"", "\"\\u1234", "\"\\u12G4\"", "\"\\ud800\\u12\"", "\"\\ud800\\u12G4\"",
        "\"\\ud800\\u\"", "\"\\ud800\\", "\"\\ud800\\x\"", "\"\\ud800\\udc00", "\"\\ud800\\udc0\"", "\"\\u 123\"",
        "\"\\u+123\"", "\"\\u0x12\"", "\"a\u{01}\"", "\"\t\"", "\"\\ud800\"", "\"\\uDFFF\"", "\"\\uD834\\uDD1E\"",
        "\"\\ud800\\u0041\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\u{7F}\"", "\"\\U0041\"",
        "\"\\u00e9\\ud800\\udbff\\udfff\"",
        "\"\\", "\"", "\"\\u\"", "\"\\ud800\\ud800\\udc00\"", "\"abc\\ndef\u{0A}\"",
        // Multi-byte characters before the failure
        "é", "\"éé\" x", "[\"日本語\", nul]", "{\"ключ\": \"значение\", }", "[\"😀😀\" 1]", "\"😀\\q\"", "\"日本\u{01}\"",
        "{\"é\":1 \"b\"}", "\"€€€", "[\"😀\", \"\\uZZZZ\"]", "\"é\\ud800\\u12\"", "{\"a\":\"ü\"}  x",
        "[1, 2, \"ñ\", 01]",
        "{\"👍🏽\": [\"ß\", {\"ø\" 1}]}", "[\"Ⅻ\", -]", "\"日本\\u12\"", "[\"𝄞\", 1.]", "{\"ü\": \"é\"} {}",
        "\"é\\ud800\\udc0\"",
        "  \u{3000}1", "[\"é\",\n\t\"😀\",\n\tx]", "{\"日\":{\"本\":[\"語\",]}}",
        // Whitespace Python does not skip
        "\u{0C}1", "1\u{0C}", "\u{A0}1", "[1,\u{0B}2]",
    ]
    var inputs = texts.map { Array($0.utf8) }
    let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
    inputs += [
        [0xFF], Array("[1,".utf8) + [0xFF], [0x22, 0xED, 0xA0, 0x80, 0x22], bom + Array("1".utf8), bom,
        bom + Array("[\"é\",]".utf8), Array("[\"a\", ".utf8) + [0xC3] + Array("]".utf8), [0xC0, 0x80],
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], Array("[".utf8) + [0x00] + Array("]".utf8),
        Array("[1, ".utf8) + [0] + Array("]".utf8),
        Array("\"a\" ".utf8) + [0xE2, 0x82], [0x22, 0xED, 0xBF, 0xBF, 0xED, 0xA0, 0x80, 0x22, 0x20, 0x78],
        Array("{\"".utf8) + [0xE0, 0x9F, 0x80] + Array("\":1}".utf8), Array("[1,,".utf8) + [0xC3],
        // Bytes Python reads as UTF-16 or UTF-32
        [0xFF, 0xFE], [0xFF, 0xFE, 0x5B, 0, 0x31, 0, 0x2C, 0, 0x5D, 0], [0, 0x5B], [0x5B, 0, 0x5D, 0, 0],
        [0x5B, 0, 0x5D, 0], [0, 0, 0, 0x5B, 0, 0, 0, 0x5D], [0xFF, 0xFE, 0, 0, 0x5B, 0, 0, 0],
        [0, 0xD8, 0x5B, 0], [0x22, 0, 0, 0xD8, 0x22, 0], [0x22, 0, 0x3D, 0xD8, 0, 0xDE, 0x22, 0],
        [0, 0, 0x11, 0], [0xFE, 0xFF, 0, 0x5B, 0, 0x5D], [0x31, 0], [0xFF, 0xFE, 0xFF, 0xFE, 0x31, 0],
        [0x22, 0, 0xE9, 0, 0x22, 0, 0x20, 0, 0x78, 0], [0, 0, 0, 0x31, 0, 0x11, 0, 0],
        [0xFF, 0xFE, 0, 0, 0x31, 0, 0, 0, 0x20], [0x7B, 0, 0x22, 0, 0x00, 0xDC, 0x22, 0, 0x7D, 0],
        bom + [0x31, 0xFF], bom + [0x22, 0xC3, 0xA9, 0xFF, 0x22],
    ]
    return inputs
}()

/// What the differential test feeds both parsers.
private let differentialInputs = handWrittenInputs + mutatedDocuments(count: 5000)

/// `count` documents made by inserting, deleting and replacing bytes in valid ones, the same on
/// every run: they reach corners a hand-written list misses.
private func mutatedDocuments(count: Int) -> [[UInt8]] {
    let seeds = [
        #"{"id": 12345, "name": "Widget \"Deluxe\"", "price": -19.99e-1, "tags": ["a", "é😀"], "ok": true}"#,
        #"[null, false, 0, -0.5, 1E+2, "\u00e9\ud83d\ude00\n", {"": []}, NaN, -Infinity]"#,
        #"  {"ключ" : [ 1 , 2 , { "日本" : "語\t" } ] , "x" : "\/\\" }  "#,
    ].map { Array($0.utf8) }
    let alphabet =
        Array(#"{}[]:,"\/ \#t\#n\#r0123456789.-+eEuUabfnrtxNIaly"#.utf8) + [
            0x00, 0x1F, 0x7F, 0xC3, 0xA9, 0xED, 0xA0, 0xFF,
        ]
    var generator = SeededGenerator(state: 7)
    var documents: [[UInt8]] = []
    for index in 0..<count {
        var document = seeds[index % seeds.count]
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            let position = Int.random(in: 0...document.count, using: &generator)
            let byte = alphabet.randomElement(using: &generator)!
            switch Int.random(in: 0..<3, using: &generator) {
            case 0: document.insert(byte, at: position)
            case 1 where position < document.count: document.remove(at: position)
            default: if position < document.count { document[position] = byte }
            }
        }
        documents.append(document)
    }
    return documents
}

/// Reads each base64 line, runs `json.loads` on the bytes and prints what happened as JSON.
private let differentialScript = """
    import base64, json, sys
    for line in open(sys.argv[1]):
        data = base64.b64decode(line.strip())
        try:
            out = {"kind": "ok", "dump": json.dumps(json.loads(data))}
        except json.JSONDecodeError as e:
            out = {"kind": "error", "msg": e.msg, "pos": e.pos}
        except UnicodeDecodeError as e:
            out = {"kind": "unicode", "pos": e.start, "msg": "Invalid " + e.encoding.upper()[:6].rstrip("-")}
        except RecursionError:
            out = {"kind": "recursion"}
        except ValueError as e:
            out = {"kind": "value", "msg": str(e)}
        print(json.dumps(out))
    """

private struct PythonOutcome: Decodable {
    var kind: String
    var msg: String?
    var pos: Int?
    var dump: String?
}

@Test func matchesPythonsJSONModule() async throws {
    #expect(handWrittenInputs.count >= 80)
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("jsonvalue-differential-\(UUID()).txt")
    try differentialInputs.map { Data($0).base64EncodedString() + "\n" }.joined().write(
        to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }

    let python = ProcessInfo.processInfo.environment["FASTERAPI_PYTHON"] ?? "python3"
    let output = try await Peers.run("/usr/bin/env", [python, "-c", differentialScript, file.path])
    try #require(output.status == 0, "\(python) failed: \(output.stderr)")

    let lines = output.stdout.split(separator: "\n")
    try #require(lines.count == differentialInputs.count)
    for (input, line) in zip(differentialInputs, lines) {
        let python = try JSONDecoder().decode(PythonOutcome.self, from: Data(line.utf8))
        let shown = String(decoding: input.prefix(60), as: UTF8.self).debugDescription
        let ours = Result { () throws(JSONParseError) in try parse(bytes: input) }
        switch (python.kind, ours) {
        case ("ok", .success(let value)):
            let expected = try parse(try #require(python.dump))
            #expect(same(value, expected), "\(shown): \(value) but Python read \(python.dump ?? "")")
        case ("error", .failure(let error)):
            #expect(error == JSONParseError(message: python.msg ?? "", position: python.pos ?? -1), "\(shown)")
            #expect(error.isSyntaxError, "\(shown)")
        case ("unicode", .failure(let error)):
            #expect(error == JSONParseError(message: python.msg ?? "", position: python.pos ?? -1), "\(shown)")
            #expect(!error.isSyntaxError, "\(shown)")
        case ("value", .failure(let error)):
            #expect(error.message == python.msg, "\(shown)")
            #expect(!error.isSyntaxError, "\(shown)")
        default:
            Issue.record("\(shown): Python says \(line), we say \(ours)")
        }
    }
}
