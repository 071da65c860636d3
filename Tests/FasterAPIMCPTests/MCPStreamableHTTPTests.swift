import FasterAPI
import Foundation
import NIOCore
import Testing

@testable import FasterAPIMCP

@Suite("MCP Streamable HTTP")
struct MCPStreamableHTTPTests {
    private func app() -> App {
        let app = App()
        let mcp = MCPServer(name: "t", version: "1")
        mcp.tool("add") { (arguments: AddArguments) in AddResult(sum: arguments.a + arguments.b) }
        mcp.tool("slow") { (arguments: AddArguments) in
            try await Task.sleep(for: .seconds(arguments.a))
            return AddResult(sum: arguments.a)
        }
        mcp.tool("count") { (arguments: AddArguments, context: MCPContext) in
            for step in 1...Int(arguments.a) { await context.progress(Double(step), total: arguments.a) }
            return AddResult(sum: arguments.a)
        }
        app.mount(mcp, at: "/mcp", allowedOrigins: ["https://trusted.example"])
        return app
    }

    private let initialize =
        #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"#

    private func post(_ client: TestClient, _ body: String, session: String? = nil, headers: [(String, String)] = [])
        async throws -> TestResponse
    {
        var allHeaders = HTTPHeaders()
        allHeaders.add(name: "Content-Type", value: "application/json")
        if !headers.contains(where: { $0.0 == "Accept" }) {
            allHeaders.add(name: "Accept", value: "application/json, text/event-stream")
        }
        if let session { allHeaders.add(name: "Mcp-Session-Id", value: session) }
        for (name, value) in headers { allHeaders.add(name: name, value: value) }
        return try await client.execute(.post, "/mcp", headers: allHeaders, body: ByteBuffer(string: body))
    }

