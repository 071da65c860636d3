import FasterAPIWebSocket
import Foundation
import NIOCore
import NIOSSL
import PeerSupport
import Testing

/// WebSocket and SSE against independent implementations, both ways: Python `websockets` and
/// `wsproto`, Node `ws`, `httpx-sse`, `curl -N` and headless Chromium as clients of the demo app;
/// our client against `websockets`, `wsproto` and Node `ws` servers. Each peer script prints one JSON line.
@Suite(.serialized)
struct WebSocketInteropTests {
    static let suite = "FasterAPIWebSocketTests"

    /// Runs a peer script against the demo and returns its JSON report (which must say ok).
    static func report(_ script: String, _ arguments: [String], timeout: Double = 90) async throws -> [String: Any] {
        let output: Peers.Output
        if script.hasSuffix(".js") {
            output = try await Peers.run(
                "/usr/bin/env", ["NODE_PATH=/usr/share/nodejs", "node", Peers.interopScript(script, suite: suite)] + arguments,
                timeout: timeout)
        } else {
            output = try await Peers.python(script: script, arguments, suite: suite, timeout: timeout)
        }
        let line = output.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        #expect(json["ok"] as? Bool == true, "\(script) \(arguments): \(output.stdout)\n\(output.stderr)")
        #expect(output.status == 0, "\(script) exited \(output.status): \(output.stderr)")
        return json
    }

    @Test func pythonAndNodeClientsAgainstTheDemo() async throws {
        let demo = try await PeerServer.startDemo()
        defer { demo.stop() }
        let url = "ws://127.0.0.1:\(demo.port)/ws/echo"

        let plain = try await Self.report("ws_clients.py", ["--url", url, "--client", "websockets"])
        #expect(plain["echoed"] as? Int == 16)
        #expect(plain["close_code"] as? Int == 1000)
        let compressed = try await Self.report(
            "ws_clients.py", ["--url", url, "--client", "websockets", "--compression", "--subprotocol", "echo"])
        #expect((compressed["compression"] as? String)?.hasPrefix("permessage-deflate") == true)
        #expect(compressed["subprotocol"] as? String == "echo")

        let strict = try await Self.report("ws_clients.py", ["--url", url, "--client", "wsproto", "--fragment", "--compression"])
        #expect(strict["fragmented"] as? Int == 3)
        #expect(strict["tcp_closed_by_server"] as? Bool == true)
        let tuned = try await Self.report(
            "ws_clients.py",
            [
                "--url", url, "--client", "wsproto", "--compression", "--deflate-params",
                "client_no_context_takeover,server_no_context_takeover,server_max_window_bits=10,client_max_window_bits=9",
            ])
        #expect((tuned["compression"] as? String)?.contains("server_max_window_bits=10") == true)
        let invalid = try await Self.report("ws_clients.py", ["--url", url, "--client", "wsproto", "--case", "invalid-utf8"])
        #expect(invalid["close_code"] as? Int == 1007)
        let custom = try await Self.report("ws_clients.py", ["--url", url, "--client", "wsproto", "--case", "close-custom"])
        #expect(custom["close_code"] as? Int == 4000)
        #expect(custom["close_reason"] as? String == "done")

        let node = try await Self.report("ws_node_client.js", [url, "--compression"])
        #expect(node["echoed"] as? Int == 15)
        #expect(node["extensions"] as? String == "permessage-deflate")
    }

