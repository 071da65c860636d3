import Crypto
import NIOCore
import Testing

@testable import QUIC

/// A client and a server connection joined in memory: datagrams are handed across (some
/// dropped when asked), events collected, stream data read at once unless told otherwise.
struct ConnectionPair {
    var client: QUICConnection
    var server: QUICConnection
    var clientEvents: [QUICConnection.Action] = []
    var serverEvents: [QUICConnection.Action] = []
    /// Bytes each side received per stream.
    var clientReceived: [UInt64: [UInt8]] = [:]
    var serverReceived: [UInt64: [UInt8]] = [:]
    /// Whether each side reports stream data read as it arrives.
    var clientReads = true
    var serverReads = true
    /// The ECN mark the path gives datagrams their sender marked (CE: congestion on the way;
    /// not capable: marks lost).
    var ecn: NIOExplicitCongestionNotificationState
    /// The address the client's datagrams come from, as the server sees it.
    var clientAddress = try! SocketAddress(ipAddress: "127.0.0.1", port: 40000)
    private var toServer: [[UInt8]] = []
    private var toClient: [[UInt8]] = []
    var serverResetKey: SymmetricKey

    init(
        client clientParameters: QUICTransportParameters = ConnectionPair.parameters, server serverParameters: QUICTransportParameters = ConnectionPair.parameters,
        ecn: NIOExplicitCongestionNotificationState = .transportNotCapable
    ) throws {
        self.ecn = ecn
        let (certificate, key) = try makeCertificate("ec")
        serverResetKey = SymmetricKey(size: .bits256)
        let (client, first) = try QUICConnection.client(
            serverName: "localhost", configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], trustRootsPEM: certificate),
            parameters: clientParameters)
        let datagrams = first.compactMap { if case .send(let bytes) = $0 { bytes } else { nil } }
        let (server, answer) = try QUICConnection.server(
            accepting: datagrams[0], header: try QUICPacketParser.header(of: datagrams[0][...], shortHeaderConnectionIDLength: 8),
            from: clientAddress,
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key),
            parameters: serverParameters, statelessResetKey: serverResetKey)
        self.client = client
        self.server = server
        toServer = Array(datagrams.dropFirst())
        take(answer, byClient: false)
        run()
    }

    static var parameters: QUICTransportParameters {
        var parameters = QUICTransportParameters()
        parameters.maxIdleTimeout = 30_000
        parameters.initialMaxData = 1 << 20
        parameters.initialMaxStreamsBidi = 10
        parameters.initialMaxStreamsUni = 10
        parameters.initialMaxStreamDataBidiLocal = 1 << 18
        parameters.initialMaxStreamDataBidiRemote = 1 << 18
        parameters.initialMaxStreamDataUni = 1 << 18
        parameters.activeConnectionIDLimit = 4
        return parameters
    }

    /// Files what one side's call returned: datagrams to the other side, events kept.
    mutating func take(_ actions: [QUICConnection.Action], byClient: Bool) {
        for action in actions {
            switch action {
            case .send(let bytes):
                if byClient { toServer.append(bytes) } else { toClient.append(bytes) }
            case .streamData(let id, let bytes, _):
                if byClient {
                    clientReceived[id, default: []] += bytes
                    if clientReads { take(client.consumed(bytes.count, on: id), byClient: true) }
                } else {
                    serverReceived[id, default: []] += bytes
                    if serverReads { take(server.consumed(bytes.count, on: id), byClient: false) }
                }
                if byClient { clientEvents.append(action) } else { serverEvents.append(action) }
            default:
                if byClient { clientEvents.append(action) } else { serverEvents.append(action) }
            }
        }
    }

    /// Hands datagrams across until both sides are quiet (or `rounds` pass); `drop` decides
    /// which to lose (by running count).
    mutating func run(rounds: Int = 10_000, drop: (Int) -> Bool = { _ in false }) {
        var count = 0
        for _ in 0..<rounds {
            guard !toServer.isEmpty || !toClient.isEmpty else { return }
            let datagrams = toServer
            toServer = []
            for datagram in datagrams {
                count += 1
                if drop(count) { continue }
                take(server.receive(datagram, from: clientAddress, ecn: client.marksECN ? ecn : .transportNotCapable), byClient: false)
            }
            let answers = toClient
            toClient = []
            for datagram in answers {
                count += 1
                if drop(count) { continue }
                take(client.receive(datagram, ecn: server.marksECN ? ecn : .transportNotCapable), byClient: true)
            }
        }
    }

    /// Runs both sides' timers at `now`, then exchanges.
    mutating func tick(_ now: QUICInstant) {
        take(client.tick(now: now), byClient: true)
        take(server.tick(now: now), byClient: false)
        run()
    }

    /// Exchanges and runs the timers on a clock 30 ms ahead each time, until `done` (at most `steps` times).
    mutating func settle(steps: Int = 300, until done: (ConnectionPair) -> Bool) {
        var now = QUICInstant.now
        for _ in 0..<steps where !done(self) {
            run()
            now = now + .milliseconds(30)
            tick(now)
        }
    }

    /// The next datagrams the client would send (taken out of the exchange).
    mutating func interceptClient() -> [[UInt8]] {
        defer { toServer = [] }
        return toServer
    }

    mutating func deliverToServer(_ datagram: [UInt8], from address: SocketAddress) {
        take(server.receive(datagram, from: address), byClient: false)
    }
}