    @Test("initialize opens a session; requests in it are answered as JSON, notifications with 202; DELETE ends it")
    func lifecycle() async throws {
        try await app().test { client in
            let opened = try await post(client, initialize)
            #expect(opened.status == .ok)
            let session = try #require(opened.headers["mcp-session-id"])
            #expect(opened.text.contains(#""protocolVersion":"2025-06-18""#))
            let response1 = try await post(client, #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, session: session).status
            #expect(response1 == .accepted)
            let call = try await post(
                client, #"{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}"#,
                session: session, headers: [("MCP-Protocol-Version", "2025-06-18")])
            #expect(call.headers["content-type"] == "application/json")
            #expect(call.text == #"{"jsonrpc":"2.0","id":"c","result":{"content":[{"type":"text","text":"{\"sum\":3.0}"}],"structuredContent":{"sum":3.0}}}"#)
            var delete = HTTPHeaders()
            delete.add(name: "Mcp-Session-Id", value: session)
            let response2 = try await client.execute(.delete, "/mcp", headers: delete).status
            #expect(response2 == .noContent)
            let response3 = try await post(client, #"{"jsonrpc":"2.0","id":2,"method":"ping"}"#, session: session).status
            #expect(response3 == .notFound)
        }
    }

    @Test("Without a session id 400, with an unknown one 404, with an unsupported version 400")
    func sessionErrors() async throws {
        try await app().test { client in
            let response4 = try await post(client, #"{"jsonrpc":"2.0","id":2,"method":"ping"}"#).status
            #expect(response4 == .badRequest)
            let response5 = try await post(client, #"{"jsonrpc":"2.0","id":2,"method":"ping"}"#, session: "nope").status
            #expect(response5 == .notFound)
            let session = try #require(try await post(client, initialize).headers["mcp-session-id"])
            let old = try await post(
                client, #"{"jsonrpc":"2.0","id":2,"method":"ping"}"#, session: session, headers: [("MCP-Protocol-Version", "1999-01-01")])
            #expect(old.status == .badRequest)
        }
    }

    @Test("Bad JSON is a -32700 answer and the session goes on")
    func badJSON() async throws {
        try await app().test { client in
            let session = try #require(try await post(client, initialize).headers["mcp-session-id"])
            let bad = try await post(client, #"{"jsonrpc":"2.0","id":3,"meth"#, session: session)
            #expect(bad.status == .badRequest)
            #expect(bad.text.contains("-32700"))
            let response6 = try await post(client, #"{"jsonrpc":"2.0","id":4,"method":"ping"}"#, session: session).text
            #expect(response6 == #"{"jsonrpc":"2.0","id":4,"result":{}}"#)
        }
    }

    @Test("An answer is JSON unless the handler sends something first: then an event stream with event ids")
    func streamedAnswer() async throws {
        try await app().test { client in
            let session = try #require(try await post(client, initialize).headers["mcp-session-id"])
            let quiet = try await post(
                client, #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"count","arguments":{"a":2,"b":0}}}"#,
                session: session)
            #expect(quiet.headers["content-type"] == "application/json")
            let loud = try await post(
                client,
                #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"count","arguments":{"a":2,"b":0},"_meta":{"progressToken":"p"}}}"#,
                session: session)
            #expect(loud.headers["content-type"]?.hasPrefix("text/event-stream") == true)
            let events = loud.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(events.count == 3)
            #expect(events.allSatisfy { $0.split(separator: "\n").contains { $0.hasPrefix("id: ") } })
            #expect(events.last?.contains(#""id":3,"result""#) == true)
            // Without Accept: text/event-stream the progress has no stream of this POST to go on.
            let plain = try await post(
                client,
                #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"count","arguments":{"a":1,"b":0},"_meta":{"progressToken":"p"}}}"#,
                session: session, headers: [("Accept", "application/json")])
            #expect(plain.headers["content-type"] == "application/json")
        }
    }

    @Test("A foreign Origin is 403; this host, localhost and allowed origins pass; GET needs an event-stream Accept and a session")
    func origins() async throws {
        try await app().test { client in
            let response7 = try await post(client, initialize, headers: [("Origin", "https://evil.example")]).status
            #expect(response7 == .forbidden)
            let response8 = try await post(client, initialize, headers: [("Origin", "https://trusted.example")]).status
            #expect(response8 == .ok)
            let response9 = try await post(client, initialize, headers: [("Origin", "http://localhost:5173")]).status
            #expect(response9 == .ok)
            let response10 = try await client.get("/mcp").status
            #expect(response10 == .notAcceptable)
            var accept = HTTPHeaders()
            accept.add(name: "Accept", value: "text/event-stream")
            let response11 = try await client.get("/mcp", headers: accept).status
            #expect(response11 == .badRequest)
        }
    }

    @Test("notifications/cancelled in another POST stops a running call, whose POST then gets -32800")
    func cancellation() async throws {
        try await app().test { client in
            let session = try #require(try await post(client, initialize).headers["mcp-session-id"])
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let call = try await post(
                        client, #"{"jsonrpc":"2.0","id":"long","method":"tools/call","params":{"name":"slow","arguments":{"a":30,"b":0}}}"#,
                        session: session)
                    #expect(call.status == .ok)
                    #expect(call.text.contains(#""id":"long","error":{"code":-32800"#))
                }
                try await Task.sleep(for: .milliseconds(300))
                let cancel = try await post(
                    client, #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"long"}}"#, session: session)
                #expect(cancel.status == .accepted)
                try await group.waitForAll()
            }
            #expect(ContinuousClock.now - started < .seconds(20))
        }
    }
}

/// DNS rebinding, over a real loopback socket.
@Suite("MCP Host and Origin checks")
struct MCPRebindingTests {
    @Test("On a loopback server a foreign Host is 403 even when the Origin matches it; loopback names pass")
    func rebinding() async throws {
        let app = App()
        app.mount(MCPServer(name: "t", version: "1"), at: "/mcp")
        let initialize =
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"#
        try await app.test(.live) { client in
            func post(host: String, origin: String?) async throws -> HTTPStatus {
                var headers = HTTPHeaders([("Host", host), ("Content-Type", "application/json"), ("Accept", "application/json")])
                if let origin { headers.add(name: "Origin", value: origin) }
                return try await client.execute(.post, "/mcp", headers: headers, body: ByteBuffer(string: initialize)).status
            }
            let rebound = try await post(host: "rebound.example:8000", origin: "http://rebound.example:8000")
            #expect(rebound == .forbidden)
            let reboundWithoutOrigin = try await post(host: "rebound.example:8000", origin: nil)
            #expect(reboundWithoutOrigin == .forbidden)
            let local = try await post(host: "localhost:8000", origin: "http://localhost:8000")
            #expect(local == .ok)
            let ipv6 = try await post(host: "[::1]:8000", origin: "http://[::1]:5173")
            #expect(ipv6 == .ok)
            let foreignPage = try await post(host: "127.0.0.1:8000", origin: "https://evil.example")
            #expect(foreignPage == .forbidden)
        }
    }
}

/// Streams cut short and resumed, over real sockets.
@Suite("MCP Streamable HTTP resumption")
struct MCPResumptionTests {
    @Test("A POST's stream cut after its first event is resumed by a GET with Last-Event-ID, which gets the rest and the answer")
    func resume() async throws {
        let app = App()
        let mcp = MCPServer(name: "t", version: "1")
        mcp.tool("count") { (arguments: AddArguments, context: MCPContext) in
            await context.progress(1, total: 2)
            try await Task.sleep(for: .milliseconds(300))
            await context.progress(2, total: 2)
            return AddResult(sum: arguments.a)
        }
        app.mount(mcp, at: "/mcp")
        try await app.test(.live) { testClient in
            let http = try MCPHTTPClient(origin: URL(string: "http://127.0.0.1:\(testClient.serverAddress!.port!)")!)
            defer { http.shutdown() }
            let session = Collected<String>()
            let initialize =
                #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"#
            let headers = [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")]
            try await http.execute(.POST, "/mcp", headers: headers, body: ByteBuffer(string: initialize)) { part in
                if case .head(let head) = part, let id = head.headers["mcp-session-id"].first { session.append(id) }
            }
            let id = try #require(session.values.first)
            // Read the call's stream up to its first event, then hang up.
            let first = Collected<String>()
            struct HangUp: Error {}
            let call = #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"count","arguments":{"a":4,"b":0},"_meta":{"progressToken":"p"}}}"#
            await #expect(throws: HangUp.self) {
                try await http.execute(.POST, "/mcp", headers: headers + [("Mcp-Session-Id", id)], body: ByteBuffer(string: call)) { part in
                    guard case .body(let bytes) = part else { return }
                    first.append(String(buffer: bytes))
                    if first.values.joined().contains("\n\n") { throw HangUp() }
                }
            }
            let lastEventID = try #require(first.values.joined().split(separator: "\n").first { $0.hasPrefix("id: ") }?.dropFirst(4))
            let rest = Collected<String>()
            try await http.execute(
                .GET, "/mcp", headers: [("Accept", "text/event-stream"), ("Mcp-Session-Id", id), ("Last-Event-ID", String(lastEventID))]
            ) { part in
                if case .body(let bytes) = part { rest.append(String(buffer: bytes)) }
            }
            let resumed = rest.values.joined()
            #expect(!resumed.contains(#""progress":1"#))
            #expect(resumed.contains(#""progress":2"#))
            #expect(resumed.contains(#""id":2,"result""#))
        }
    }
}
