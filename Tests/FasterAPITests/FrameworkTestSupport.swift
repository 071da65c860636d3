import CCompressZlib
import Foundation
import NIOCore
import Testing

@testable import FasterAPI

/// Shared helpers for the framework-layer suites (router, requests, responses, middleware…).
enum FrameworkTestSupport {
    /// `{"detail": "…"}`, FastAPI's shape for plain HTTP errors.
    struct DetailBody: Decodable, Equatable {
        let detail: String
    }

    /// `{"detail": [issue, …]}`, FastAPI's shape for validation errors.
    struct ValidationBody: Decodable {
        let detail: [Issue]
    }

    /// One Pydantic v2-style validation issue as a client decodes it.
    struct Issue: Decodable {
        let type: String
        let loc: [LocationElement]
        let msg: String
        let input: String?
    }

    /// A `loc` element: a field name or an array index.
    enum LocationElement: Decodable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
        case key(String)
        case index(Int)

        init(stringLiteral value: String) { self = .key(value) }
        init(integerLiteral value: Int) { self = .index(value) }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let index = try? container.decode(Int.self) {
                self = .index(index)
            } else {
                self = .key(try container.decode(String.self))
            }
        }
    }

    /// A new empty directory under the system's temporary directory.
    static func makeTemporaryDirectory(_ name: String = #function) throws -> URL {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("fasterapi-tests-\(safe)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Inflates a gzip (`gzip: true`) or zlib (`gzip: false`, HTTP's `deflate`) stream with the
    /// system zlib directly, so the check does not depend on the compressor under test.
    static func inflate(_ compressed: [UInt8], gzip: Bool) throws -> [UInt8] {
        struct InflateError: Error { let code: Int32 }
        var stream = z_stream()
        // 15-bit window; +16 accepts only the gzip wrapper, plain 15 only the zlib wrapper.
        var status = CCompressZlib_inflateInit2(&stream, gzip ? 15 + 16 : 15)
        guard status == Z_OK else { throw InflateError(code: status) }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var input = compressed
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        try input.withUnsafeMutableBufferPointer { inputBuffer in
            stream.next_in = inputBuffer.baseAddress
            stream.avail_in = UInt32(inputBuffer.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { out -> Int in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    status = CCompressZlib.inflate(&stream, Z_NO_FLUSH)
                    return out.count - Int(stream.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END else { throw InflateError(code: status) }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_OK && produced == 0 && stream.avail_in == 0 { throw InflateError(code: Z_BUF_ERROR) }
            } while status != Z_STREAM_END
        }
        return output
    }
}

extension TestResponse {
    /// The body's bytes.
    var bodyBytes: [UInt8] { Array(body.readableBytesView) }
}
