import NIOCore
import Testing

@testable import FasterAPI

/// Flattens decoded pairs so they can be compared with `==`.
private func pairs(_ input: String) throws(FormDecodingError) -> [[String]] {
    try FormURLEncoded.parse(Array(input.utf8)).map { [$0.0, $0.1] }
}

@Suite("FormURLEncoded")
struct FormURLEncodedTests {
    @Test func decodesSimplePairs() throws {
        #expect(try pairs("a=1&b=2") == [["a", "1"], ["b", "2"]])
    }

    @Test func emptyInputGivesNoPairs() throws {
        #expect(try pairs("") == [])
    }

    @Test func plusIsSpaceAndPercentEscapesDecode() throws {
        #expect(try pairs("q=hello+world%21&sum=1%2B1") == [["q", "hello world!"], ["sum", "1+1"]])
        #expect(try pairs("first+name=J%C3%BCrgen") == [["first name", "Jürgen"]])
    }

    @Test func hexDigitsAreCaseInsensitive() throws {
        #expect(try pairs("e=%e2%82%ac&E=%E2%82%AC&m=%e2%82%AC") == [["e", "€"], ["E", "€"], ["m", "€"]])
    }

    @Test func keyWithoutEqualsHasEmptyValue() throws {
        #expect(try pairs("flag&a=1&other") == [["flag", ""], ["a", "1"], ["other", ""]])
    }

    @Test func emptyPairsAreSkipped() throws {
        #expect(try pairs("&&a=1&&&b=&") == [["a", "1"], ["b", ""]])
    }

    @Test func emptyNameIsKept() throws {
        #expect(try pairs("=x&=") == [["", "x"], ["", ""]])
    }

    @Test func repeatedKeysArePreservedInOrder() throws {
        #expect(try pairs("tag=b&x=1&tag=a&tag=c") == [["tag", "b"], ["x", "1"], ["tag", "a"], ["tag", "c"]])
    }

    @Test func onlyTheFirstEqualsSplits() throws {
        #expect(try pairs("expr=a=b%3Dc&k==") == [["expr", "a=b=c"], ["k", "="]])
    }

    @Test func encodedSeparatorsDoNotSplit() throws {
        #expect(try pairs("a=x%26y%3Dz&b%26c=1") == [["a", "x&y=z"], ["b&c", "1"]])
    }

    @Test(arguments: ["a=%zz", "a=%4", "a=%", "a=%%41", "a=%G1", "a=1%", "%zz=1", "k%4=v", "ok=1&bad=%2", "a=%4%41"])
    func invalidEscapesThrow(_ input: String) {
        #expect(throws: FormDecodingError.self) { try FormURLEncoded.parse(Array(input.utf8)) }
    }

    @Test func errorSaysWhichComponentWasInvalid() {
        #expect(throws: FormDecodingError(reason: "invalid percent-encoding in form field value")) {
            try FormURLEncoded.parse(Array("a=%zz".utf8))
        }
        #expect(throws: FormDecodingError(reason: "invalid percent-encoding in form field name")) {
            try FormURLEncoded.parse(Array("%z=1".utf8))
        }
    }

    @Test func invalidUTF8IsReplaced() throws {
        #expect(try pairs("a=%FF&b=x%C3") == [["a", "\u{FFFD}"], ["b", "x\u{FFFD}"]])
    }

    @Test func rawUTF8PassesThrough() throws {
        #expect(try pairs("名前=値+です") == [["名前", "値 です"]])
    }

    @Test func nulAndControlBytesDecode() throws {
        #expect(try pairs("a=%00%0D%0A") == [["a", "\u{0}\r\n"]])
    }

    @Test func acceptsAnyByteCollection() throws {
        let text = "a=1+2&b=%41"
        let expected = [["a", "1 2"], ["b", "A"]]
        let array = Array(text.utf8)
        #expect(try FormURLEncoded.parse(array).map { [$0.0, $0.1] } == expected)
        #expect(try FormURLEncoded.parse(text.utf8).map { [$0.0, $0.1] } == expected)
        let padded = Array("xx\(text)yy".utf8)
        #expect(try FormURLEncoded.parse(padded[2..<(padded.count - 2)]).map { [$0.0, $0.1] } == expected)
        let buffer = ByteBuffer(string: text)
        #expect(try FormURLEncoded.parse(buffer.readableBytesView).map { [$0.0, $0.1] } == expected)
        // Not contiguous: exercises the copying fallback.
        let lazy = array.lazy.map { $0 }
        #expect(try FormURLEncoded.parse(lazy).map { [$0.0, $0.1] } == expected)
    }

    @Test func percentDecodeWithoutPlusAsSpace() {
        #expect(FormURLEncoded.percentDecode("a%20b+c", plusAsSpace: false) == "a b+c")
        #expect(FormURLEncoded.percentDecode("a%2Fb", plusAsSpace: false) == "a/b")
        #expect(FormURLEncoded.percentDecode("plain", plusAsSpace: false) == "plain")
        #expect(FormURLEncoded.percentDecode("", plusAsSpace: false) == "")
    }

    @Test func percentDecodeWithPlusAsSpace() {
        #expect(FormURLEncoded.percentDecode("a%20b+c%2B", plusAsSpace: true) == "a b c+")
    }

    @Test(arguments: ["%", "%2", "%zz", "ab%", "a%g0", "%%"])
    func percentDecodeRejectsInvalidEscapes(_ input: String) {
        #expect(FormURLEncoded.percentDecode(input[...], plusAsSpace: false) == nil)
        #expect(FormURLEncoded.percentDecode(input[...], plusAsSpace: true) == nil)
    }

    @Test func percentDecodeOfSubstringUsesOnlyTheSlice() {
        let path = "/users/J%C3%BCrgen%20M/items"
        let segments = path.split(separator: "/")
        #expect(FormURLEncoded.percentDecode(segments[1], plusAsSpace: false) == "Jürgen M")
        #expect(FormURLEncoded.percentDecode(segments[2], plusAsSpace: false) == "items")
    }

    @Test func percentDecodeRepairsInvalidUTF8() {
        #expect(FormURLEncoded.percentDecode("%C3%28", plusAsSpace: false) == "\u{FFFD}(")
    }

    @Test func percentDecodeBytes() {
        #expect(FormURLEncoded.percentDecodeBytes(Array("%E2%82%AC x".utf8)) == [0xE2, 0x82, 0xAC, 0x20, 0x78])
        #expect(FormURLEncoded.percentDecodeBytes(Array("%E".utf8)) == nil)
        #expect(FormURLEncoded.percentDecodeBytes(Array("a+b".utf8)) == Array("a+b".utf8))
    }
}
