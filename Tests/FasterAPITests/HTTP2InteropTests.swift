import Foundation
import PeerSupport
import Testing

/// HTTP/2 against independent implementations, on the demo app: a strict frame-level client
/// written on Python's `h2` (RFC 9113 behaviour: settings, CONTINUATION, flow control, invalid
/// frames and the error codes they get, limits and floods, two-step GOAWAY on shutdown), and
/// real clients (`httpx`, `curl`, `nghttp`, `h2load`), in cleartext and over TLS. Each script
/// starts its own demo and prints one JSON line per case.
@Suite(.serialized)
struct HTTP2InteropTests {
    struct CaseResult: Decodable {
        let `case`: String
        let ok: Bool
        let detail: String?
    }

    /// Runs `script --demo DEMO extra…` and records every case it reports.
    static func run(_ script: String, _ extra: [String] = []) async throws {
        let output = try await Peers.python(
            script: script, ["--demo", try Peers.demoExecutable()] + extra, timeout: 240)
        let results = output.stdout.split(separator: "\n").compactMap {
            try? JSONDecoder().decode(CaseResult.self, from: Data($0.utf8))
        }
        #expect(!results.isEmpty, "no cases reported:\n\(output.stdout)\n\(output.stderr)")
        for result in results {
            #expect(result.ok, "\(script) \(extra): \(result.case): \(result.detail ?? "")")
        }
        #expect(output.status == 0, "\(script) \(extra) exited \(output.status):\n\(output.stderr)")
    }

    @Test(arguments: [[String](), ["--tls"]])
    func frameLevelConformance(_ extra: [String]) async throws {
        try await Self.run("h2_conformance.py", extra)
    }

    @Test func realClients() async throws {
        try await Self.run("h2_clients.py")
    }
}
