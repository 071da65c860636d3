import Testing

@testable import FasterAPIWebSocket

/// Valid and invalid sequences in the spirit of Autobahn's UTF-8 cases (6.x), each also split
/// at every byte: the verdict and the position of the first bad byte must not depend on how
/// the bytes arrive.
struct UTF8ValidatorTests {
    /// The index of the first byte found invalid (nil if none), and whether the text ends on a
    /// character boundary, feeding one byte at a time.
    static func check(_ bytes: [UInt8]) -> (failsAt: Int?, complete: Bool) {
        var validator = UTF8Validator()
        for (index, byte) in bytes.enumerated() where !validator.validate([byte]) {
            return (index, false)
        }
        return (nil, validator.isComplete)
    }

    static let valid: [[UInt8]] = [
        Array("Hello-µ@ßöäüàá-UTF-8!!".utf8),
        Array("κόσμε".utf8),
        [0x00], [0x7F], [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
        [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], [0xEF, 0xBF, 0xBE],
    ]

    /// Invalid sequences and the index of the byte that gives them away.
    static let invalid: [([UInt8], Int)] = [
        ([0x80], 0),  // lone continuation
        ([0xC0, 0xAF], 0),  // overlong '/', lead never valid
        ([0xC1, 0xBF], 0),
        ([0xE0, 0x80, 0xAF], 1),  // overlong 3-byte
        ([0xF0, 0x80, 0x80, 0xAF], 1),  // overlong 4-byte
        ([0xED, 0xA0, 0x80], 1),  // U+D800 surrogate
        ([0xED, 0xBF, 0xBF], 1),  // U+DFFF surrogate
        ([0xF4, 0x90, 0x80, 0x80], 1),  // U+110000
        ([0xF5, 0x80, 0x80, 0x80], 0),
        ([0xFE], 0), ([0xFF], 0),
        ([0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80, 0x65, 0x64], 12),
        ([0x61, 0xC2, 0x41], 2),  // a lead cut short by ASCII
    ]

    @Test(arguments: valid)
    func validTextIsAccepted(_ bytes: [UInt8]) {
        let result = Self.check(bytes)
        #expect(result.failsAt == nil && result.complete)
        var whole = UTF8Validator()
        let accepted = whole.validate(bytes)
        #expect(accepted && whole.isComplete)
    }

    @Test(arguments: invalid)
    func invalidTextFailsAtTheByteThatGivesItAway(_ bytes: [UInt8], _ index: Int) {
        #expect(Self.check(bytes).failsAt == index)
        var whole = UTF8Validator()
        let accepted = whole.validate(bytes)
        #expect(!accepted)
    }

    @Test func aCharacterCutAtTheEndIsIncompleteNotInvalid() {
        for bytes: [UInt8] in [[0xC2], [0xE0, 0xA0], [0xF0, 0x90, 0x80]] {
            let result = Self.check(bytes)
            #expect(result.failsAt == nil && !result.complete, "\(bytes)")
        }
    }

    /// Every code point's encoding (a sample across all lengths) is valid, split anywhere.
    @Test func everyScalarRoundTrips() {
        var validator = UTF8Validator()
        for value in stride(from: 0, through: 0x10FFFF, by: 97) {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let accepted = validator.validate(Array(String(Character(scalar)).utf8))
            #expect(accepted, "U+\(String(value, radix: 16))")
        }
        #expect(validator.isComplete)
    }
}
