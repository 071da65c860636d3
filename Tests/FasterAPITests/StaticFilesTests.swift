import Foundation
import NIOCore
import Testing

@testable import FasterAPI

/// `app.staticFiles(...)`: index files, directory redirects, and never leaving the root.
@Suite("StaticFiles")
struct StaticFilesTests {
    /// `base/root` is served at `/static`; `base/outside` holds a secret next to it.
    private struct Fixture {
        let base: URL
        let app: App

        init(_ name: String = #function) throws {
            base = try FrameworkTestSupport.makeTemporaryDirectory(name)
            let fm = FileManager.default
            let root = base.appendingPathComponent("root")
            let outside = base.appendingPathComponent("outside")
            for directory in ["root/sub/deep", "root/noindex", "outside"] {
                try fm.createDirectory(at: base.appendingPathComponent(directory), withIntermediateDirectories: true)
            }
            try Data("<h1>home</h1>".utf8).write(to: root.appendingPathComponent("index.html"))
            try Data("body { color: red }".utf8).write(to: root.appendingPathComponent("style.css"))
            try Data("<h1>sub</h1>".utf8).write(to: root.appendingPathComponent("sub/index.html"))
            try Data("deep text".utf8).write(to: root.appendingPathComponent("sub/deep/file.txt"))
            try Data("with space".utf8).write(to: root.appendingPathComponent("sub/my file.txt"))
            try Data("TOP SECRET".utf8).write(to: outside.appendingPathComponent("secret.txt"))
            // A link escaping the root, a link to a directory outside, and a harmless inner link.
            try fm.createSymbolicLink(
                atPath: root.appendingPathComponent("escape.txt").path, withDestinationPath: "../outside/secret.txt")
            try fm.createSymbolicLink(
                atPath: root.appendingPathComponent("outdir").path, withDestinationPath: outside.path)
            try fm.createSymbolicLink(
                atPath: root.appendingPathComponent("alias.css").path, withDestinationPath: "style.css")

            let app = App()
            app.staticFiles("/static", directory: root.path)
            app.get("/other") { _ in "other" }
            self.app = app
        }

        func cleanUp() { try? FileManager.default.removeItem(at: base) }
    }

