import Foundation
import PeerSupport
import Logging
import NIOCore
import Testing

@testable import FasterAPI

/// What the JSON routes send and receive.
private struct Greeting: Codable, Sendable, Equatable {
    var message: String
    var numbers: [Int]
}

private struct Payload: Codable, Sendable, Equatable {
    var name: String
    var numbers: [Int]
    var received: Bool?
}

/// The app the strict clients talk to.
private func makeInteropApp() -> App {
    var logger = Logger(label: "InteropTests")
    logger.logLevel = .warning
    let app = App(logger: logger)
    app.get("/text") { _ in "Hello, interop!" }
    app.get("/json") { _ in Greeting(message: "hi", numbers: [1, 2, 3]) }
    app.get("/peer") { request in "\(request.clientAddress?.port ?? -1)" }
    app.post("/json-echo") { request in
        var payload = try await request.json(Payload.self)
        payload.received = true
        return payload
    }
    app.post("/echo") { request -> Response in
        let framing =
            request.headers.contains("transfer-encoding")
            ? "chunked" : request.headers.contains("content-length") ? "length" : "none"
        let body = try await request.body.collect(upTo: 16 * 1024 * 1024)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/octet-stream")
        headers.add(name: "X-Request-Framing", value: framing)
        return Response(status: .ok, headers: headers, body: ResponseBody(buffer: body))
    }
    app.get("/stream") { request in
        let count = try request.query.get("count", as: Int.self) ?? 4
        let size = try request.query.get("size", as: Int.self) ?? 16
        return StreamingResponse { writer in
            for index in 0..<count {
                try await writer.write(ByteBuffer(repeating: UInt8(97 + index % 26), count: size))
                if index % 16 == 0 { try await Task.sleep(for: .milliseconds(2)) }
            }
        }
    }
    return app
}

/// Runs `body` with the app served live on 127.0.0.1 at a free port.
private func withInteropServer(_ body: (Int) async throws -> Void) async throws {
    let server = makeInteropApp().makeServer(host: "127.0.0.1", port: 0)
    let address = try await server.start()
    let port = try #require(address.port)
    do {
        try await body(port)
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
}

/// Runs a script from `Interop/` and decodes the JSON summary it prints.
private func runScript<Summary: Decodable>(
    _ script: String, _ arguments: [String], as type: Summary.Type
) async throws -> Summary {
    #expect(
        FileManager.default.isExecutableFile(atPath: Peers.python),
        "no Python with the peers at \(Peers.python): run scripts/test.sh or set FASTERAPI_PYTHON")
    let output = try await Peers.python(script: script, arguments, timeout: 60)
    #expect(output.status == 0, "\(script) failed (\(output.status)):\n\(output.stdout)\n\(output.stderr)")
    let line = try #require(
        output.stdout.split(separator: "\n").last, "\(script) printed no summary; stderr:\n\(output.stderr)")
    return try JSONDecoder().decode(Summary.self, from: Data(line.utf8))
}

// MARK: - httpx

private struct HTTPXSummary: Decodable {
    struct Text: Decodable {
        var status: Int
        var body: String
        var content_type: String?
        var content_length: String?
        var http_version: String
    }
    struct JSONGet: Decodable {
        var status: Int
        var content_type: String?
        var value: Greeting
    }
    struct JSONPost: Decodable {
        var status: Int
        var value: Payload
    }
    struct EchoFixed: Decodable {
        var status: Int
        var matches: Bool
        var framing: String?
    }
    struct Stream: Decodable {
        var status: Int
        var transfer_encoding: String?
        var content_length: String?
        var bytes: Int
        var sha_matches: Bool
    }
    struct Upload: Decodable {
        var status: Int
        var framing: String?
        var bytes: Int
        var sha_matches: Bool
    }
    struct Head: Decodable {
        var status: Int
        var content_length: String?
        var body_bytes: Int
    }
    struct NotFound: Decodable {
        var status: Int
        var content_type: String?
    }
    var failures: [String]
    var text: Text
    var json_get: JSONGet
    var json_post: JSONPost
    var echo_fixed: EchoFixed
    var stream: Stream
    var chunked_upload: Upload
    var head: Head
    var not_found: NotFound
    var peer_ports: [String]
}

// MARK: - h11

