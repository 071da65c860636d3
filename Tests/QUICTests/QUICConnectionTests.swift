import Testing

@testable import QUIC

@Suite("QUIC connection handshake (in memory)")
struct QUICConnectionTests {
    @Test("A client and a server complete the handshake over protected packets; HANDSHAKE_DONE confirms it", arguments: ["ec", "rsa"])
    func handshake(kind: String) throws {
        let (certificate, key) = try makeCertificate(kind)
        var serverParameters = QUICTransportParameters()
        serverParameters.initialMaxData = 1 << 20
        serverParameters.maxIdleTimeout = 30_000
        var (client, toServer) = try QUICConnection.client(
            serverName: "localhost", configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], trustRootsPEM: certificate))
        let first = try #require(toServer.first.flatMap { if case .send(let datagram) = $0 { datagram } else { nil } })
        #expect(first.count == 1200)  // the client's Initial, padded
        let header = try QUICPacketParser.header(of: first[...], shortHeaderConnectionIDLength: 8)
        var (server, toClient) = try QUICConnection.server(
            accepting: first, header: header,
            configuration: QUICTLSConfiguration(applicationProtocols: ["h3", "hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key),
            parameters: serverParameters)
        // A ClientHello with post-quantum key shares takes more than one Initial.
        for case .send(let datagram) in toServer.dropFirst() {
            #expect(datagram.count == 1200)
            toClient += server.receive(datagram)
        }
        var events: [QUICConnection.Action] = []
        var sentByServer = toClient.reduce(0) { if case .send(let d) = $1 { $0 + d.count } else { $0 } }
        #expect(sentByServer <= 3 * 1200 * toServer.count)  // anti-amplification before the address is validated
        for _ in 0..<10 {
            toServer = []
            for case .send(let datagram) in toClient { toServer += client.receive(datagram) }
            events += toServer.filter { if case .send = $0 { false } else { true } }
            toClient = []
            for case .send(let datagram) in toServer { toClient += server.receive(datagram) }
            events += toClient.filter { if case .send = $0 { false } else { true } }
            sentByServer += toClient.reduce(0) { if case .send(let d) = $1 { $0 + d.count } else { $0 } }
            if client.state == .established(confirmed: true), server.state == .established(confirmed: true) { break }
        }
        #expect(client.state == .established(confirmed: true))
        #expect(server.state == .established(confirmed: true))
        #expect(events.filter { $0 == .handshakeComplete(applicationProtocol: "hq-interop") }.count == 2)
        #expect(client.peerTransportParameters?.initialMaxData == 1 << 20)
        #expect(client.peerTransportParameters?.originalDestinationConnectionID == client.originalDestinationConnectionID)
        #expect(server.peerTransportParameters?.initialSourceConnectionID == client.localConnectionID)
        #expect(client.remoteConnectionID == server.localConnectionID)
        #expect(client.spaces[0].discarded && client.spaces[1].discarded)
        #expect(server.spaces[0].discarded && server.spaces[1].discarded)
    }

    @Test("A client that does not trust the server's certificate closes with a TLS alert")
    func untrusted() throws {
        let (certificate, key) = try makeCertificate("ec")
        let (other, _) = try makeCertificate("ec")
        var (client, toServer) = try QUICConnection.client(
            serverName: "localhost", configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], trustRootsPEM: other))
        guard case .send(let first) = toServer[0] else { throw QUICPacketError(reason: "no first flight") }
        let header = try QUICPacketParser.header(of: first[...], shortHeaderConnectionIDLength: 8)
        var (server, toClient) = try QUICConnection.server(
            accepting: first, header: header,
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key))
        for case .send(let datagram) in toServer.dropFirst() { toClient += server.receive(datagram) }
        for case .send(let datagram) in toClient { _ = client.receive(datagram) }
        guard case .closed(let error) = client.state else {
            Issue.record("the client went on: \(client.state)")
            return
        }
        #expect((0x100...0x1FF).contains(error.code.rawValue))
    }

    @Test("A key update started by the client is followed by the server; data flows under the new keys both ways")
    func keyUpdate() throws {
        let (certificate, key) = try makeCertificate("ec")
        var parameters = QUICTransportParameters()
        parameters.initialMaxData = 1 << 20
        parameters.initialMaxStreamsBidi = 10
        parameters.initialMaxStreamDataBidiRemote = 1 << 16
        parameters.initialMaxStreamDataBidiLocal = 1 << 16
        var (client, toServer) = try QUICConnection.client(
            serverName: "localhost", configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], trustRootsPEM: certificate),
            parameters: parameters)
        guard case .send(let first) = toServer[0] else { throw QUICPacketError(reason: "no first flight") }
        var (server, toClient) = try QUICConnection.server(
            accepting: first, header: try QUICPacketParser.header(of: first[...], shortHeaderConnectionIDLength: 8),
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key),
            parameters: parameters)
        for case .send(let datagram) in toServer.dropFirst() { toClient += server.receive(datagram) }
        var received: [QUICConnection.Action] = []
        func exchange() {
            for _ in 0..<10 {
                toServer = []
                for case .send(let datagram) in toClient { toServer += client.receive(datagram) }
                toClient = []
                for case .send(let datagram) in toServer { toClient += server.receive(datagram) }
                received += toServer.filter { if case .streamData = $0 { true } else { false } }
                received += toClient.filter { if case .streamData = $0 { true } else { false } }
                if toServer.isEmpty && toClient.isEmpty { break }
            }
        }
        exchange()
        #expect(client.state == .established(confirmed: true))
        let started = client.updateKeys()
        let again = client.updateKeys()  // not again before the peer answers
        #expect(started && !again)
        let opened = client.openBidirectionalStream()
        let stream = try #require(opened)
        toServer = client.send(Array("GET /x\r\n".utf8), on: stream, fin: true)
        toClient = []
        for case .send(let datagram) in toServer { toClient += server.receive(datagram) }
        received += toClient.filter { if case .streamData = $0 { true } else { false } }
        toClient += server.send(Array("answer".utf8), on: stream, fin: true)
        exchange()
        #expect(server.spaces[2].readGeneration == 1 && server.spaces[2].writeGeneration == 1)
        #expect(client.spaces[2].readGeneration == 1 && client.spaces[2].writeGeneration == 1)
        #expect(received.contains(.streamData(id: stream, bytes: Array("GET /x\r\n".utf8), fin: true)))
        #expect(received.contains(.streamData(id: stream, bytes: Array("answer".utf8), fin: true)))
    }

    @Test("A lost server flight is sent again after the probe timeouts (the client's probe lifting the amplification limit)")
    func lostHandshakeFlight() throws {
        let (certificate, key) = try makeCertificate("ec")
        var (client, toServer) = try QUICConnection.client(
            serverName: "localhost", configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], trustRootsPEM: certificate))
        guard case .send(let first) = toServer[0] else { throw QUICPacketError(reason: "no first flight") }
        var (server, _) = try QUICConnection.server(
            accepting: first, header: try QUICPacketParser.header(of: first[...], shortHeaderConnectionIDLength: 8),
            configuration: QUICTLSConfiguration(applicationProtocols: ["hq-interop"], certificateChainPEM: certificate, privateKeyPEM: key))
        for case .send(let datagram) in toServer.dropFirst() { _ = server.receive(datagram) }  // its answers are lost
        let later = ContinuousClock.now + .seconds(2)
        toServer = client.tick(now: later)  // the client's probe: its Initial again
        #expect(!toServer.isEmpty)
        for case .send(let datagram) in toServer { _ = server.receive(datagram) }
        var toClient = server.tick(now: later)  // the server's probe: its flight again
        #expect(!toClient.isEmpty)
        for _ in 0..<10 {
            toServer = []
            for case .send(let datagram) in toClient { toServer += client.receive(datagram) }
            toClient = []
            for case .send(let datagram) in toServer { toClient += server.receive(datagram) }
            if client.state == .established(confirmed: true), server.state == .established(confirmed: true) { break }
        }
        #expect(client.state == .established(confirmed: true))
        #expect(server.state == .established(confirmed: true))
    }
}
