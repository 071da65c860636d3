import Foundation
import NIOCore
import Testing

@testable import FasterAPI

// MARK: - Fixtures (file-level so exit tests can use them without captures)

private struct Leaf: Codable, Equatable, Sendable {
    let a: String
    let b: [Int]
}

private struct Tree: Codable, Equatable, Sendable {
    let id: Int
    let leaf: Leaf
    let leaves: [Leaf]
    let matrix: [[Int]]
    let map: [String: Leaf]
    let empty: [String]
    let emptyMap: [String: Int]
}

private enum Color: String, Codable, Sendable {
    case red
    case darkBlue = "dark-blue"
}

private enum Level: Int, Codable, Sendable {
    case low = 1
    case high = 3
}

private enum Shape: Encodable, Sendable {
    case circle(radius: Double)
    case square(Double)
    case none
}

private class Animal: Encodable, @unchecked Sendable {
    // Sendable: immutable after init.
    let name: String
    let legs: Int
    init(name: String, legs: Int) {
        self.name = name
        self.legs = legs
    }
}

/// Encodes the superclass into its own container first, then its own field.
private final class Dog: Animal, @unchecked Sendable {
    let breed: String
    private enum Keys: String, CodingKey { case breed }
    init(name: String, breed: String) {
        self.breed = breed
        super.init(name: name, legs: 4)
    }
    override func encode(to encoder: any Encoder) throws {
        try super.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(breed, forKey: .breed)
    }
}

/// Encodes its own field first, then the superclass into the same container.
private final class Cat: Animal, @unchecked Sendable {
    let indoor: Bool
    private enum Keys: String, CodingKey { case indoor }
    init(name: String, indoor: Bool) {
        self.indoor = indoor
        super.init(name: name, legs: 4)
    }
    override func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(indoor, forKey: .indoor)
        try super.encode(to: encoder)
    }
}

/// Encodes the superclass under "super" with `superEncoder()`, as Foundation's docs suggest.
private final class Bird: Animal, @unchecked Sendable {
    let canFly: Bool
    private enum Keys: String, CodingKey { case canFly = "can_fly" }
    init(name: String, canFly: Bool) {
        self.canFly = canFly
        super.init(name: name, legs: 2)
    }
    override func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(canFly, forKey: .canFly)
        try super.encode(to: container.superEncoder())
    }
}

/// A custom `encode(to:)` with nested keyed and unkeyed containers.
private struct Location: Encodable, Sendable {
    let name: String
    let lat: Double
    let lon: Double

    private enum Keys: String, CodingKey { case name, coords, history, after }
    private enum CoordinateKeys: String, CodingKey { case lat, lon }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(name, forKey: .name)
        var coords = container.nestedContainer(keyedBy: CoordinateKeys.self, forKey: .coords)
        try coords.encode(lat, forKey: .lat)
        try coords.encode(lon, forKey: .lon)
        var history = container.nestedUnkeyedContainer(forKey: .history)
        try history.encode(1)
        var point = history.nestedContainer(keyedBy: CoordinateKeys.self)
        try point.encode(0.5, forKey: .lat)
        var pair = history.nestedUnkeyedContainer()
        try pair.encode("x")
        try pair.encodeNil()
        try history.encode(2)
        try container.encode(true, forKey: .after)
    }
}

/// Creates a nested container, writes to the parent, then fills the nested one — legal for
/// `Encoder` implementations and handled by Foundation's `JSONEncoder`.
private struct Interleaved: Encodable, Sendable {
    private enum Keys: String, CodingKey { case coords, name }
    private enum CoordinateKeys: String, CodingKey { case lat }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        var coords = container.nestedContainer(keyedBy: CoordinateKeys.self, forKey: .coords)
        try container.encode("HQ", forKey: .name)
        try coords.encode(1.5, forKey: .lat)
    }
}

