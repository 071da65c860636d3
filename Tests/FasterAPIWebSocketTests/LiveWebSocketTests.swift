import FasterAPI
import FasterAPIWebSocket
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// Fails a route unless `Authorization: Bearer letmein` came with it.
struct Caller: Dependency {
    let name: String
    static var dependency: DependencyProvider<Caller> {
        DependencyProvider(inputs: []) { reader in
            guard reader.request.headers["authorization"] == "Bearer letmein" else {
                throw HTTPError(.unauthorized, detail: "Not authenticated", headers: HTTPHeaders([("WWW-Authenticate", "Bearer")]))
            }
            return Caller(name: "alice")
        }
    }
}

@Routes struct RoomRoutes {
    /// Greets the caller in the room, then echoes.
    @GET("/rooms/{room}/ws", includeInSchema: false)
    func room(room: String, @Depends caller: Caller, @Depends upgrade: WebSocketUpgrade) -> Response {
        upgrade.accept(subprotocols: ["chat.v2", "chat.v1"]) { ws in
            try await ws.send("\(caller.name) joined \(room)")
            for try await message in ws.messages { try await ws.send(message) }
        }
    }
}

/// A live app with WebSocket routes, and our client connected to it.
private func withServer(
    configuration: WebSocketConfiguration = WebSocketConfiguration(), origins: WebSocketOriginPolicy = .any,
    _ routes: (App) -> Void = { _ in }, _ body: (TestClient, String) async throws -> Void
) async throws {
    let app = App()
    app.websocket("/echo", subprotocols: ["echo"], origins: origins, configuration: configuration) { ws, _ in
        for try await message in ws.messages {
            if message.text == "close" {
                try await ws.close(code: WebSocketCloseCode(rawValue: 4000), reason: "asked to")
                return
            }
            try await ws.send(message)
        }
    }
    app.include(RoomRoutes())
    routes(app)
    try await app.test(.live) { client in
        try await body(client, "ws://127.0.0.1:\(client.serverAddress!.port!)")
    }
}

private func handshakeHeaders(key: String = "dGhlIHNhbXBsZSBub25jZQ==", version: String = "13") -> HTTPHeaders {
    HTTPHeaders([
        ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", version),
    ])
}

@Suite struct LiveWebSocketTests {
    @Test func echoesTextBinaryAndJSONWithCompression() async throws {
        try await withServer { _, base in
            let ws = try await WebSocketClient.connect(to: base + "/echo", subprotocols: ["other", "echo"])
            #expect(ws.subprotocol == "echo")
            #expect(ws.extensions?.hasPrefix("permessage-deflate") == true)
            var iterator = ws.messages.makeAsyncIterator()
            try await ws.send("héllo")
            #expect(try await iterator.next() == .text("héllo"))
            let big = ByteBuffer(repeating: 7, count: 3 << 20)
            try await ws.send(big)
            #expect(try await iterator.next() == .binary(big))
            try await ws.send(json: ["a": 1])
            #expect(try await iterator.next()?.decode([String: Int].self) == ["a": 1])
            try await ws.close(code: .normalClosure, reason: "done")
            #expect(try await iterator.next() == nil)
            #expect(await ws.closeCode == .normalClosure)
        }
    }

    @Test func fragmentedMessagesBothWays() async throws {
        var fragmenting = WebSocketConfiguration()
        fragmenting.outgoingFragmentSize = 1000
        fragmenting.compression = nil
        try await withServer(configuration: fragmenting) { _, base in
            let ws = try await WebSocketClient.connect(to: base + "/echo", configuration: fragmenting)
            let text = String(repeating: "fragments ✂︎ ", count: 2000)
            try await ws.send(text)
            var iterator = ws.messages.makeAsyncIterator()
            #expect(try await iterator.next() == .text(text))
            try await ws.close()
        }
    }

