import Testing

@testable import QUIC

@Suite("QUIC transport parameters (RFC 9000 §18)")
struct QUICTransportParameterTests {
    static func server() -> QUICTransportParameters {
        var parameters = QUICTransportParameters()
        parameters.originalDestinationConnectionID = [1, 2, 3, 4, 5, 6, 7, 8]
        parameters.maxIdleTimeout = 30_000
        parameters.statelessResetToken = Array(repeating: 7, count: 16)
        parameters.maxUDPPayloadSize = 1452
        parameters.initialMaxData = 1 << 20
        parameters.initialMaxStreamDataBidiLocal = 1 << 18
        parameters.initialMaxStreamDataBidiRemote = 1 << 18
        parameters.initialMaxStreamDataUni = 1 << 16
        parameters.initialMaxStreamsBidi = 100
        parameters.initialMaxStreamsUni = 3
        parameters.ackDelayExponent = 4
        parameters.maxAckDelay = 20
        parameters.disableActiveMigration = true
        parameters.preferredAddress = .init(
            ipv4: ([127, 0, 0, 1], 4433), ipv6: (Array(repeating: 0, count: 15) + [1], 4433), connectionID: [9, 9, 9, 9],
            statelessResetToken: Array(repeating: 3, count: 16))
        parameters.activeConnectionIDLimit = 4
        parameters.initialSourceConnectionID = [0xAA, 0xBB]
        parameters.retrySourceConnectionID = [0xCC]
        return parameters
    }

    @Test("Every parameter encodes and decodes back; defaults are left out")
    func roundTrip() throws {
        #expect(try QUICTransportParameters.decode(Self.server().encoded(), fromServer: true) == Self.server())
        var client = QUICTransportParameters()
        client.initialSourceConnectionID = []
        #expect(client.encoded() == [0x0F, 0x00])
        #expect(try QUICTransportParameters.decode(client.encoded(), fromServer: false) == client)
    }

    @Test("Breaches are TRANSPORT_PARAMETER_ERROR", arguments: [
        ([0x0F, 0x00, 0x00, 0x01, 0x01], false),  // a client sending original_destination_connection_id
        ([0x0F, 0x00, 0x03, 0x02, 0x43, 0xE8], false),  // max_udp_payload_size 1000
        ([0x0F, 0x00, 0x0A, 0x01, 0x15], false),  // ack_delay_exponent 21
        ([0x0F, 0x00, 0x0B, 0x02, 0x80, 0x00], false),  // max_ack_delay cut short
        ([0x0F, 0x00, 0x0E, 0x01, 0x01], false),  // active_connection_id_limit 1
        ([0x0F, 0x00, 0x0F, 0x00], false),  // a parameter twice
        ([0x0C, 0x00], false),  // no initial_source_connection_id
        ([0x0F, 0x00], true),  // a server without original_destination_connection_id
        ([0x0F, 0x05, 0x01], false),  // a length past the end
        ([0x0F, 0x00, 0x0C, 0x01, 0x00], false),  // disable_active_migration with a value
    ] as [([UInt8], Bool)])
    func breaches(bytes: [UInt8], fromServer: Bool) {
        let error = #expect(throws: QUICTransportError.self) { try QUICTransportParameters.decode(bytes, fromServer: fromServer) }
        #expect(error?.code == .transportParameterError)
    }

    @Test("Unknown (and greased) parameters are ignored")
    func unknown() throws {
        let parameters = try QUICTransportParameters.decode([0x0F, 0x00, 0x5F, 0x02, 0x01, 0x02], fromServer: false)
        #expect(parameters.initialSourceConnectionID == [])
    }
}