    @Test func shutdownClosesOpenSocketsWithGoingAway() async throws {
        let demo = try await PeerServer.startDemo()
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(demo.port)/ws/echo")
        try await ws.send("before shutdown")
        var iterator = ws.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("before shutdown"))
        let stopping = Task.detached { demo.stop() }
        #expect(try await iterator.next() == nil)
        #expect(await ws.closeCode == .goingAway)
        await stopping.value
    }

    @Test func secureWebSocketsWithTheDevelopmentCertificate() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fasterapi-wss-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let demo = try await PeerServer.start(executable: try Peers.demoExecutable()) { port in
            ["--host", "127.0.0.1", "--port", String(port), "--tls", "--tls-dir", folder.path]
        }
        defer { demo.stop() }
        let url = "wss://127.0.0.1:\(demo.port)/ws/echo"
        let certificate = folder.appendingPathComponent("cert.pem").path
        let report = try await Self.report(
            "ws_clients.py", ["--url", url, "--client", "websockets", "--compression", "--cafile", certificate])
        #expect(report["echoed"] as? Int == 16)

        // BoringSSL does not take the development certificate (a self-signed leaf, CA:FALSE) as
        // its own trust root, as OpenSSL-based clients do; our client is told not to verify.
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        let ws = try await WebSocketClient.connect(to: url, tls: tls)
        try await ws.send("over TLS")
        var iterator = ws.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("over TLS"))
        try await ws.close()
    }

    @Test func webSocketsOverHTTP2() async throws {
        // RFC 8441 with Python's h2 (cleartext by prior knowledge, and TLS), and Chromium over
        // HTTPS, which opens its sockets on the page's HTTP/2 connection when the server allows.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fasterapi-h2ws-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let cleartext = try await PeerServer.startDemo()
        defer { cleartext.stop() }
        let plain = try await Self.report("ws_over_h2.py", ["--url", "http://127.0.0.1:\(cleartext.port)/ws/echo"])
        #expect(plain["stream_end"] as? String == "end_stream")

        let secure = try await PeerServer.start(executable: try Peers.demoExecutable()) { port in
            ["--host", "127.0.0.1", "--port", String(port), "--tls", "--tls-dir", folder.path]
        }
        defer { secure.stop() }
        let certificate = folder.appendingPathComponent("cert.pem").path
        let tls = try await Self.report(
            "ws_over_h2.py", ["--url", "https://127.0.0.1:\(secure.port)/ws/echo", "--cafile", certificate])
        #expect(tls["status"] as? Int == 200)
        let spki = try await Peers.run(
            "/bin/sh",
            ["-c", "openssl x509 -pubkey -noout -in '\(certificate)' | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"])
        let browser = try await Self.report(
            "browser_check.py",
            [
                "--base", "https://127.0.0.1:\(secure.port)", "--mode", "websocket", "--expect-compression", "--spki",
                spki.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
            ], timeout: 120)
        let statuses = (browser["handshakes"] as? [[String: Any]])?.map { $0["status"] as? Int }
        #expect(statuses == [200, 200], "Chromium used HTTP/2 extended CONNECT for both sockets")
        #expect(browser["was_clean"] as? Bool == true)
    }

    @Test(arguments: [
        ("ws_echo_server.py", true), ("ws_echo_server.py", false), ("wsproto_echo_server.py", true),
        ("wsproto_echo_server.py", false), ("ws_echo_server.js", true), ("ws_echo_server.js", false),
    ])
    func ourClientAgainstPeerServers(_ script: String, _ compression: Bool) async throws {
        let path = Peers.interopScript(script, suite: Self.suite)
        let server: PeerServer
        if script.hasSuffix(".js") {
            server = try await PeerServer.start(executable: "/usr/bin/env") { port in
                ["NODE_PATH=/usr/share/nodejs", "node", path, "--port", String(port)] + (compression ? [] : ["--no-compression"])
            }
        } else if script.hasPrefix("wsproto") {
            server = try await PeerServer.start(executable: Peers.python) { port in
                [path, "--port", String(port)] + (compression ? [] : ["--no-compression"])
            }
        } else {
            server = try await PeerServer.start(executable: Peers.python) { port in
                [path, "--port", String(port)] + (compression ? ["--compression"] : [])
            }
        }
        defer { server.stop() }
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocols: ["echo"])
        #expect(ws.subprotocol == "echo")
        #expect((ws.extensions?.hasPrefix("permessage-deflate") ?? false) == compression)
        var iterator = ws.messages.makeAsyncIterator()
        for size in [0, 1, 125, 126, 65535, 65536, 1 << 20] {
            let text = String(repeating: "é", count: size / 2)
            try await ws.send(text)
            #expect(try await iterator.next() == .text(text))
            let bytes = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try await ws.send(bytes)
            #expect(try await iterator.next() == .binary(bytes))
        }
        try await ws.ping(ByteBuffer(string: "are you there"))
        try await ws.send("close:4000:done")
        #expect(try await iterator.next() == nil)
        #expect(await ws.closeCode == WebSocketCloseCode(rawValue: 4000))
        #expect(await ws.closeReason == "done")
    }

    @Test func serverSentEventsWithHTTPXSSEAndCurl() async throws {
        let demo = try await PeerServer.startDemo()
        defer { demo.stop() }
        let base = "http://127.0.0.1:\(demo.port)/events/ticks"
        for client in ["httpx-sse", "curl"] {
            let stream = try await Self.report("sse_clients.py", ["--url", base + "?count=5&interval_ms=20", "--client", client])
            #expect(stream["ids"] as? [String] == ["1", "2", "3", "4", "5"])
            #expect(stream["events"] as? [String] == Array(repeating: "tick", count: 5))
            #expect((stream["data"] as? [String])?.first == #"{"tick":1}"#)
            #expect(stream["retry"] as? Int == 100)
            #expect(stream["content_length"] is NSNull)
            // Streamed, not buffered: the fifth event arrives well after the first.
            if let times = stream["times_ms"] as? [Double] { #expect(times[4] - times[0] >= 60) }
            let resumed = try await Self.report(
                "sse_clients.py", ["--url", base + "?count=5&interval_ms=20", "--client", client, "--resume-from", "3"])
            #expect(resumed["ids"] as? [String] == ["4", "5"])
        }
        let gzip = try await Self.report("sse_clients.py", ["--url", base + "?count=3&interval_ms=10", "--client", "curl", "--gzip"])
        #expect(gzip["content_encoding"] is NSNull)
        let reconnecting = try await Self.report(
            "sse_clients.py", ["--url", base + "?count=6&interval_ms=20&close_after=2", "--client", "httpx-sse", "--reconnect"])
        #expect(reconnecting["ids"] as? [String] == ["1", "2", "3", "4", "5", "6"])
        #expect(reconnecting["connections"] as? Int == 3)
    }

    @Test func chromiumWebSocketAndEventSource() async throws {
        let demo = try await PeerServer.startDemo()
        defer { demo.stop() }
        let base = "http://127.0.0.1:\(demo.port)"
        let socket = try await Self.report(
            "browser_check.py", ["--base", base, "--mode", "websocket", "--expect-compression", "--subprotocol", "echo"],
            timeout: 120)
        #expect(socket["extensions"] as? String == "permessage-deflate")
        #expect(socket["protocol"] as? String == "echo")
        #expect(socket["close_code"] as? Int == 1000)
        #expect((socket["custom_close"] as? [String: Any])?["code"] as? Int == 4000)
        let events = try await Self.report("browser_check.py", ["--base", base, "--mode", "eventsource"], timeout: 120)
        // Two events per response: every id exactly once, over at least three responses, means
        // each reconnect resumed after the last id it had (Chromium sends it as Last-Event-ID;
        // without it the ticks would start again at 1).
        #expect(events["ids"] as? [String] == ["1", "2", "3", "4", "5", "6"])
        #expect((events["opens"] as? Int ?? 0) >= 3)
    }
}