    @Test func serverCloseCodeReachesTheClient() async throws {
        try await withServer { _, base in
            let ws = try await WebSocketClient.connect(to: base + "/echo")
            try await ws.send("close")
            var iterator = ws.messages.makeAsyncIterator()
            #expect(try await iterator.next() == nil)
            #expect(await ws.closeCode == WebSocketCloseCode(rawValue: 4000))
            #expect(await ws.closeReason == "asked to")
        }
    }

    @Test func tooBigMessagesCloseWith1009() async throws {
        var small = WebSocketConfiguration()
        small.maxMessageSize = 1000
        try await withServer(configuration: small) { _, base in
            let ws = try await WebSocketClient.connect(to: base + "/echo")
            try await ws.send(ByteBuffer(repeating: 1, count: 2000))
            var iterator = ws.messages.makeAsyncIterator()
            #expect(try await iterator.next() == nil)
            #expect(await ws.closeCode == .messageTooBig)
        }
    }

    @Test func handshakeErrorsAreHTTPAnswers() async throws {
        try await withServer(origins: .sameHost) { client, base in
            let plain = try await client.get("/echo")
            #expect(plain.status == .upgradeRequired)
            #expect(plain.headers["upgrade"] == "websocket")
            let badKey = try await client.get("/echo", headers: handshakeHeaders(key: "short"))
            #expect(badKey.status == .badRequest)
            let oldVersion = try await client.get("/echo", headers: handshakeHeaders(version: "8"))
            #expect(oldVersion.status == .upgradeRequired)
            #expect(oldVersion.headers["sec-websocket-version"] == "13")
            var foreign = handshakeHeaders()
            foreign.add(name: "Origin", value: "https://evil.example")
            #expect(try await client.get("/echo", headers: foreign).status == .forbidden)
            // The same host is allowed.
            let port = client.serverAddress!.port!
            let ws = try await WebSocketClient.connect(to: base + "/echo", headers: [("Origin", "http://127.0.0.1:\(port)")])
            try await ws.close()
        }
    }

