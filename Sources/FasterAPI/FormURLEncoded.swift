import FasterAPICore

/// The error thrown when `application/x-www-form-urlencoded` data or a query string cannot be decoded.
public struct FormDecodingError: Error, Sendable, Equatable {
    /// A human-readable description of what was wrong with the input.
    public let reason: String

    init(reason: String) {
        self.reason = reason
    }
}

/// Decoder for `application/x-www-form-urlencoded` bodies and URL query strings, plus the
/// percent-decoding primitive the router uses for path segments.
///
/// Pairs are separated by `&`; a pair without `=` yields an empty value; empty pairs are skipped;
/// repeated keys are kept in input order. `+` decodes to a space and `%XX` to the byte `XX`;
/// an invalid or truncated escape is an error. The decoded bytes are read as UTF-8, with
/// invalid sequences replaced by U+FFFD.
enum FormURLEncoded {
    /// Decodes form-urlencoded bytes (a request body or the query part of a URL, without `?`)
    /// into ordered name/value pairs.
    ///
    /// With `lenient`, a `%` that does not start a valid escape is kept as it is (what browsers
    /// and Starlette do for query strings) instead of failing the whole input.
    static func parse(_ bytes: some Collection<UInt8>, lenient: Bool = false) throws(FormDecodingError) -> [(
        String, String
    )] {
        let contiguous = bytes.withContiguousStorageIfAvailable { parsePairs($0, lenient: lenient) }
        let result = contiguous ?? Array(bytes).withUnsafeBufferPointer { parsePairs($0, lenient: lenient) }
        return try result.get()
    }

    /// Percent-decodes `s`, turning `+` into a space when `plusAsSpace` is true.
    ///
    /// Returns `nil` when `s` contains an invalid (`%zz`) or truncated (`%4`) escape. The decoded
    /// bytes are read as UTF-8, with invalid sequences replaced by U+FFFD.
    static func percentDecode(_ s: Substring, plusAsSpace: Bool) -> String? {
        var s = s
        return s.withUTF8 { decode($0, plusAsSpace: plusAsSpace) }
    }

    /// Percent-decodes `bytes` into raw bytes (no `+` handling, no UTF-8 interpretation).
    ///
    /// Returns `nil` on an invalid or truncated escape. Used for RFC 5987 extended parameters,
    /// whose charset is not always UTF-8.
    static func percentDecodeBytes(_ bytes: some Collection<UInt8>) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                output.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            output.append(high << 4 | low)
        }
        return output
    }

    // MARK: - Internals

    private static func parsePairs(_ input: UnsafeBufferPointer<UInt8>, lenient: Bool) -> Result<
        [(String, String)], FormDecodingError
    > {
        var pairs: [(String, String)] = []
        var start = 0
        let end = input.count
        while start < end {
            var pairEnd = start
            var equals = -1
            while pairEnd < end {
                let byte = input[pairEnd]
                if byte == UInt8(ascii: "&") { break }
                if byte == UInt8(ascii: "=") && equals < 0 { equals = pairEnd }
                pairEnd += 1
            }
            if pairEnd > start {
                let nameEnd = equals >= 0 ? equals : pairEnd
                let valueStart = equals >= 0 ? equals + 1 : pairEnd
                let nameBytes = UnsafeBufferPointer(rebasing: input[start..<nameEnd])
                let valueBytes = UnsafeBufferPointer(rebasing: input[valueStart..<pairEnd])
                guard let name = decode(nameBytes, plusAsSpace: true, lenient: lenient) else {
                    return .failure(FormDecodingError(reason: "invalid percent-encoding in form field name"))
                }
                guard let value = decode(valueBytes, plusAsSpace: true, lenient: lenient) else {
                    return .failure(FormDecodingError(reason: "invalid percent-encoding in form field value"))
                }
                pairs.append((name, value))
            }
            start = pairEnd + 1
        }
        return .success(pairs)
    }

    /// Decodes one component. Output is never longer than input, so it is written straight into
    /// the new string's storage; the string initialiser repairs invalid UTF-8.
    static func decode(_ input: UnsafeBufferPointer<UInt8>, plusAsSpace: Bool, lenient: Bool = false) -> String? {
        var needsDecoding = false
        for byte in input where byte == UInt8(ascii: "%") || (plusAsSpace && byte == UInt8(ascii: "+")) {
            needsDecoding = true
            break
        }
        guard needsDecoding else {
            return String(decoding: input, as: UTF8.self)
        }
        var valid = true
        let decoded = String(unsafeUninitializedCapacity: input.count) { output in
            var read = 0
            var written = 0
            let count = input.count
            while read < count {
                let byte = input[read]
                if byte == UInt8(ascii: "%") {
                    guard read + 2 < count, let high = hexValue(input[read + 1]), let low = hexValue(input[read + 2])
                    else {
                        if lenient {
                            output[written] = byte
                            read += 1
                            written += 1
                            continue
                        }
                        valid = false
                        return 0
                    }
                    output[written] = high << 4 | low
                    read += 3
                } else {
                    output[written] = plusAsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte
                    read += 1
                }
                written += 1
            }
            return written
        }
        return valid ? decoded : nil
    }
}
