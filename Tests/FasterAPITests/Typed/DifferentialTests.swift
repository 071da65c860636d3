import Foundation
import PeerSupport
import Logging
import Testing

@testable import FasterAPI

/// The same API in FastAPI (Interop/differential_app.py) and in FasterAPI (DifferentialAPI):
/// every case in Interop/differential_cases.json must get the same status, the same JSON body,
/// and for 422 the same `type` and `loc` for each problem, in the same order.
///
/// Deliberate differences are left out of the cases: FasterAPI answers `HEAD` on `GET` routes and
/// lists every method of a path in a 405's `Allow` (FastAPI: 405 for `HEAD`, and only the first
/// matching route's methods); integers beyond 64 bits are `int_parsing_size` (Python's are unbounded).
@Suite(.serialized)
struct DifferentialTests {
    @Test func answersLikeFastAPI() async throws {
        var logger = Logger(label: "DifferentialTests")
        logger.logLevel = .critical
        let app = App(logger: logger)
        app.include(DifferentialAPI())
        let server = app.makeServer(host: "127.0.0.1", port: 0)
        let address = try await server.start()
        let fastapi = try await PeerServer.start(script: "differential_app.py")
        defer { fastapi.stop() }
        let output = try await Peers.python(
            script: "differential.py",
            [
                "--cases",
                Peers.repositoryRoot.appendingPathComponent(
                    "Tests/FasterAPITests/Interop/differential_cases.json"
                ).path,
                "--left", "http://127.0.0.1:\(fastapi.port)", "--right", "http://127.0.0.1:\(address.port ?? 0)",
            ], timeout: 120)
        await server.shutdown()
        #expect(output.status == 0, "\(output.stdout)\n\(output.stderr)")
    }
}