    @Test func typedRouteRunsDependenciesBeforeUpgrading() async throws {
        try await withServer { client, base in
            // No credentials: 401 from the dependency; the connection never switches.
            let refused = try await client.get("/rooms/blue/ws", headers: handshakeHeaders())
            #expect(refused.status == .unauthorized)
            #expect(refused.headers["www-authenticate"] == "Bearer")
            await #expect(throws: WebSocketError.handshakeFailed("server answered 401 Unauthorized")) {
                _ = try await WebSocketClient.connect(to: base + "/rooms/blue/ws")
            }
            let ws = try await WebSocketClient.connect(
                to: base + "/rooms/blue/ws", subprotocols: ["chat.v1", "chat.v2"],
                headers: [("Authorization", "Bearer letmein")])
            #expect(ws.subprotocol == "chat.v2")  // the server's preference wins
            var iterator = ws.messages.makeAsyncIterator()
            #expect(try await iterator.next() == .text("alice joined blue"))
            try await ws.send("ping?")
            #expect(try await iterator.next() == .text("ping?"))
            try await ws.close()
        }
    }

    @Test func aSlowReaderHoldsTheSenderBack() async throws {
        let sent = Counter()
        let total = 400
        var configuration = WebSocketConfiguration()
        configuration.compression = nil
        try await withServer(
            configuration: configuration,
            { app in
                app.websocket("/flood", configuration: configuration) { ws, _ in
                    for _ in 0..<total {
                        try await ws.send(ByteBuffer(repeating: 0x41, count: 64 * 1024))
                        sent.increment()
                    }
                    for try await _ in ws.messages {}
                }
            }
        ) { _, base in
            var clientConfiguration = WebSocketConfiguration()
            clientConfiguration.compression = nil
            clientConfiguration.maxBufferedMessages = 4
            let ws = try await WebSocketClient.connect(to: base + "/flood", configuration: clientConfiguration)
            try await Task.sleep(for: .milliseconds(500))
            // 400 × 64 KiB = 25 MiB: the sender stops once the socket buffers and our 4 messages are full.
            let early = sent.value
            #expect(early < total)
            var received = 0
            for try await message in ws.messages {
                received += message.bytes.readableBytes == 64 * 1024 ? 1 : 0
                if received == total { break }
            }
            #expect(received == total)
            try await ws.close()
        }
    }

    @Test func hubFansOutWithoutWaitingForASlowPeer() async throws {
        let hub = WebSocketHub(maxQueuedBytes: 256 * 1024)
        var configuration = WebSocketConfiguration()
        configuration.compression = nil
        try await withServer(
            configuration: configuration,
            { app in
                app.websocket("/room", configuration: configuration) { ws, _ in
                    hub.join(ws, room: "r")
                    defer { hub.leave(ws, room: "r") }
                    for try await message in ws.messages { hub.broadcast(message, to: "r") }
                }
            }
        ) { _, base in
            var clientConfiguration = configuration
            clientConfiguration.maxBufferedMessages = 1
            let fast = try await WebSocketClient.connect(to: base + "/room", configuration: clientConfiguration)
            let slow = try await WebSocketClient.connect(to: base + "/room", configuration: clientConfiguration)
            while hub.count(in: "r") < 2 { try await Task.sleep(for: .milliseconds(10)) }
            let count = 200
            let payload = ByteBuffer(repeating: 0x42, count: 32 * 1024)
            let receiving = Task {
                var received = 0
                for try await _ in fast.messages {
                    received += 1
                    if received == count { break }
                }
                return received
            }
            for _ in 0..<count { try await fast.send(payload) }
            // The fast member gets everything although the slow one reads nothing.
            #expect(try await receiving.value == count)
            // The slow one fell more than 256 KiB behind and was closed with 1008.
            var slowIterator = slow.messages.makeAsyncIterator()
            while try await slowIterator.next() != nil {}
            #expect(await slow.closeCode == .policyViolation)
            try await fast.close()
        }
    }

    @Test func aSessionIsCancelledWhenItsPeerLeavesAndSendsAfterCloseThrow() async throws {
        let cancelled = NIOLockedValueBox(false)
        try await withServer(
            { app in
                app.websocket("/waits") { _, _ in
                    // Waits on something other than the socket's messages.
                    do {
                        try await Task.sleep(for: .seconds(60))
                    } catch {
                        cancelled.withLockedValue { $0 = true }
                    }
                }
            }
        ) { _, base in
            let ws = try await WebSocketClient.connect(to: base + "/waits")
            try await ws.close()
            await #expect(throws: WebSocketError.closed) { try await ws.send("too late") }
            let deadline = ContinuousClock.now + .seconds(10)
            while !cancelled.withLockedValue({ $0 }) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(cancelled.withLockedValue { $0 })
        }
    }

    @Test func keepAlivePingsDropADeadPeer() async throws {
        var configuration = WebSocketConfiguration()
        configuration.pingInterval = .milliseconds(100)
        configuration.deadPeerTimeout = .seconds(2)
        try await withServer(configuration: configuration) { client, base in
            // A live client answers the pings and stays connected.
            let ws = try await WebSocketClient.connect(to: base + "/echo")
            try await Task.sleep(for: .milliseconds(1500))  // several pings answered
            try await ws.send("still here")
            var iterator = ws.messages.makeAsyncIterator()
            #expect(try await iterator.next() == .text("still here"))
            try await ws.close()

            // A peer that completes the handshake and then goes silent is dropped.
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(to: client.serverAddress!).get()
            var request = "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            try await channel.writeAndFlush(ByteBuffer(string: request))
            let started = ContinuousClock.now
            try await channel.closeFuture.get()
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }
}

/// Counts across tasks.
final class Counter: Sendable {
    private let box = NIOLockedValueBox(0)
    func increment() { box.withLockedValue { $0 += 1 } }
    var value: Int { box.withLockedValue { $0 } }
}
