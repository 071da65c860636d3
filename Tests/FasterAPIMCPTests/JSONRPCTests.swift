import FasterAPI
import NIOCore
import Testing

@testable import FasterAPIMCP

@Suite("JSON-RPC 2.0 envelope")
struct JSONRPCTests {
    private func decode(_ text: String) -> JSONRPCPayload { JSONRPCPayload.decode(ByteBuffer(string: text)) }

    @Test("Requests, notifications, responses and errors are told apart; ids keep their type")
    func kinds() {
        #expect(
            decode(#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}"#)
                == .single(.success(.request(id: .int(7), method: "tools/list", params: .object(JSONObject())))))
        #expect(
            decode(#"{"jsonrpc":"2.0","id":"7","method":"ping"}"#)
                == .single(.success(.request(id: .string("7"), method: "ping", params: nil))))
        #expect(
            decode(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
                == .single(.success(.notification(method: "notifications/initialized", params: nil))))
        #expect(
            decode(#"{"jsonrpc":"2.0","id":1,"result":{"ok":true}}"#)
                == .single(.success(.response(id: .int(1), result: ["ok": true]))))
        #expect(
            decode(#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"nope"}}"#)
                == .single(.success(.error(id: .int(1), JSONRPCError(code: -32601, message: "nope")))))
    }

    @Test(
        "Bad input gets the right code, with the id when it could be read",
        arguments: [
            (#"{"jsonrpc":"2.0","id":1,"method":"#, -32700, nil),
            (#"[]"#, -32600, nil),
            (#"42"#, -32600, nil),
            (#"{"id":3,"method":"ping"}"#, -32600, JSONRPCID.int(3)),
            (#"{"jsonrpc":"1.0","id":"a","method":"ping"}"#, -32600, JSONRPCID.string("a")),
            (#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#, -32600, nil),
            (#"{"jsonrpc":"2.0","id":4,"method":12}"#, -32600, JSONRPCID.int(4)),
            (#"{"jsonrpc":"2.0","id":5,"method":"x","params":"s"}"#, -32600, JSONRPCID.int(5)),
            (#"{"jsonrpc":"2.0","id":null,"method":"x"}"#, -32600, nil),
            (#"{"jsonrpc":"2.0","id":6}"#, -32600, JSONRPCID.int(6)),
        ])
    func errors(text: String, code: Int, id: JSONRPCID?) {
        guard case .single(.failure(let failure)) = decode(text) else {
            Issue.record("\(text) was accepted")
            return
        }
        #expect(failure.error.code == code)
        #expect(failure.id == id)
    }

    @Test("A batch reads each element on its own")
    func batch() {
        guard case .batch(let elements) = decode(#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"bad":true},{"jsonrpc":"2.0","method":"b"}]"#)
        else {
            Issue.record("not a batch")
            return
        }
        #expect(elements.count == 3)
        #expect(elements[0] == .success(.request(id: .int(1), method: "a", params: nil)))
        #expect((try? elements[1].get()) == nil)
        #expect(elements[2] == .success(.notification(method: "b", params: nil)))
    }

    @Test("Messages encode to compact JSON with the id echoed exactly")
    func encoding() throws {
        let response = JSONRPCMessage.response(id: .string("x-1"), result: ["sum": 3])
        #expect(String(buffer: try response.encoded()) == #"{"jsonrpc":"2.0","id":"x-1","result":{"sum":3}}"#)
        let error = JSONRPCMessage.error(id: nil, .parseError("bad"))
        #expect(String(buffer: try error.encoded()) == #"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error: bad"}}"#)
    }
}
