/// Checks UTF-8 (RFC 3629) incrementally, byte by byte across any number of pieces, so a
/// WebSocket text message can be refused (close code 1007) at the first byte that cannot
/// belong to valid UTF-8, even in the middle of a fragment: overlong forms, surrogates
/// (U+D800–U+DFFF), code points above U+10FFFF, stray continuation bytes and bytes that never
/// occur are all caught where they appear.
struct UTF8Validator: Sendable {
    /// Continuation bytes still expected for the current character.
    private var remaining = 0
    /// The allowed range of the next byte (narrower than 0x80...0xBF right after some leads).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// True when the bytes so far end on a character boundary (a message may end here).
    var isComplete: Bool { remaining == 0 }

    /// Reads `bytes`; false at the first byte that makes the text invalid (the validator must
    /// not be used after that).
    mutating func validate(_ bytes: some Sequence<UInt8>) -> Bool {
        for byte in bytes {
            if remaining == 0 {
                switch byte {
                case 0x00...0x7F: continue
                case 0xC2...0xDF: expect(1, 0x80, 0xBF)
                case 0xE0: expect(2, 0xA0, 0xBF)  // no overlong 3-byte forms
                case 0xE1...0xEC, 0xEE...0xEF: expect(2, 0x80, 0xBF)
                case 0xED: expect(2, 0x80, 0x9F)  // no surrogates
                case 0xF0: expect(3, 0x90, 0xBF)  // no overlong 4-byte forms
                case 0xF1...0xF3: expect(3, 0x80, 0xBF)
                case 0xF4: expect(3, 0x80, 0x8F)  // nothing above U+10FFFF
                default: return false  // continuation bytes, C0, C1, F5...FF
                }
            } else {
                guard byte >= lower && byte <= upper else { return false }
                remaining -= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }

    private mutating func expect(_ count: Int, _ lower: UInt8, _ upper: UInt8) {
        remaining = count
        self.lower = lower
        self.upper = upper
    }
}