private struct Meters: Encodable, Sendable {
    let value: Double
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

private struct Optionals: Encodable, Sendable {
    let a: Int?
    let b: String?
    let c: [Int?]
    let d: Leaf?
    let e: Double?
}

/// Tests of the order-preserving streaming JSON encoder.
@Suite("JSONWriter")
struct JSONWriterTests {
    private func json(_ value: some Encodable) throws -> String { try JSONWriter.string(value) }

    /// Parses `text` with Foundation, proving it is valid JSON.
    private func parse(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    @Test func nestedStructsArraysAndDictionaries() throws {
        let tree = Tree(
            id: 1, leaf: Leaf(a: "x", b: [1, 2]), leaves: [Leaf(a: "y", b: []), Leaf(a: "z", b: [3])],
            matrix: [[1, 2], [], [3]], map: ["k": Leaf(a: "m", b: [0])], empty: [], emptyMap: [:])
        let text = try json(tree)
        #expect(
            text
                == #"{"id":1,"leaf":{"a":"x","b":[1,2]},"leaves":[{"a":"y","b":[]},{"a":"z","b":[3]}],"matrix":[[1,2],[],[3]],"map":{"k":{"a":"m","b":[0]}},"empty":[],"emptyMap":{}}"#
        )
        #expect(try JSONDecoder().decode(Tree.self, from: Data(text.utf8)) == tree)
    }

    @Test func dictionariesWithSeveralKeys() throws {
        let map = ["one": 1, "two": 2, "three": 3, "four": 4]
        #expect(try parse(json(map)) as? [String: Int] == map)
        #expect(try json([7: "seven"]) == #"{"7":"seven"}"#)
        let nested: [String: [String: [Int]]] = ["a": ["x": [1], "y": []], "b": [:]]
        #expect(try JSONDecoder().decode([String: [String: [Int]]].self, from: Data(json(nested).utf8)) == nested)
        #expect(try json([["a": 1]]) == #"[{"a":1}]"#)
    }

    @Test func topLevelScalarsAndEmptyContainers() throws {
        #expect(try json("text") == #""text""#)
        #expect(try json(42) == "42")
        #expect(try json(true) == "true")
        #expect(try json([Int]()) == "[]")
        #expect(try json([String: Int]()) == "{}")
        #expect(try json(Optional<Int>.none) == "null")
    }

    @Test func stringEscaping() throws {
        let value = "q\"b\\s/n\nt\tr\rbell\u{07}nul\u{00}us\u{1F}del\u{7F}é€😀"
        let text = try json(value)
        #expect(text == #""q\"b\\s/n\nt\tr\rbell\u0007nul\u0000us\u001fdel\#u{7F}é€😀""#)
        #expect(try parse(text) as? String == value)
        // Keys are escaped the same way.
        let key = try json(["a\"b\\c\n": 1])
        #expect(key == #"{"a\"b\\c\n":1}"#)
        #expect(try parse(key) as? [String: Int] == ["a\"b\\c\n": 1])
        // Every control character round-trips.
        let controls = String(String.UnicodeScalarView((0..<0x20).compactMap { Unicode.Scalar(UInt32($0)) }))
        #expect(try parse(json(controls)) as? String == controls)
    }

    @Test func doublesAreShortestRoundTripAndValidJSON() throws {
        let values: [Double] = [
            0.1, 1.5, -2.25, 100, 0, -0.5, 1e21, 1e-7, 123_456_789.125, .greatestFiniteMagnitude, 5e-324,
        ]
        let text = try json(values)
        let parsed = try #require(try parse(text) as? [Double])
        #expect(parsed == values)
        #expect(try json(0.1) == "0.1")
        #expect(try json(1.5) == "1.5")
        #expect(try json(-2.25) == "-2.25")
        #expect(try json(Leaf(a: "", b: [])) == #"{"a":"","b":[]}"#)
    }

