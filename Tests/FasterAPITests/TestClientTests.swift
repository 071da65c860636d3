import NIOCore
import Testing

@testable import FasterAPI

/// The test client's own promises: one API, both modes, streamed bodies included.
@Suite("Test client")
struct TestClientTests {
    @Test(arguments: TestMode.allCases)
    func streamedBodiesReachHandlersAsStreams(_ mode: TestMode) async throws {
        let app = App()
        app.post("/count") { request in
            var chunks = 0
            var bytes = 0
            for try await chunk in request.body {
                chunks += 1
                bytes += chunk.readableBytes
            }
            return "\(request.headers["transfer-encoding"] ?? "-") \(chunks > 0) \(bytes)"
        }
        try await app.test(mode) { client throws in
            let pieces = ["alpha", "beta", "gamma"].map { ByteBuffer(string: $0) }
            let response = try await client.execute(.post, "/count", chunks: pieces)
            // HTTP/2 frames the body itself: no Transfer-Encoding field.
            #expect(response.text == (mode == .http2 ? "- true 14" : "chunked true 14"))
            // A second request on the same client (the same connection when live) still works.
            #expect(try await client.execute(.post, "/count", text: "xyz").text == "- true 3")
        }
    }
}
