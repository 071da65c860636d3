import Foundation
import NIOCore
import Testing

@testable import FasterAPI

/// Files from disk: validators, conditional requests, byte ranges and media types.
@Suite("FileResponse")
struct FileResponseTests {
    /// A directory with a 100-byte text file and a 200 000-byte binary file, both with a fixed
    /// modification time, and an app serving them.
    private struct Fixture {
        let directory: URL
        let text: [UInt8]
        let large: [UInt8]
        let app: App
        static let modified = Date(timeIntervalSince1970: 1_700_000_000)
        static let lastModified = "Tue, 14 Nov 2023 22:13:20 GMT"

        init(_ name: String = #function) throws {
            directory = try FrameworkTestSupport.makeTemporaryDirectory(name)
            text = Array((0..<100).map { UInt8(ascii: "a") + UInt8($0 % 26) })
            large = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 11) }
            let files: [(String, [UInt8])] = [
                ("data.txt", text), ("large.bin", large), ("image.png", [0x89, 0x50, 0x4E, 0x47]),
                ("style.CSS", Array("body{}".utf8)), ("noext", [1]), ("page.html", Array("<p>".utf8)),
                ("data.json", Array("{}".utf8)), ("thing.unknownext", [2]), ("empty.txt", []),
            ]
            for (file, bytes) in files {
                let url = directory.appendingPathComponent(file)
                try Data(bytes).write(to: url)
                try FileManager.default.setAttributes([.modificationDate: Self.modified], ofItemAtPath: url.path)
            }
            let app = App()
            let base = directory.path
            app.get("/files/{name}") { request in FileResponse(path: base + "/" + (try request.path("name"))) }
            app.post("/files/{name}") { request in FileResponse(path: base + "/" + (try request.path("name"))) }
            app.get("/download") { _ in
                FileResponse(
                    path: base + "/data.txt", contentType: "text/csv", downloadName: "report \"q1\".csv",
                    headers: HTTPHeaders([("Cache-Control", "max-age=60")]))
            }
            self.app = app
        }

        func cleanUp() { try? FileManager.default.removeItem(at: directory) }
    }

    @Test(arguments: TestMode.allCases)
    func servesTheFileWithValidators(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let response = try await client.get("/files/data.txt")
            #expect(response.status == .ok)
            #expect(response.bodyBytes == fixture.text)
            #expect(response.headers["content-length"] == "100")
            #expect(response.headers["content-type"] == "text/plain; charset=utf-8")
            #expect(response.headers["accept-ranges"] == "bytes")
            #expect(response.headers["last-modified"] == Fixture.lastModified)
            let etag = try #require(response.headers["etag"])
            #expect(etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count > 2)
            // The validator is stable for an unchanged file.
            #expect(try await client.get("/files/data.txt").headers["etag"] == etag)

            let large = try await client.get("/files/large.bin")
            #expect(large.bodyBytes == fixture.large)
            #expect(large.headers["etag"] != etag)

            let empty = try await client.get("/files/empty.txt")
            #expect(empty.status == .ok)
            #expect(empty.body.readableBytes == 0)
        }
    }

    @Test(arguments: TestMode.allCases)
    func missingFileIs404(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let response = try await client.get("/files/nope.txt")
            #expect(response.status == .notFound)
            #expect(response.text == #"{"detail":"Not Found"}"#)
        }
    }

    @Test(arguments: TestMode.allCases)
    func ifNoneMatchGives304(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let etag = try #require(try await client.get("/files/data.txt").headers["etag"])
            for value in [etag, "W/\(etag)", "\"other\", \(etag)", "*"] {
                let response = try await client.get("/files/data.txt", headers: HTTPHeaders([("If-None-Match", value)]))
                #expect(response.status == .notModified, "\(value)")
                #expect(response.body.readableBytes == 0)
                #expect(response.headers["etag"] == etag)
                #expect(response.headers["last-modified"] == Fixture.lastModified)
            }
            let changed = try await client.get(
                "/files/data.txt", headers: HTTPHeaders([("If-None-Match", "\"other\"")]))
            #expect(changed.status == .ok)
            #expect(changed.bodyBytes == fixture.text)
            // If-None-Match wins over If-Modified-Since.
            let both = try await client.get(
                "/files/data.txt",
                headers: HTTPHeaders([("If-None-Match", "\"other\""), ("If-Modified-Since", Fixture.lastModified)]))
            #expect(both.status == .ok)
        }
    }

    @Test(arguments: TestMode.allCases)
    func ifModifiedSinceGives304(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let same = try await client.get(
                "/files/data.txt", headers: HTTPHeaders([("If-Modified-Since", Fixture.lastModified)]))
            #expect(same.status == .notModified)
            #expect(same.body.readableBytes == 0)
            let later = try await client.get(
                "/files/data.txt", headers: HTTPHeaders([("If-Modified-Since", "Wed, 15 Nov 2023 00:00:00 GMT")]))
            #expect(later.status == .notModified)
            let earlier = try await client.get(
                "/files/data.txt", headers: HTTPHeaders([("If-Modified-Since", "Mon, 13 Nov 2023 00:00:00 GMT")]))
            #expect(earlier.status == .ok)
            #expect(earlier.bodyBytes == fixture.text)
            let garbage = try await client.get(
                "/files/data.txt", headers: HTTPHeaders([("If-Modified-Since", "yesterday")]))
            #expect(garbage.status == .ok)
        }
    }

    @Test(arguments: TestMode.allCases)
    func singleRanges(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let cases: [(range: String, start: Int, end: Int)] = [
                ("bytes=0-9", 0, 9),  // first ten
                ("bytes=-5", 95, 99),  // suffix
                ("bytes=90-", 90, 99),  // open
                ("bytes=95-200", 95, 99),  // end clamped
                ("bytes=-500", 0, 99),  // suffix longer than the file
                ("bytes=42-42", 42, 42),  // one byte
            ]
            for (range, start, end) in cases {
                let response = try await client.get("/files/data.txt", headers: HTTPHeaders([("Range", range)]))
                #expect(response.status == .partialContent, "\(range)")
                #expect(response.headers["content-range"] == "bytes \(start)-\(end)/100", "\(range)")
                #expect(response.headers["content-length"] == String(end - start + 1), "\(range)")
                #expect(response.bodyBytes == Array(fixture.text[start...end]), "\(range)")
                #expect(response.headers["etag"] != nil)
            }
        }
    }

    @Test(arguments: TestMode.allCases)
    func rangeAcrossReadChunks(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let response = try await client.get(
                "/files/large.bin", headers: HTTPHeaders([("Range", "bytes=65000-140000")]))
            #expect(response.status == .partialContent)
            #expect(response.headers["content-range"] == "bytes 65000-140000/200000")
            #expect(response.bodyBytes == Array(fixture.large[65000...140000]))
        }
    }

    @Test(arguments: TestMode.allCases)
    func unsatisfiableRangeIs416(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            for range in ["bytes=100-200", "bytes=500-", "bytes=-0"] {
                let response = try await client.get("/files/data.txt", headers: HTTPHeaders([("Range", range)]))
                #expect(response.status == .rangeNotSatisfiable, "\(range)")
                #expect(response.headers["content-range"] == "bytes */100", "\(range)")
            }
            // The connection is still usable afterwards.
            #expect(try await client.get("/files/data.txt").status == .ok)
        }
    }

    @Test(arguments: TestMode.allCases)
    func multipleOrMalformedRangesSendTheWholeFile(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            for range in ["bytes=0-1,5-6", "bytes=9-3", "items=0-5", "bytes=abc", "bytes=0-x"] {
                let response = try await client.get("/files/data.txt", headers: HTTPHeaders([("Range", range)]))
                #expect(response.status == .ok, "\(range)")
                #expect(response.headers["content-range"] == nil, "\(range)")
                #expect(response.bodyBytes == fixture.text, "\(range)")
            }
        }
    }

    @Test(arguments: TestMode.allCases)
    func ifRange(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let etag = try #require(try await client.get("/files/data.txt").headers["etag"])
            let mismatch = try await client.get(
                "/files/data.txt", headers: HTTPHeaders([("Range", "bytes=0-9"), ("If-Range", "\"stale\"")]))
            #expect(mismatch.status == .ok)
            #expect(mismatch.bodyBytes == fixture.text)
            let staleDate = try await client.get(
                "/files/data.txt",
                headers: HTTPHeaders([("Range", "bytes=0-9"), ("If-Range", "Mon, 13 Nov 2023 00:00:00 GMT")]))
            #expect(staleDate.status == .ok)

            let matchingTag = try await client.get(
                "/files/data.txt", headers: HTTPHeaders([("Range", "bytes=0-9"), ("If-Range", etag)]))
            #expect(matchingTag.status == .partialContent)
            #expect(matchingTag.bodyBytes == Array(fixture.text[0...9]))
            let matchingDate = try await client.get(
                "/files/data.txt", headers: HTTPHeaders([("Range", "bytes=10-19"), ("If-Range", Fixture.lastModified)]))
            #expect(matchingDate.status == .partialContent)
            #expect(matchingDate.bodyBytes == Array(fixture.text[10...19]))
        }
    }

    @Test(arguments: TestMode.allCases)
    func rangeIsOnlyForGetAndHead(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let post = try await client.execute(
                .post, "/files/data.txt", headers: HTTPHeaders([("Range", "bytes=0-9")]), body: ByteBuffer())
            #expect(post.status == .ok)
            #expect(post.bodyBytes == fixture.text)
            let head = try await client.execute(
                .head, "/files/data.txt", headers: HTTPHeaders([("Range", "bytes=0-9")]))
            #expect(head.status == .partialContent)
            #expect(head.headers["content-length"] == "10")
            #expect(head.body.readableBytes == 0)
        }
    }

    @Test(arguments: TestMode.allCases)
    func mediaTypesFromTheExtension(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let expected = [
                "image.png": "image/png", "style.CSS": "text/css; charset=utf-8", "noext": "application/octet-stream",
                "page.html": "text/html; charset=utf-8", "data.json": "application/json",
                "thing.unknownext": "application/octet-stream",
            ]
            for (file, type) in expected {
                #expect(try await client.get("/files/\(file)").headers["content-type"] == type, "\(file)")
            }
        }
        #expect(MediaType.forPath("/a/b.c/archive.tar.gz") == "application/gzip")
        #expect(MediaType.forPath("/a/b.js/README") == "application/octet-stream")
        #expect(MediaType.forPath("font.woff2") == "font/woff2")
        #expect(MediaType.forPath("pic.JPEG") == "image/jpeg")
    }

    @Test(arguments: TestMode.allCases)
    func downloadNameAndExplicitType(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let response = try await client.get("/download")
            #expect(response.headers["content-type"] == "text/csv")
            #expect(response.headers["content-disposition"] == #"attachment; filename="report \"q1\".csv""#)
            #expect(response.headers["cache-control"] == "max-age=60")
            let notModified = try await client.get(
                "/download", headers: HTTPHeaders([("If-Modified-Since", Fixture.lastModified)]))
            #expect(notModified.status == .notModified)
            #expect(notModified.headers["cache-control"] == "max-age=60")
        }
    }

    @Test func byteRangeParsing() {
        #expect(ByteRange.parse("bytes=0-0", size: 1) == .satisfiable(0..<1))
        #expect(ByteRange.parse("BYTES=1-", size: 3) == .satisfiable(1..<3))
        #expect(ByteRange.parse(" bytes=-2 ", size: 3) == .satisfiable(1..<3))
        #expect(ByteRange.parse("bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=-1", size: 0) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=3-", size: 3) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=0-1, 2-3", size: 10) == .ignored)
        #expect(ByteRange.parse("bytes=-", size: 10) == .ignored)
        #expect(ByteRange.parse("bytes=-1-2", size: 10) == .ignored)
    }
}
