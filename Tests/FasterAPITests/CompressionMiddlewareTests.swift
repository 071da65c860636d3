import Foundation
import NIOCore
import Testing

@testable import FasterAPI

private typealias Support = FrameworkTestSupport

/// `CompressionMiddleware`: negotiation, what is skipped, and bytes that really decompress.
@Suite("CompressionMiddleware")
struct CompressionMiddlewareTests {
    private static let text: String = (1...200).map { "line \($0): the quick brown fox jumps over the lazy dog\n" }
        .joined()

    private static func app() -> App {
        let app = App()
        app.add(middleware: CompressionMiddleware(minimumSize: 500))
        app.get("/text") { _ in text }
        app.get("/small") { _ in "tiny" }
        app.get("/png") { _ in
            Response(
                headers: HTTPHeaders([("Content-Type", "image/png")]),
                body: ResponseBody(buffer: ByteBuffer(bytes: [UInt8](repeating: 7, count: 4000))))
        }
        app.get("/svg") { _ in
            Response(
                headers: HTTPHeaders([("Content-Type", "image/svg+xml")]),
                body: ResponseBody(string: "<svg>" + String(repeating: "<g/>", count: 400) + "</svg>"))
        }
        app.get("/encoded") { _ in
            Response(
                headers: HTTPHeaders([("Content-Type", "text/plain"), ("Content-Encoding", "br")]),
                body: ResponseBody(string: String(repeating: "x", count: 2000)))
        }
        app.get("/stream") { _ in
            StreamingResponse(contentType: "text/plain; charset=utf-8") { writer in
                for index in 1...300 {
                    try await writer.write("event \(index) with some repeated payload payload payload\n")
                }
            }
        }
        app.get("/tagged") { _ in
            Response(
                headers: HTTPHeaders([("Content-Type", "text/plain"), ("ETag", "\"v1\""), ("Vary", "Cookie")]),
                body: ResponseBody(string: text))
        }
        app.get("/nocontent") { _ in HTTPStatus.noContent }
        return app
    }

    private static func get(_ client: TestClient, _ path: String, acceptEncoding: String?) async throws -> TestResponse
    {
        try await client.get(path, headers: HTTPHeaders(acceptEncoding.map { [("Accept-Encoding", $0)] } ?? []))
    }

    private static func varies(_ response: TestResponse) -> Bool {
        response.headers.values(for: "vary").joined(separator: ",").lowercased().contains("accept-encoding")
    }

    @Test(arguments: TestMode.allCases)
    func gzipIsChosenAndDecompresses(_ mode: TestMode) async throws {
        try await Self.app().test(mode) { client throws in
            let response = try await Self.get(client, "/text", acceptEncoding: "gzip")
            #expect(response.status == .ok)
            #expect(response.headers["content-encoding"] == "gzip")
            #expect(response.headers["content-type"] == "text/plain; charset=utf-8")
            #expect(Self.varies(response))
            #expect(response.body.readableBytes < Self.text.utf8.count / 4)
            #expect(response.headers["content-length"] == String(response.body.readableBytes))
            #expect(Array(response.bodyBytes.prefix(2)) == [0x1F, 0x8B])
            let plain = try Support.inflate(response.bodyBytes, gzip: true)
            #expect(String(decoding: plain, as: UTF8.self) == Self.text)
        }
    }

    @Test(arguments: TestMode.allCases)
    func deflateIsTheZlibFormat(_ mode: TestMode) async throws {
        try await Self.app().test(mode) { client throws in
            let response = try await Self.get(client, "/text", acceptEncoding: "deflate")
            #expect(response.headers["content-encoding"] == "deflate")
            let plain = try Support.inflate(response.bodyBytes, gzip: false)
            #expect(String(decoding: plain, as: UTF8.self) == Self.text)
        }
    }

