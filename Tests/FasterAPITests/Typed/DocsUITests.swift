import Foundation
import PeerSupport
import Testing

@testable import FasterAPI

/// The /docs page of the secured app (OpenAPITests.swift), driven in headless Chromium by
/// Interop/docs_ui_check.py: it renders every operation, runs "try it", and authorizes with the
/// OAuth2 password flow. Each check bounds its waits (20 s each inside the script, 90 s overall).
@Suite(.serialized)
struct DocsUITests {
    /// The operations the page must render.
    static let operations = [
        "token", "readItem", "listItems", "createItem", "legacyItems", "whoami", "ping", "session", "contact",
        "upload", "stats", "deleteItem",
    ]

    /// Fails, saying how to install them, unless Chromium, chromedriver and the Python peers are there.
    static func requireBrowser() throws {
        let files = FileManager.default
        for path in ["/usr/bin/chromium", "/usr/bin/chromedriver", Peers.python]
        where !files.isExecutableFile(atPath: path) {
            throw PeerServer.PeerError(
                message:
                    "\(path) is missing: the docs UI tests need Chromium, chromedriver and the Python peers; run scripts/test.sh to install them"
            )
        }
    }

    /// Fails unless the peers' Python has Selenium.
    static func requireSelenium() async throws {
        let probe = try await Peers.run(Peers.python, ["-c", "import selenium"], timeout: 30)
        guard probe.status == 0 else {
            throw PeerServer.PeerError(
                message: "Selenium is missing from \(Peers.python) (\(probe.stderr)); run scripts/test.sh to install it"
            )
        }
    }

    /// Runs docs_ui_check.py against the served app's /docs page.
    static func runCheck(_ arguments: [String]) async throws -> Peers.Output {
        try requireBrowser()
        try await requireSelenium()
        return try await serveLive(makeSecuredApp()) { port in
            try await Peers.python(
                script: "docs_ui_check.py", ["--url", "http://127.0.0.1:\(port)/docs"] + arguments, timeout: 90)
        }
    }

    @Test func rendersOperationsAndTriesAGet() async throws {
        let output = try await Self.runCheck([
            "--expect-operations", Self.operations.joined(separator: ","),
            "--try", "readItem", "--param", "item_id=7", "--param", "q=red", "--param", "verbose=true",
            "--expect-status", "200",
        ])
        #expect(output.status == 0, "\(output.stdout)\n\(output.stderr)")
        #expect(output.stdout.contains("/items/7?"), "\(output.stdout)")
        #expect(output.stdout.contains(#""name": "Item number 7""#), "\(output.stdout)")
        #expect(output.stdout.contains(#""red""#), "\(output.stdout)")
    }

    @Test func authorizesWithOAuth2AndCallsAProtectedOperation() async throws {
        let output = try await Self.runCheck([
            "--expect-operations", "token,listItems",
            "--oauth2", "alice:wonderland",
            "--try", "listItems", "--param", "limit=2", "--expect-status", "200",
        ])
        #expect(output.status == 0, "\(output.stdout)\n\(output.stderr)")
        #expect(output.stdout.contains("authorized with OAuth2PasswordBearer"), "\(output.stdout)")
        #expect(output.stdout.contains(#""name": "Item for alice""#), "\(output.stdout)")
    }

    /// The group's header API key, entered in the Authorize dialog, reaches the group's routes.
    @Test func authorizesWithAnAPIKeyForTheGroup() async throws {
        let output = try await Self.runCheck([
            "--authorize", "APIKeyHeader", "--auth-field", "value=admin-key",
            "--try", "stats", "--param", "days=30", "--expect-status", "200",
        ])
        #expect(output.status == 0, "\(output.stdout)\n\(output.stderr)")
        #expect(output.stdout.contains(#""days": 30"#), "\(output.stdout)")
    }

    /// Without authorizing, the protected operation answers 401: the 200 above is the token's doing.
    @Test func protectedOperationNeedsTheToken() async throws {
        let output = try await Self.runCheck(["--try", "listItems", "--expect-status", "401"])
        #expect(output.status == 0, "\(output.stdout)\n\(output.stderr)")
    }

    /// The demo app's own page (the binary `swift build --build-tests` builds beside the tests):
    /// every operation renders, "try it" on `GET /users/{id}` returns 200, and signing in as a
    /// demo user through the Authorize dialog lets "try it" on `GET /me` return 200.
    @Test func theDemoAppsPageWorks() async throws {
        try Self.requireBrowser()
        try await Self.requireSelenium()
        let server = try await PeerServer.startDemo()
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)/docs"
        let operations = [
            "plaintext", "json", "user", "createAccount", "list", "create", "get", "replace", "delete", "token", "me",
            "stream", "upload",
        ]
        let tryUser = try await Peers.python(
            script: "docs_ui_check.py",
            [
                "--url", url, "--expect-operations", operations.joined(separator: ","), "--try", "user", "--param",
                "id=7", "--expect-status", "200",
            ], timeout: 90)
        #expect(tryUser.status == 0, "\(tryUser.stdout)\n\(tryUser.stderr)")
        #expect(tryUser.stdout.contains("user-7"), "\(tryUser.stdout)")
        let signedIn = try await Peers.python(
            script: "docs_ui_check.py",
            ["--url", url, "--oauth2", "alice:wonderland", "--try", "me", "--expect-status", "200"], timeout: 90)
        #expect(signedIn.status == 0, "\(signedIn.stdout)\n\(signedIn.stderr)")
        #expect(signedIn.stdout.contains("alice"), "\(signedIn.stdout)")
    }

    /// The demo app over TLS with its development certificate (trusted by its SPKI hash, as a
    /// developer would): the page, its OpenAPI document and a "try it" fetch all go over HTTP/2.
    @Test func theDemoAppsPageLoadsOverHTTP2WithTheDevelopmentCertificate() async throws {
        try Self.requireBrowser()
        try await Self.requireSelenium()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fasterapi-dev-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificate = try DevelopmentCertificate.loadOrCreate(in: directory)
        let server = try await PeerServer.startDemo([
            "--cert", directory + "/cert.pem", "--key", directory + "/key.pem",
        ])
        defer { server.stop() }
        let output = try await Peers.python(
            script: "docs_ui_check.py",
            [
                "--url", "https://127.0.0.1:\(server.port)/docs", "--spki", try certificate.spkiHash,
                "--expect-protocol", "h2", "--expect-operations", "plaintext,json,user", "--try", "user", "--param",
                "id=9", "--expect-status", "200",
            ], timeout: 90)
        #expect(output.status == 0, "\(output.stdout)\n\(output.stderr)")
        #expect(output.stdout.contains("user-9"), "\(output.stdout)")
        #expect(output.stdout.contains("protocol h2: https://127.0.0.1:\(server.port)/docs"), "\(output.stdout)")
    }
}