    @Test(arguments: TestMode.allCases)
    func directoryServesIndexHTML(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let root = try await client.get("/static/")
            #expect(root.status == .ok)
            #expect(root.text == "<h1>home</h1>")
            #expect(root.headers["content-type"] == "text/html; charset=utf-8")
            let sub = try await client.get("/static/sub/")
            #expect(sub.status == .ok)
            #expect(sub.text == "<h1>sub</h1>")
            // A directory without an index file is not listed.
            #expect(try await client.get("/static/noindex/").status == .notFound)
        }
    }

    @Test(arguments: TestMode.allCases)
    func directoryWithoutSlashRedirects(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let sub = try await client.get("/static/sub?v=1")
            #expect(sub.status == .temporaryRedirect)
            #expect(sub.headers["location"] == "/static/sub/?v=1")
            let root = try await client.get("/static")
            #expect(root.status == .temporaryRedirect)
            #expect(root.headers["location"] == "/static/")
        }
    }

    @Test(arguments: TestMode.allCases)
    func nestedFilesWithTypesAndValidators(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let deep = try await client.get("/static/sub/deep/file.txt")
            #expect(deep.status == .ok)
            #expect(deep.text == "deep text")
            #expect(deep.headers["content-type"] == "text/plain; charset=utf-8")
            let etag = try #require(deep.headers["etag"])
            let again = try await client.get(
                "/static/sub/deep/file.txt", headers: HTTPHeaders([("If-None-Match", etag)]))
            #expect(again.status == .notModified)

            let css = try await client.get("/static/style.css")
            #expect(css.headers["content-type"] == "text/css; charset=utf-8")
            #expect(css.text == "body { color: red }")

            #expect(try await client.get("/static/sub/my%20file.txt").text == "with space")
            let range = try await client.get("/static/style.css", headers: HTTPHeaders([("Range", "bytes=0-3")]))
            #expect(range.status == .partialContent)
            #expect(range.text == "body")

            #expect(try await client.get("/static/missing.txt").status == .notFound)
            #expect(try await client.get("/static/style.css/more").status == .notFound)
            #expect(try await client.get("/other").text == "other")
        }
    }

    @Test(arguments: TestMode.allCases)
    func traversalIsRefused(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let attempts = [
                "/static/../outside/secret.txt",
                "/static/sub/../../outside/secret.txt",
                "/static/%2e%2e/outside/secret.txt",
                "/static/%2E%2E/outside/secret.txt",
                "/static/%2e%2e%2foutside%2fsecret.txt",
                "/static/sub/%2e%2e/%2e%2e/outside/secret.txt",
                "/static/..%2foutside/secret.txt",
                "/static/..%5coutside%5csecret.txt",
                "/static/style.css%00.txt",
            ]
            for target in attempts {
                let response = try await client.get(target)
                #expect(response.status == .notFound, "\(target)")
                #expect(!response.text.contains("SECRET"), "\(target)")
            }
        }
    }

    @Test(arguments: TestMode.allCases)
    func symlinksOutsideTheRootAreNotFollowed(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try await fixture.app.test(mode) { client throws in
            let escape = try await client.get("/static/escape.txt")
            #expect(escape.status == .notFound)
            #expect(!escape.text.contains("SECRET"))
            let viaDirectory = try await client.get("/static/outdir/secret.txt")
            #expect(viaDirectory.status == .notFound)
            #expect(!viaDirectory.text.contains("SECRET"))
            // A link that stays inside the root is fine.
            let alias = try await client.get("/static/alias.css")
            #expect(alias.status == .ok)
            #expect(alias.text == "body { color: red }")
        }
    }

    @Test(arguments: TestMode.allCases)
    func rootMountRedirectIsNeverProtocolRelative(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let app = App()
        app.staticFiles("/", directory: fixture.base.appendingPathComponent("root").path)
        try await app.test(mode) { client throws in
            #expect(try await client.get("/sub/deep/file.txt").text == "deep text")
            let normal = try await client.get("/sub")
            #expect(normal.status == .temporaryRedirect)
            #expect(normal.headers["location"] == "/sub/")
            // "//sub/" in a Location header is a protocol-relative URL: the browser would go to
            // the host "sub". The redirect must stay on this site.
            let response = try await client.get("//sub")
            if let location = response.headers["location"] {
                #expect(!location.hasPrefix("//"), "\(location)")
            }
        }
    }

    @Test func resolveStaysInsideTheRoot() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let files = StaticFiles(directory: fixture.base.appendingPathComponent("root").path, index: "index.html")
        #expect(files.resolve("style.css")?.hasSuffix("/root/style.css") == true)
        #expect(files.resolve("sub//deep/file.txt")?.hasSuffix("/root/sub/deep/file.txt") == true)
        #expect(files.resolve("") != nil)
        #expect(files.resolve("../outside/secret.txt") == nil)
        #expect(files.resolve("sub/../style.css") == nil)
        #expect(files.resolve("a\\b") == nil)
        #expect(files.resolve("style.css\0") == nil)
        #expect(files.resolve("escape.txt") == nil)
        #expect(files.resolve("outdir/secret.txt") == nil)
        #expect(files.resolve("missing") == nil)
    }

    @Test(arguments: TestMode.allCases)
    func rootPrefixInAGroup(_ mode: TestMode) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let app = App()
        app.group("/assets").staticFiles("/", directory: fixture.base.appendingPathComponent("root/sub").path)
        try await app.test(mode) { client throws in
            #expect(try await client.get("/assets/deep/file.txt").text == "deep text")
            #expect(try await client.get("/assets/").text == "<h1>sub</h1>")
        }
    }
}
