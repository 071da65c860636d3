import Foundation
import NIOCore
import Synchronization
import Testing

@testable import QUIC

/// Our client and our server over real UDP on 127.0.0.1, through the async session API.
@Suite("QUIC sessions: async streams over real sockets")
struct QUICSessionTests {
    static func endpoint(_ onSession: @escaping @Sendable (QUICSession) async -> Void) async throws -> (QUICServerEndpoint, QUICClient) {
        let (certificate, key) = try makeCertificate("ec")
        var parameters = ConnectionPair.parameters
        parameters.initialMaxStreamsBidi = 20
        parameters.initialMaxStreamDataBidiRemote = 64 << 10
        parameters.initialMaxData = 256 << 10
        let endpoint = try await QUICServerEndpoint.bind(
            host: "127.0.0.1", port: 0,
            configuration: QUICTLSConfiguration(applicationProtocols: ["test"], certificateChainPEM: certificate, privateKeyPEM: key),
            parameters: parameters, onSession: onSession)
        let client = try await QUICClient.connect(
            host: "127.0.0.1", port: endpoint.localAddress!.port!, serverName: "localhost",
            configuration: QUICTLSConfiguration(applicationProtocols: ["test"], trustRootsPEM: certificate))
        return (endpoint, client)
    }

    @Test("200 streams opened by the client (20 at a time under MAX_STREAMS) are echoed; the server opens streams of both kinds too")
    func concurrentStreamsBothWays() async throws {
        let (endpoint, client) = try await Self.endpoint { session in
            // The server's own streams: one bidirectional (answered by the client), one unidirectional.
            async let pushed: Void = {
                let bidirectional = try await session.openBidirectionalStream()
                try await bidirectional.write(ByteBuffer(string: "ping"), finish: true)
                let answer = try await bidirectional.readAll()
                let unidirectional = try await session.openUnidirectionalStream()
                try await unidirectional.write(ByteBuffer(string: "got \(String(buffer: answer))"), finish: true)
            }()
            await withDiscardingTaskGroup { group in
                for await stream in session.incomingStreams {
                    group.addTask {
                        guard let request = try? await stream.readAll() else { return }
                        try? await stream.write(ByteBuffer(string: "echo " + String(buffer: request)), finish: true)
                    }
                }
            }
            try? await pushed
        }
        let session = client.session
        // The server's streams arrive at the client.
        let fromServer = Task {
            var seen: [String] = []
            for await stream in session.incomingStreams {
                let bytes = try await stream.readAll()
                if stream.isBidirectional {
                    try await stream.write(ByteBuffer(string: "pong"), finish: true)
                }
                seen.append(String(buffer: bytes))
                if seen.count == 2 { break }
            }
            return seen
        }
        let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for index in 0..<200 {
                group.addTask {
                    let stream = try await session.openBidirectionalStream()
                    try await stream.write(ByteBuffer(string: "\(index)"), finish: true)
                    return (index, String(buffer: try await stream.readAll()))
                }
            }
            return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
        }
        #expect(answers.count == 200)
        #expect(answers.allSatisfy { $0.value == "echo \($0.key)" })
        let seen = try await fromServer.value
        #expect(seen == ["ping", "got pong"])
        try await client.close()
        try await endpoint.close()
    }

    @Test("Back-pressure: a writer waits while its reader does not read, and both finish once it does; 4 MB arrive intact")
    func backPressure() async throws {
        let body = ByteBuffer(bytes: (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 12) })
        let written = ManagedCounter()
        let (endpoint, client) = try await Self.endpoint { session in
            for await stream in session.incomingStreams {
                _ = try? await stream.readAll()
                var rest = body
                while let piece = rest.readSlice(length: min(256 << 10, rest.readableBytes)), piece.readableBytes > 0 {
                    try? await stream.write(piece)
                    written.add(piece.readableBytes)
                }
                try? await stream.finish()
            }
        }
        let stream = try await client.session.openBidirectionalStream()
        try await stream.write(ByteBuffer(string: "GET"), finish: true)
        try await Task.sleep(for: .milliseconds(500))
        // The server could not get far: the client's stream window (2 MiB), the unsent high
        // water (1 MiB) and the piece being written.
        #expect(written.value <= (2 << 20) + (1 << 20) + (256 << 10))
        #expect(written.value < body.readableBytes)
        let received = try await stream.readAll()
        #expect(received == body)
        #expect(written.value == body.readableBytes)
        try await client.close()
        try await endpoint.close()
    }

    @Test("A reset stream fails its reader with the code; STOP_SENDING fails the writer with the peer's code")
    func resetAndStop() async throws {
        let (endpoint, client) = try await Self.endpoint { session in
            for await stream in session.incomingStreams {
                let request = (try? await stream.read()).flatMap { $0.map { String(buffer: $0) } }
                if request == "reset me" {
                    try? await stream.write(ByteBuffer(string: "partial"))
                    await stream.reset(errorCode: 42)
                } else {
                    await stream.stopSending(errorCode: 7)
                }
            }
        }
        let first = try await client.session.openBidirectionalStream()
        try await first.write(ByteBuffer(string: "reset me"), finish: true)
        await #expect(throws: QUICStreamError.reset(errorCode: 42)) { _ = try await first.readAll() }
        let second = try await client.session.openBidirectionalStream()
        try await second.write(ByteBuffer(string: "x"))
        var failure: QUICStreamError?
        for _ in 0..<100 {
            do {
                try await second.write(ByteBuffer(repeating: 1, count: 1000))
                try await Task.sleep(for: .milliseconds(10))
            } catch let error as QUICStreamError {
                failure = error
                break
            }
        }
        #expect(failure == .stopped(errorCode: 7))
        try await client.close()
        try await endpoint.close()
    }
}