private struct H11Summary: Decodable {
    struct Exchange: Decodable {
        var status: Int
        var body: String
        var content_length: String?
        var transfer_encoding: String?
        var connection: String?
        var informational: [Int]
    }
    var failures: [String]
    var sequential: [Exchange]
    var pipelined: [Exchange]
    var json_post: Payload
    var stream_data_events: Int
    var waiting_for_100: Bool
    var close: Exchange
    var server_closed: Bool
}

@Suite("Interop: strict third-party HTTP/1.1 clients against a live app")
struct InteropTests {
    @Test func httpxClient() async throws {
        try await withInteropServer { port in
            let summary = try await runScript("httpx_client.py", ["http://127.0.0.1:\(port)"], as: HTTPXSummary.self)
            #expect(summary.failures.isEmpty, "\(summary.failures)")
            // One connection served every exchange (streamed, chunked, HEAD and 404 included).
            #expect(summary.peer_ports.count == 2)
            #expect(Set(summary.peer_ports).count == 1, "connection not reused: \(summary.peer_ports)")

            #expect(summary.text.status == 200)
            #expect(summary.text.body == "Hello, interop!")
            #expect(summary.text.content_type?.hasPrefix("text/plain") == true)
            #expect(summary.text.content_length == "15")
            #expect(summary.text.http_version == "HTTP/1.1")

            #expect(summary.json_get.status == 200)
            #expect(summary.json_get.content_type?.hasPrefix("application/json") == true)
            #expect(summary.json_get.value == Greeting(message: "hi", numbers: [1, 2, 3]))

            #expect(summary.json_post.status == 200)
            #expect(summary.json_post.value == Payload(name: "Ada", numbers: [1, 2, 3], received: true))

            #expect(summary.echo_fixed.matches)
            #expect(summary.echo_fixed.framing == "length")

            #expect(summary.stream.status == 200)
            #expect(summary.stream.transfer_encoding == "chunked")
            #expect(summary.stream.content_length == nil)
            #expect(summary.stream.bytes == 64 * 32 * 1024)
            #expect(summary.stream.sha_matches)

            #expect(summary.chunked_upload.status == 200)
            #expect(summary.chunked_upload.framing == "chunked")
            #expect(summary.chunked_upload.bytes == 64 * 4096)
            #expect(summary.chunked_upload.sha_matches)

            #expect(summary.head.status == 200)
            #expect(summary.head.content_length == "15")
            #expect(summary.head.body_bytes == 0)

            #expect(summary.not_found.status == 404)
        }
    }

    @Test func h11StrictClient() async throws {
        try await withInteropServer { port in
            let summary = try await runScript("h11_client.py", ["127.0.0.1", "\(port)"], as: H11Summary.self)
            #expect(summary.failures.isEmpty, "\(summary.failures)")

            let sequential = summary.sequential
            #expect(sequential.map(\.status) == [200, 200, 200, 200, 200, 200])
            guard sequential.count == 6 else { return }
            #expect(sequential[0].body == "Hello, interop!")
            #expect(summary.json_post == Payload(name: "Grace", numbers: [4, 5], received: true))
            #expect(sequential[2].body == "chunk-one|chunk-two|three")
            // HEAD: the length of the GET, no body.
            #expect(sequential[3].content_length == "15")
            #expect(sequential[3].body.isEmpty)
            // Chunked response, decoded by h11.
            #expect(sequential[4].transfer_encoding == "chunked")
            #expect(sequential[4].body == "aaabbbcccdddeee")
            #expect(summary.stream_data_events >= 1)
            // Expect: 100-continue: the 100 came, then the echo.
            #expect(summary.waiting_for_100)
            #expect(sequential[5].informational == [100])
            #expect(sequential[5].body == "sent after 100 Continue")
            #expect(sequential.allSatisfy { $0.connection == nil })

            let pipelined = summary.pipelined
            #expect(pipelined.map(\.status) == [200, 200, 200, 200, 200, 200])
            guard pipelined.count == 6 else { return }
            #expect(pipelined[0].body == "Hello, interop!")
            #expect(pipelined[1].body.isEmpty)
            #expect(pipelined[2].body == "aaaabbbbcccc")
            #expect(pipelined[2].transfer_encoding == "chunked")
            #expect(pipelined[3].body == "pipelined body")
            #expect(pipelined[4].body.isEmpty)
            #expect(pipelined[4].content_length == "15")
            #expect(pipelined[5].body.contains(#""message":"hi""#))

            #expect(summary.close.status == 200)
            #expect(summary.close.connection == "close")
            #expect(summary.server_closed)
        }
    }
}