@Suite("QUIC streams, flow control, connection IDs and closing (in memory)")
struct QUICStreamTests {
    @Test("A megabyte crosses 64 KB stream and 128 KB connection windows: the reader's MAX_STREAM_DATA / MAX_DATA open them")
    func flowControlWindows() throws {
        var clientParameters = ConnectionPair.parameters
        clientParameters.initialMaxData = 128 << 10
        clientParameters.initialMaxStreamDataBidiLocal = 64 << 10
        var pair = try ConnectionPair(client: clientParameters)
        #expect(pair.client.state == .established(confirmed: true))
        let opened1 = pair.client.openBidirectionalStream()
        let stream = try #require(opened1)
        pair.take(pair.client.send(Array("GET /big\r\n".utf8), on: stream, fin: true), byClient: true)
        pair.run()
        let body = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 * 31 + $0 >> 9) }
        pair.take(pair.server.send(body, on: stream, fin: true), byClient: false)
        pair.settle { $0.clientReceived[stream]?.count == body.count }
        #expect(pair.clientReceived[stream] == body)
        #expect(pair.client.receiveMaxData > 128 << 10)
        #expect(pair.clientEvents.contains(.streamData(id: stream, bytes: [], fin: true)) || pair.client.isOpen(stream) == false)
    }

    @Test("A reader that does not read stops the sender at its window; the sender says STREAM_DATA_BLOCKED, and reading lets it go on")
    func backPressure() throws {
        var clientParameters = ConnectionPair.parameters
        clientParameters.initialMaxStreamDataBidiLocal = 16 << 10
        var pair = try ConnectionPair(client: clientParameters)
        pair.clientReads = false
        let opened2 = pair.client.openBidirectionalStream()
        let stream = try #require(opened2)
        pair.take(pair.client.send(Array("GET /\r\n".utf8), on: stream, fin: true), byClient: true)
        pair.run()
        pair.take(pair.server.send([UInt8](repeating: 7, count: 100_000), on: stream, fin: true), byClient: false)
        pair.run()
        #expect(pair.clientReceived[stream]?.count == 16 << 10)
        #expect(pair.server.streams[stream]?.blockedAt == 16 << 10)
        #expect(pair.server.unsentBytes(on: stream) == 100_000 - (16 << 10))
        pair.take(pair.client.consumed(16 << 10, on: stream), byClient: true)
        pair.run()
        #expect(pair.clientReceived[stream]!.count > 16 << 10)
    }

    @Test("Data past a stream's limit closes the connection with FLOW_CONTROL_ERROR")
    func flowControlViolation() throws {
        var pair = try ConnectionPair()
        pair.serverReads = false  // so its window stays where it was
        let opened3 = pair.client.openBidirectionalStream()
        let stream = try #require(opened3)
        pair.client.streams[stream]!.sendLimit = 1 << 30  // a client that ignores the server's limit
        pair.client.peerMaxData = 1 << 30
        pair.take(pair.client.send([UInt8](repeating: 1, count: (1 << 18) + 5000), on: stream, fin: false), byClient: true)
        pair.settle { $0.server.isClosed }
        guard case .closed(let error) = pair.server.state else {
            Issue.record("the server went on: \(pair.server.state)")
            return
        }
        #expect(error.code == .flowControlError)
        guard case .closed(let seen) = pair.client.state else {
            Issue.record("the client did not hear the close")
            return
        }
        #expect(seen.code == .flowControlError)
    }

    @Test("Stream limits: past MAX_STREAMS no stream opens (STREAMS_BLOCKED); finished streams give room for more")
    func streamLimits() throws {
        var serverParameters = ConnectionPair.parameters
        serverParameters.initialMaxStreamsBidi = 2
        var pair = try ConnectionPair(server: serverParameters)
        let opened4 = pair.client.openBidirectionalStream()
        let first = try #require(opened4)
        let opened5 = pair.client.openBidirectionalStream()
        let second = try #require(opened5)
        let outcome14 = pair.client.openBidirectionalStream()
        #expect(outcome14 == nil)
        #expect(pair.client.pendingFrames.contains(.streamsBlocked(bidirectional: true, limit: 2)))
        for id in [first, second] {
            pair.take(pair.client.send(Array("ping".utf8), on: id, fin: true), byClient: true)
            pair.run()
            pair.take(pair.server.send(Array("pong".utf8), on: id, fin: true), byClient: false)
            pair.run()
        }
        pair.tick(.now)
        #expect(!pair.server.isOpen(first) && !pair.server.isOpen(second))
        #expect(pair.client.peerMaxStreamsBidi == 4)
        let opened6 = pair.client.openBidirectionalStream()
        let third = try #require(opened6)
        #expect(third == 8)
    }

    @Test("Unidirectional streams both ways; data on the wrong half of one is STREAM_STATE_ERROR")
    func unidirectional() throws {
        var pair = try ConnectionPair()
        let opened7 = pair.client.openUnidirectionalStream()
        let fromClient = try #require(opened7)
        let opened8 = pair.server.openUnidirectionalStream()
        let fromServer = try #require(opened8)
        #expect(fromClient == 2 && fromServer == 3)
        pair.take(pair.client.send(Array("up".utf8), on: fromClient, fin: true), byClient: true)
        pair.take(pair.server.send(Array("down".utf8), on: fromServer, fin: true), byClient: false)
        pair.run()
        #expect(pair.serverReceived[fromClient] == Array("up".utf8))
        #expect(pair.clientReceived[fromServer] == Array("down".utf8))
        // The server cannot answer on the client's unidirectional stream.
        let outcome15 = pair.server.send(Array("no".utf8), on: fromClient, fin: true)
        #expect(outcome15.isEmpty)
        // A STREAM frame from the client on the server's send-only stream closes the connection.
        pair.client.streams[3] = QUICConnection.Stream(receiveLimit: 0, sendLimit: 100)
        pair.take(pair.client.send(Array("bad".utf8), on: 3, fin: true), byClient: true)
        pair.settle { $0.server.isClosed }
        guard case .closed(let error) = pair.server.state else {
            Issue.record("the server went on")
            return
        }
        #expect(error.code == .streamStateError)
    }

    @Test("STOP_SENDING is answered with RESET_STREAM carrying its code; the reset is reported and both streams are forgotten")
    func stopSendingAndReset() throws {
        var pair = try ConnectionPair()
        let opened9 = pair.client.openBidirectionalStream()
        let stream = try #require(opened9)
        pair.take(pair.client.send(Array("GET /\r\n".utf8), on: stream, fin: true), byClient: true)
        pair.run()
        pair.take(pair.server.send([UInt8](repeating: 1, count: 3000), on: stream, fin: false), byClient: false)
        pair.run()
        pair.take(pair.client.stopSending(stream, errorCode: 77), byClient: true)
        pair.run()
        #expect(pair.serverEvents.contains(.stopSending(id: stream, errorCode: 77)))
        #expect(pair.clientEvents.contains(.streamReset(id: stream, errorCode: 77)))
        pair.tick(.now)
        #expect(!pair.client.isOpen(stream))
        #expect(!pair.server.isOpen(stream))
        // The reset's final size counted against the connection's window, and was credited back.
        #expect(pair.client.dataReceived == pair.client.dataConsumed)
    }

    @Test("Lost packets: a transfer at one datagram in seven dropped arrives whole (data and window updates sent again)")
    func lossRecovery() throws {
        var clientParameters = ConnectionPair.parameters
        clientParameters.initialMaxData = 64 << 10
        clientParameters.initialMaxStreamDataBidiLocal = 32 << 10
        var pair = try ConnectionPair(client: clientParameters)
        let opened10 = pair.client.openBidirectionalStream()
        let stream = try #require(opened10)
        pair.take(pair.client.send(Array("GET /\r\n".utf8), on: stream, fin: true), byClient: true)
        pair.run()
        let body = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        pair.take(pair.server.send(body, on: stream, fin: true), byClient: false)
        var now = QUICInstant.now
        var sent = 0
        for _ in 0..<2000 {
            pair.run(drop: { _ in
                sent += 1
                return sent % 7 == 0
            })
            now = now + .milliseconds(50)
            pair.tick(now)
            if pair.clientReceived[stream]?.count == body.count { break }
        }
        #expect(pair.clientReceived[stream] == body)
    }

    @Test("Connection IDs: each side issues more; a client moving to a new one retires the old, and the server issues a replacement")
    func connectionIDs() throws {
        var pair = try ConnectionPair()
        pair.run()
        #expect(pair.server.issuedConnectionIDs.count == 4)
        #expect(pair.client.peerConnectionIDs.count == 4)
        let issued = pair.serverEvents.compactMap { if case .newConnectionID(let id) = $0 { id } else { nil } }
        #expect(issued.count == 3)
        let old = pair.client.remoteConnectionID
        let outcome16 = pair.client.changeConnectionID()
        #expect(outcome16)
        #expect(pair.client.remoteConnectionID != old)
        let opened11 = pair.client.openBidirectionalStream()
        let stream = try #require(opened11)
        pair.take(pair.client.send(Array("hi".utf8), on: stream, fin: true), byClient: true)
        pair.run()
        #expect(pair.serverReceived[stream] == Array("hi".utf8))
        #expect(pair.serverEvents.contains(.retiredConnectionID(old)))
        #expect(pair.server.issuedConnectionIDs.count == 4)
        #expect(pair.server.issuedConnectionIDs.values.contains(pair.client.remoteConnectionID))
    }

    @Test("A stateless reset with one of the server's tokens puts the client into draining; a random datagram does not")
    func statelessReset() throws {
        var pair = try ConnectionPair()
        pair.run()
        let random = (0..<40).map { _ in UInt8.random(in: 0...255) }
        _ = pair.client.receive([0x40 | random[0] & 0x3F] + random.dropFirst())
        #expect(pair.client.state == .established(confirmed: true))
        let id = pair.server.issuedConnectionIDs[1]!
        let reset = try #require(QUICConnection.statelessReset(for: id, receivedSize: 100, key: pair.serverResetKey))
        #expect(reset.count == 43 && reset[0] & 0xC0 == 0x40)
        let actions = pair.client.receive(reset)
        #expect(actions.contains(.closed(QUICTransportError(.noError, "stateless reset"))))
        #expect(pair.client.isFinished)
        let outcome17 = pair.client.receive(reset)
        #expect(outcome17.isEmpty)
    }

    @Test("NAT rebinding: the server follows the client to its new address after validating it with PATH_CHALLENGE")
    func rebinding() throws {
        var pair = try ConnectionPair()
        pair.run()
        let opened12 = pair.client.openBidirectionalStream()
        let stream = try #require(opened12)
        pair.take(pair.client.send(Array("moved".utf8), on: stream, fin: false), byClient: true)
        let datagrams = pair.interceptClient()
        let moved = try SocketAddress(ipAddress: "127.0.0.1", port: 40001)
        for datagram in datagrams { pair.deliverToServer(datagram, from: moved) }
        #expect(pair.server.peerAddress == moved)
        #expect(pair.server.pathValidation != nil)
        #expect(!pair.server.addressValidated)
        pair.clientAddress = moved
        pair.run()
        #expect(pair.server.pathValidation == nil)
        #expect(pair.server.addressValidated)
        #expect(pair.serverReceived[stream] == Array("moved".utf8))
    }

    @Test("Closing: CONNECTION_CLOSE is sent again while packets arrive, the peer drains silently; both are finished after three PTOs")
    func closingAndDraining() throws {
        var pair = try ConnectionPair()
        pair.run()
        let opened13 = pair.client.openBidirectionalStream()
        let stream = try #require(opened13)
        let before = pair.client.send(Array("late".utf8), on: stream, fin: false)  // in flight as the server closes
        let close = pair.server.close(applicationError: 9, reason: "done")
        #expect(close.contains(.closed(QUICTransportError(QUICTransportErrorCode(rawValue: 9), "done"))))
        // The server, closing, answers the client's packet with its close again.
        var resent = 0
        for case .send(let datagram) in before { resent += pair.server.receive(datagram).count }
        #expect(resent == 1)
        // The client hears the close and drains: nothing more from it.
        var heard: [QUICConnection.Action] = []
        for case .send(let datagram) in close { heard += pair.client.receive(datagram) }
        #expect(heard == [.closed(QUICTransportError(QUICTransportErrorCode(rawValue: 9), "done"))])
        let outcome18 = pair.client.send(Array("more".utf8), on: stream, fin: true)
        #expect(outcome18.isEmpty)
        #expect(!pair.client.isFinished && !pair.server.isFinished)
        let later = QUICInstant.now + .seconds(5)
        _ = pair.client.tick(now: later)
        _ = pair.server.tick(now: later)
        #expect(pair.client.isFinished && pair.server.isFinished)
    }

    @Test("ECN: marks are counted and reported in ACKs, the sender validates them, and CE marks shrink its window")
    func explicitCongestionNotification() throws {
        var pair = try ConnectionPair(ecn: .transportCapableFlag0)
        let opened = pair.client.openBidirectionalStream()
        let stream = try #require(opened)
        pair.take(pair.client.send(Array("GET /\r\n".utf8), on: stream, fin: false), byClient: true)
        pair.run()
        pair.take(pair.server.send([UInt8](repeating: 5, count: 100_000), on: stream, fin: false), byClient: false)
        pair.settle { $0.clientReceived[stream]?.count == 100_000 }
        #expect(pair.client.spaces[2].ecnCounts.ect0 > 50)
        #expect(pair.server.ecnValidation == .capable)
        let window = pair.server.congestionWindow
        pair.ecn = .congestionExperienced
        pair.take(pair.server.send([UInt8](repeating: 6, count: 20_000), on: stream, fin: true), byClient: false)
        pair.settle { $0.clientReceived[stream]?.count == 120_000 }
        #expect(pair.server.congestionWindow < window)
        #expect(pair.server.statistics.packetsLost == 0)
    }

    @Test("ECN: a path that loses the marks (ACKs without counts) stops the marking")
    func explicitCongestionNotificationBleached() throws {
        var pair = try ConnectionPair()
        let opened = pair.client.openBidirectionalStream()
        let stream = try #require(opened)
        #expect(pair.server.marksECN)
        pair.take(pair.client.send(Array("GET /\r\n".utf8), on: stream, fin: true), byClient: true)
        pair.run()
        pair.take(pair.server.send([UInt8](repeating: 5, count: 10_000), on: stream, fin: true), byClient: false)
        pair.settle { $0.clientReceived[stream]?.count == 10_000 }
        #expect(!pair.server.marksECN)
    }

    @Test("The idle timeout (the smaller of both sides') closes silently")
    func idleTimeout() throws {
        var clientParameters = ConnectionPair.parameters
        clientParameters.maxIdleTimeout = 5_000
        var pair = try ConnectionPair(client: clientParameters)
        pair.run()
        #expect(pair.server.idleTimeout == .seconds(5))
        let early = pair.server.tick(now: .now + .seconds(4))
        #expect(early.allSatisfy { if case .closed = $0 { false } else { true } })
        let actions = pair.server.tick(now: .now + .seconds(6))
        #expect(actions == [.closed(QUICTransportError(.noError, "idle timeout"))])
        #expect(pair.server.isFinished)
    }
}