    @Test(arguments: TestMode.allCases)
    func negotiationFollowsQValues(_ mode: TestMode) async throws {
        try await Self.app().test(mode) { client throws in
            let cases: [(String, String?)] = [
                ("gzip;q=0.5, deflate;q=0.8", "deflate"),
                ("deflate;q=0.8, gzip;q=0.9", "gzip"),
                ("deflate, gzip", "gzip"),  // tie: gzip preferred
                ("GZIP", "gzip"),
                ("br, deflate", "deflate"),
                ("*", "gzip"),
                ("*;q=0.3, gzip;q=0.1", "deflate"),
                ("gzip;q=0, deflate", "deflate"),
                ("gzip;q=0", nil),
                ("identity", nil),
                ("*;q=0", nil),
                ("br", nil),
                ("", nil),
            ]
            for (accept, expected) in cases {
                let response = try await Self.get(client, "/text", acceptEncoding: accept)
                #expect(response.headers["content-encoding"] == expected, "\(accept)")
                #expect(Self.varies(response), "\(accept)")
                if expected == nil { #expect(response.text == Self.text, "\(accept)") }
            }
            let none = try await Self.get(client, "/text", acceptEncoding: nil)
            #expect(none.headers["content-encoding"] == nil)
            #expect(none.text == Self.text)
            #expect(Self.varies(none))
        }
    }

    @Test func negotiateUnit() {
        #expect(CompressionMiddleware.negotiate(["gzip;q=0.2", "deflate;q=0.1"]) == .gzip)
        #expect(CompressionMiddleware.negotiate(["deflate ; q=1.0"]) == .deflate)
        #expect(CompressionMiddleware.negotiate(["gzip; Q=0"]) == nil)
        #expect(CompressionMiddleware.negotiate([]) == nil)
    }

    @Test(arguments: TestMode.allCases)
    func smallAndIncompressibleBodiesAreLeftAlone(_ mode: TestMode) async throws {
        try await Self.app().test(mode) { client throws in
            let small = try await Self.get(client, "/small", acceptEncoding: "gzip")
            #expect(small.headers["content-encoding"] == nil)
            #expect(small.text == "tiny")

            let png = try await Self.get(client, "/png", acceptEncoding: "gzip")
            #expect(png.headers["content-encoding"] == nil)
            #expect(png.bodyBytes == [UInt8](repeating: 7, count: 4000))

            // SVG is text, so it is compressed.
            let svg = try await Self.get(client, "/svg", acceptEncoding: "gzip")
            #expect(svg.headers["content-encoding"] == "gzip")

            let encoded = try await Self.get(client, "/encoded", acceptEncoding: "gzip")
            #expect(encoded.headers["content-encoding"] == "br")
            #expect(encoded.text == String(repeating: "x", count: 2000))

            let empty = try await Self.get(client, "/nocontent", acceptEncoding: "gzip")
            #expect(empty.status == .noContent)
            #expect(empty.headers["content-encoding"] == nil)
        }
    }

    @Test(arguments: TestMode.allCases)
    func streamedBodiesAreCompressedAsTheyStream(_ mode: TestMode) async throws {
        let expected = (1...300).map { "event \($0) with some repeated payload payload payload\n" }.joined()
        try await Self.app().test(mode) { client throws in
            let gzip = try await Self.get(client, "/stream", acceptEncoding: "gzip")
            #expect(gzip.headers["content-encoding"] == "gzip")
            #expect(Self.varies(gzip))
            #expect(String(decoding: try Support.inflate(gzip.bodyBytes, gzip: true), as: UTF8.self) == expected)

            let deflate = try await Self.get(client, "/stream", acceptEncoding: "deflate")
            #expect(deflate.headers["content-encoding"] == "deflate")
            #expect(String(decoding: try Support.inflate(deflate.bodyBytes, gzip: false), as: UTF8.self) == expected)

            let identity = try await Self.get(client, "/stream", acceptEncoding: nil)
            #expect(identity.headers["content-encoding"] == nil)
            #expect(identity.text == expected)
        }
    }

    @Test(arguments: TestMode.allCases)
    func strongETagIsWeakenedAndVaryMerged(_ mode: TestMode) async throws {
        try await Self.app().test(mode) { client throws in
            let compressed = try await Self.get(client, "/tagged", acceptEncoding: "gzip")
            #expect(compressed.headers["content-encoding"] == "gzip")
            #expect(compressed.headers["etag"] == "W/\"v1\"")
            let vary = Set(
                compressed.headers.values(for: "vary").joined(separator: ",").split(separator: ",")
                    .map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
            #expect(vary == ["cookie", "accept-encoding"])

            let plain = try await Self.get(client, "/tagged", acceptEncoding: "identity")
            #expect(plain.headers["etag"] == "\"v1\"")
        }
    }

    @Test(arguments: TestMode.allCases)
    func partialContentIsNotCompressed(_ mode: TestMode) async throws {
        let directory = try Support.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("big.txt").path
        try Data(Self.text.utf8).write(to: URL(fileURLWithPath: path))
        let app = App()
        app.add(middleware: CompressionMiddleware())
        app.get("/file") { _ in FileResponse(path: path) }
        try await app.test(mode) { client throws in
            let range = try await client.get(
                "/file", headers: HTTPHeaders([("Accept-Encoding", "gzip"), ("Range", "bytes=0-99")]))
            #expect(range.status == .partialContent)
            #expect(range.headers["content-encoding"] == nil)
            #expect(range.text == String(Self.text.prefix(100)))

            let whole = try await client.get("/file", headers: HTTPHeaders([("Accept-Encoding", "gzip")]))
            #expect(whole.headers["content-encoding"] == "gzip")
            #expect(whole.headers["etag"]?.hasPrefix("W/") == true)
            #expect(String(decoding: try Support.inflate(whole.bodyBytes, gzip: true), as: UTF8.self) == Self.text)
        }
    }
}
