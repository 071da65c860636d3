import FasterAPI
import NIOCore
import Testing

@testable import FasterAPIMCP

@Suite("MCP server session lifecycle")
struct MCPServerSessionTests {
    private func session() -> MCPServerSession {
        MCPServerSession(info: MCPServerInfo(name: "catalogue", version: "1.0.0", capabilities: ["tools": [:]]))
    }

    private func receive(_ session: inout MCPServerSession, _ text: String) -> [MCPServerSession.Action] {
        session.receive(JSONRPCPayload.decode(ByteBuffer(string: text)))
    }

    private func initialize(_ version: String) -> String {
        #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"\#(version)","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#
    }

    @Test("initialize answers with the client's version when supported, else the newest", arguments: [
        ("2024-11-05", "2024-11-05"), ("2025-03-26", "2025-03-26"), ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"), ("2099-01-01", "2025-11-25"),
    ])
    func negotiation(requested: String, answered: String) throws {
        var session = session()
        let actions = receive(&session, initialize(requested))
        guard case .answer(.response(.int(1), .object(let result))) = actions.first else {
            Issue.record("no initialize result: \(actions)")
            return
        }
        #expect(result["protocolVersion"] == .string(answered))
        #expect(result["serverInfo"] == ["name": "catalogue", "version": "1.0.0"])
        #expect(result["capabilities"] == ["tools": [:]])
        #expect(session.phase == .initializing(version: answered))
        #expect(receive(&session, #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#) == [.none])
        #expect(session.phase == .ready(version: answered))
    }

    @Test("Before initialize only ping works; requests get -32600 and the session goes on")
    func beforeInitialize() {
        var session = session()
        #expect(
            receive(&session, #"{"jsonrpc":"2.0","id":"p","method":"ping"}"#)
                == [.answer(.response(id: .string("p"), result: .object(JSONObject())))])
        guard case .answer(.error(.int(2), let error)) = receive(&session, #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#).first
        else {
            Issue.record("tools/list before initialize was not refused")
            return
        }
        #expect(error.code == -32600)
        #expect(receive(&session, #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}"#) == [.none])
        // A newer protocol's probe is "method not found", so the client falls back to initialize.
        guard case .answer(.error(.int(3), let probe)) = receive(&session, #"{"jsonrpc":"2.0","id":3,"method":"server/discover"}"#).first
        else {
            Issue.record("server/discover was not answered")
            return
        }
        #expect(probe.code == -32601)
        guard case .answer(.response) = receive(&session, initialize("2025-06-18")).first else {
            Issue.record("initialize after a refused request failed")
            return
        }
    }

    @Test("After initialize, requests go to their handlers and a second initialize is refused")
    func operation() {
        var session = session()
        _ = receive(&session, initialize("2025-06-18"))
        #expect(
            receive(&session, #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add"}}"#)
                == [.handle(id: .int(3), method: "tools/call", params: ["name": "add"])])
        guard case .answer(.error(.int(1), let error)) = receive(&session, initialize("2025-06-18")).first else {
            Issue.record("a second initialize was accepted")
            return
        }
        #expect(error.code == -32600)
        #expect(
            receive(&session, #"{"jsonrpc":"2.0","id":9,"result":{"roots":[]}}"#)
                == [.reply(id: .int(9), result: .success(["roots": []]))])
    }

    @Test("initialize without a protocolVersion is -32602")
    func badInitialize() {
        var session = session()
        guard case .answer(.error(.int(1), let error)) = receive(&session, #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#).first
        else {
            Issue.record("accepted")
            return
        }
        #expect(error.code == -32602)
        #expect(session.phase == .awaitingInitialize)
    }

    @Test("Batches only under 2025-03-26, answered element by element")
    func batches() {
        let batch = #"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]"#
        var old = session()
        _ = receive(&old, initialize("2025-03-26"))
        #expect(
            receive(&old, batch) == [
                .answer(.response(id: .int(1), result: .object(JSONObject()))),
                .handle(id: .int(2), method: "tools/list", params: nil),
            ])
        var new = session()
        _ = receive(&new, initialize("2025-06-18"))
        guard case .answer(.error(nil, let error)) = receive(&new, batch).first else {
            Issue.record("a batch was accepted under 2025-06-18")
            return
        }
        #expect(error.code == -32600)
    }
}

@Suite("MCP logging level and completion")
struct MCPLoggingTests {
    @Test("logging/setLevel takes RFC 5424's levels and refuses others with -32602")
    func setLevel() {
        var session = MCPServerSession(info: MCPServerInfo(name: "t", version: "1"))
        _ = session.receive(
            JSONRPCPayload.decode(
                ByteBuffer(
                    string:
                        #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"#
                )))
        let set = session.receive(JSONRPCPayload.decode(ByteBuffer(string: #"{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"warning"}}"#)))
        #expect(set == [.answer(.response(id: .int(2), result: .object(JSONObject())))])
        #expect(session.logLevel == .warning)
        #expect(MCPLogLevel.error > .warning && MCPLogLevel.debug < .info)
        guard case .answer(.error(.int(3), let error)) = session.receive(JSONRPCPayload.decode(ByteBuffer(string: #"{"jsonrpc":"2.0","id":3,"method":"logging/setLevel","params":{"level":"loud"}}"#))).first
        else {
            Issue.record("a bad level was accepted")
            return
        }
        #expect(error.code == -32602)
    }

    @Test("completion/complete answers the registered suggestions, an empty list for others, -32602 for a bad reference")
    func completion() async {
        let server = MCPServer(name: "t", version: "1")
        server.completion(prompt: "p", argument: "lang") { partial in ["swift", "scala", "python"].filter { $0.hasPrefix(partial) } }
        server.completion(template: "items://{id}", variable: "id") { partial in (1...150).map(String.init).filter { $0.hasPrefix(partial) } }
        let driver = MCPSessionDriver(server: server, send: { _ in })
        _ = await driver.answers(
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"#
        )
        let good = await driver.answers(
            #"{"jsonrpc":"2.0","id":2,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"x"}}}"#
        )
        #expect(good == [.response(id: .int(2), result: ["completion": ["values": [], "total": 0, "hasMore": false]])])
        let languages = await driver.answers(
            #"{"jsonrpc":"2.0","id":4,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"lang","value":"s"}}}"#
        )
        #expect(languages == [.response(id: .int(4), result: ["completion": ["values": ["swift", "scala"], "total": 2, "hasMore": false]])])
        let ids = await driver.answers(
            #"{"jsonrpc":"2.0","id":5,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"items://{id}"},"argument":{"name":"id","value":""}}}"#
        )
        guard case .response(_, let result)? = ids.first, let completion = result.objectValue?["completion"]?.objectValue else {
            Issue.record("no completion: \(ids)")
            return
        }
        #expect(completion["values"]?.arrayValue?.count == 100)
        #expect(completion["total"] == 150)
        #expect(completion["hasMore"] == true)
        let bad = await driver.answers(#"{"jsonrpc":"2.0","id":3,"method":"completion/complete","params":{}}"#)
        guard case .error(.int(3), let error) = bad.first else {
            Issue.record("accepted")
            return
        }
        #expect(error.code == -32602)
    }
}

extension MCPSessionDriver {
    /// The answers to `text`, once its requests have ended (messages sent on the way are dropped).
    func answers(_ text: String) async -> [JSONRPCMessage] {
        await accept(JSONRPCPayload.decode(ByteBuffer(string: text)), related: { _ in }).collect()
    }
}