    @Test func floatsKeepTheirShortRepresentation() throws {
        struct Reading: Encodable { let value: Float }
        // Foundation's JSONEncoder writes 0.1 here; widening to Double first would give 0.10000000149011612.
        #expect(try json(Reading(value: 0.1)) == #"{"value":0.1}"#)
        #expect(try json([Float(1.1), 2.5]) == "[1.1,2.5]")
    }

    @Test func integersAtTheirLimits() throws {
        struct Ints: Encodable {
            let min = Int.min
            let max = UInt64.max
            let small = Int8(-5)
            let byte = UInt8(255)
            let zero = 0
            let nine = 9
            let ten = 10
        }
        #expect(
            try json(Ints())
                == #"{"min":-9223372036854775808,"max":18446744073709551615,"small":-5,"byte":255,"zero":0,"nine":9,"ten":10}"#
        )
    }

    @Test func datesAreISO8601() throws {
        struct Event: Encodable { let at: Date }
        let text = try json(Event(at: Date(timeIntervalSince1970: 1_700_000_000.5)))
        let object = try #require(try parse(text) as? [String: String])
        let value = try #require(object["at"])
        #expect(value.hasPrefix("2023-11-14T22:13:20"), "\(value)")
        #expect(value.hasSuffix("Z"), "\(value)")
        let parsed = try Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(value)
        #expect(abs(parsed.timeIntervalSince1970 - 1_700_000_000.5) < 0.001)

        let epoch = try json(Date(timeIntervalSince1970: 0))
        #expect(epoch.hasPrefix("\"1970-01-01T00:00:00"), "\(epoch)")
    }

    @Test func dataURLAndDecimal() throws {
        struct Misc: Encodable {
            let data = Data([0, 1, 2, 250, 255])
            let url = URL(string: "https://example.com/a/b?c=d")!
            let amount = Decimal(string: "12.34")!
        }
        #expect(try json(Misc()) == #"{"data":"AAEC+v8=","url":"https://example.com/a/b?c=d","amount":12.34}"#)
    }

    @Test func nilIsNull() throws {
        let value = Optionals(a: nil, b: nil, c: [1, nil, 3], d: nil, e: nil)
        #expect(try json(value) == #"{"a":null,"b":null,"c":[1,null,3],"d":null,"e":null}"#)
        let present = Optionals(a: 1, b: "x", c: [], d: Leaf(a: "q", b: [1]), e: 0.5)
        #expect(try json(present) == #"{"a":1,"b":"x","c":[],"d":{"a":"q","b":[1]},"e":0.5}"#)
    }

    @Test func nonFiniteNumbersThrow() {
        struct Holder: Encodable { let value: Double }
        struct FloatHolder: Encodable { let value: Float }
        #expect(throws: EncodingError.self) { try JSONWriter.string(Holder(value: .nan)) }
        #expect(throws: EncodingError.self) { try JSONWriter.string(Holder(value: .infinity)) }
        #expect(throws: EncodingError.self) { try JSONWriter.string([1, -Double.infinity]) }
        #expect(throws: EncodingError.self) { try JSONWriter.string(Double.nan) }
        #expect(throws: EncodingError.self) { try JSONWriter.string(FloatHolder(value: .nan)) }
        #expect(throws: EncodingError.self) { try JSONWriter.string(["k": Double.infinity]) }
        #expect(throws: EncodingError.self) { try JSONWriter.string(Meters(value: .infinity)) }
    }

    @Test func enumsWithRawValuesAndAssociatedValues() throws {
        struct Paint: Encodable {
            let color: Color
            let level: Level
            let colors: [Color]
            let optional: Color?
        }
        #expect(
            try json(Paint(color: .darkBlue, level: .high, colors: [.red, .darkBlue], optional: nil))
                == #"{"color":"dark-blue","level":3,"colors":["red","dark-blue"],"optional":null}"#)
        #expect(try json(Color.red) == #""red""#)
        #expect(try json(Shape.circle(radius: 1.5)) == #"{"circle":{"radius":1.5}}"#)
        #expect(try json([Shape.square(2), .none]) == #"[{"square":{"_0":2.0}},{"none":{}}]"#)
    }