extension QUICSessionTests {
    @Test("NEW_TOKEN: a client coming back with the server's token skips the Retry the server demands of unproven addresses")
    func newToken() async throws {
        let (certificate, key) = try makeCertificate("ec")
        let endpoint = try await QUICServerEndpoint.bind(
            host: "127.0.0.1", port: 0,
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key),
            parameters: ConnectionPair.parameters, requireRetry: true, onSession: serving { _ in Array("hello".utf8) })
        let port = try #require(endpoint.localAddress?.port)
        let configuration = QUICTLSConfiguration(applicationProtocols: ["hq-interop"], trustRootsPEM: certificate)
        func retried(_ client: QUICClient) async throws -> Bool {
            let driver = client.session.driver
            return try await client.session.eventLoop.submit { driver.value.connection.wasRetried }.get()
        }
        let first = try await QUICClient.connect(host: "127.0.0.1", port: port, serverName: "localhost", configuration: configuration)
        #expect(try await retried(first))
        var token: [UInt8]?
        for _ in 0..<100 where token == nil {
            token = try await first.session.addressToken()
            if token == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        try await first.close()
        let second = try await QUICClient.connect(
            host: "127.0.0.1", port: port, serverName: "localhost", configuration: configuration, token: try #require(token))
        #expect(try await !retried(second))
        #expect(try await second.get("/") == Array("hello".utf8))
        try await second.close()
        // A token altered on the way is worth nothing: Retry again.
        var forged = try #require(token)
        forged[forged.count - 1] ^= 1
        let third = try await QUICClient.connect(host: "127.0.0.1", port: port, serverName: "localhost", configuration: configuration, token: forged)
        #expect(try await retried(third))
        try await third.close()
        try await endpoint.close()
    }
}

extension QUICSessionTests {
    @Test("The README's echo example, as written, with the recommended limits")
    func readmeExample() async throws {
        let (chain, key) = try makeCertificate("ec")
        let endpoint = try await QUICServerEndpoint.bind(
            host: "127.0.0.1", port: 0,
            configuration: QUICTLSConfiguration(applicationProtocols: ["echo"], certificateChainPEM: chain, privateKeyPEM: key)
        ) { session in
            for await stream in session.incomingStreams {
                Task { try await stream.write(try await stream.readAll(), finish: true) }
            }
        }
        let client = try await QUICClient.connect(
            host: "127.0.0.1", port: endpoint.localAddress!.port!, serverName: "localhost",
            configuration: QUICTLSConfiguration(applicationProtocols: ["echo"], trustRootsPEM: chain))
        let stream = try await client.session.openBidirectionalStream()
        try await stream.write(ByteBuffer(string: "hello"), finish: true)
        let echoed = try await stream.readAll()
        #expect(String(buffer: echoed) == "hello")
        try await client.close()
        try await endpoint.close()
    }
}

/// A counter shared between tasks.
final class ManagedCounter: Sendable {
    private let storage = Mutex(0)
    func add(_ count: Int) { storage.withLock { $0 += count } }
    var value: Int { storage.withLock { $0 } }
}