/// Our own conformance suite, modelled on Autobahn's case groups (framing, pings, reserved bits,
/// opcodes, fragmentation, UTF-8 split at every byte, close codes, masking and limits,
/// permessage-deflate parameters), driven from a raw Python socket: against our server (the
/// demo's echo endpoint), and as a raw server against our client.
@Suite(.serialized)
struct WebSocketConformanceTests {
    struct Report: Decodable {
        struct Failure: Decodable {
            let `case`: String
            let expected: String
            let got: String
        }
        let passed: Int
        let total: Int
        let failed: [Failure]
    }

    static func check(_ stdout: String, minimumCases: Int) {
        let line = stdout.split(separator: "\n").last.map(String.init) ?? ""
        guard let report = try? JSONDecoder().decode(Report.self, from: Data(line.utf8)) else {
            Issue.record("no report: \(stdout)")
            return
        }
        #expect(report.total >= minimumCases)
        #expect(report.passed == report.total)
        for failure in report.failed {
            Issue.record("\(failure.case): expected \(failure.expected), got \(failure.got)")
        }
    }

    @Test func ourServer() async throws {
        let demo = try await PeerServer.startDemo()
        defer { demo.stop() }
        let output = try await Peers.python(
            // A generous per-case timeout: the suite shares two cores with the rest of the tests.
            script: "ws_conformance.py",
            ["--target", "server", "--url", "ws://127.0.0.1:\(demo.port)/ws/echo", "--timeout", "8"],
            suite: WebSocketInteropTests.suite, timeout: 120)
        Self.check(output.stdout, minimumCases: 250)
    }

    @Test func ourClient() async throws {
        struct Start: Decodable {
            let port: Int
            let cases: [String]
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Peers.python)
        process.arguments = [
            Peers.interopScript("ws_conformance.py", suite: WebSocketInteropTests.suite), "--target", "client", "--port", "0",
        ]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let firstLine = await Self.readLine(out.fileHandleForReading)
        let start = try JSONDecoder().decode(Start.self, from: Data(firstLine.utf8))
        #expect(start.cases.count >= 200)
        var configuration = WebSocketConfiguration()
        configuration.closeTimeout = .seconds(2)
        for name in start.cases {
            guard let ws = try? await WebSocketClient.connect(
                to: "ws://127.0.0.1:\(start.port)/\(name)", configuration: configuration, timeout: .seconds(5))
            else { continue }  // a handshake the client had to refuse
            do {
                for try await message in ws.messages { try await ws.send(message) }
            } catch {
                // A failed connection: the suite judges the close frame we sent.
            }
            try? await ws.waitUntilClosed()
        }
        let rest = await Peers.readToEnd(out.fileHandleForReading)
        Self.check(String(decoding: rest, as: UTF8.self), minimumCases: 200)
    }

    /// The first line `handle` gives, read on a thread of its own.
    static func readLine(_ handle: FileHandle) async -> String {
        await withCheckedContinuation { continuation in
            Thread {
                var bytes: [UInt8] = []
                while true {
                    let byte = handle.readData(ofLength: 1)
                    guard let first = byte.first, first != 10 else { break }
                    bytes.append(first)
                }
                continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
            }.start()
        }
    }
}