    @Test func classesEncodeTheirSuperclass() throws {
        #expect(try json(Animal(name: "Generic", legs: 0)) == #"{"name":"Generic","legs":0}"#)
        #expect(try json(Dog(name: "Rex", breed: "lab")) == #"{"name":"Rex","legs":4,"breed":"lab"}"#)
        #expect(try json(Cat(name: "Tom", indoor: true)) == #"{"indoor":true,"name":"Tom","legs":4}"#)
        #expect(
            try json(Bird(name: "Tweety", canFly: false)) == #"{"can_fly":false,"super":{"name":"Tweety","legs":2}}"#)
        // Inside other containers too.
        let animals: [Animal] = [Dog(name: "A", breed: "b"), Cat(name: "C", indoor: false)]
        #expect(try json(animals) == #"[{"name":"A","legs":4,"breed":"b"},{"indoor":false,"name":"C","legs":4}]"#)
    }

    @Test func customEncodeWithNestedContainers() throws {
        let text = try json(Location(name: "HQ", lat: 1.5, lon: -0.25))
        #expect(
            text
                == #"{"name":"HQ","coords":{"lat":1.5,"lon":-0.25},"history":[1,{"lat":0.5},["x",null],2],"after":true}"#
        )
        #expect(
            try json([Location(name: "a", lat: 0, lon: 0)]).hasPrefix(#"[{"name":"a","coords":{"lat":0.0,"lon":0.0}"#))
    }

    @Test func singleValueContainers() throws {
        struct Trip: Encodable {
            let distance: Meters
            let legs: [Meters]
        }
        #expect(
            try json(Trip(distance: Meters(value: 3.5), legs: [Meters(value: 1), Meters(value: 2.5)]))
                == #"{"distance":3.5,"legs":[1.0,2.5]}"#)
        #expect(try json(Meters(value: 7)) == "7.0")
    }

    @Test func customKeyNamesAndDeclarationOrder() throws {
        struct Account: Encodable {
            let zUserName: String
            let aCreatedAt: Int
            enum CodingKeys: String, CodingKey {
                case zUserName = "user_name"
                case aCreatedAt = "created_at"
            }
        }
        #expect(try json(Account(zUserName: "ann", aCreatedAt: 5)) == #"{"user_name":"ann","created_at":5}"#)
    }

    @Test func encodeAppendsToAnExistingBuffer() throws {
        var buffer = ByteBuffer(string: "data: ")
        try JSONWriter.encode(Leaf(a: "x", b: [1]), into: &buffer)
        buffer.writeString("\n")
        try JSONWriter.encode([1, 2], into: &buffer)
        #expect(String(buffer: buffer) == "data: {\"a\":\"x\",\"b\":[1]}\n[1,2]")
    }

    @Test func matchesFoundationForARoundTrip() throws {
        let tree = Tree(
            id: -7, leaf: Leaf(a: "ü\"\n", b: [Int.max, Int.min]), leaves: [], matrix: [[0]],
            map: ["": Leaf(a: "", b: [])], empty: ["a", ""], emptyMap: ["z": 0])
        let ours = try JSONDecoder().decode(Tree.self, from: Data(json(tree).utf8))
        let foundation = try JSONDecoder().decode(Tree.self, from: JSONEncoder().encode(tree))
        #expect(ours == foundation)
        #expect(ours == tree)
    }

    /// Runs in a child process: a crash there fails this test instead of the whole run.
    @Test func parentWrittenBetweenNestedContainerWrites() async {
        await #expect(processExitsWith: .success) {
            let text = try JSONWriter.string(Interleaved())
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            let coords = object?["coords"] as? [String: Any]
            guard coords?["lat"] as? Double == 1.5, object?["name"] as? String == "HQ" else {
                fatalError("wrong JSON: \(text)")
            }
        }
    }
}
