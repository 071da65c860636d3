import NIOCore

/// The transport parameters an endpoint declares in the handshake (RFC 9000 §18), with their
/// defaults.
public struct QUICTransportParameters: Sendable, Equatable {
    /// A server's preferred address (§18.2, §9.6).
    public struct PreferredAddress: Sendable, Equatable {
        public var ipv4: (address: [UInt8], port: UInt16)
        public var ipv6: (address: [UInt8], port: UInt16)
        public var connectionID: [UInt8]
        public var statelessResetToken: [UInt8]

        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.ipv4.address == rhs.ipv4.address && lhs.ipv4.port == rhs.ipv4.port && lhs.ipv6.address == rhs.ipv6.address
                && lhs.ipv6.port == rhs.ipv6.port && lhs.connectionID == rhs.connectionID
                && lhs.statelessResetToken == rhs.statelessResetToken
        }
    }

    public var originalDestinationConnectionID: [UInt8]?
    /// Milliseconds; 0 disables the idle timeout.
    public var maxIdleTimeout: UInt64 = 0
    public var statelessResetToken: [UInt8]?
    public var maxUDPPayloadSize: UInt64 = 65527
    public var initialMaxData: UInt64 = 0
    public var initialMaxStreamDataBidiLocal: UInt64 = 0
    public var initialMaxStreamDataBidiRemote: UInt64 = 0
    public var initialMaxStreamDataUni: UInt64 = 0
    public var initialMaxStreamsBidi: UInt64 = 0
    public var initialMaxStreamsUni: UInt64 = 0
    public var ackDelayExponent: UInt64 = 3
    /// Milliseconds.
    public var maxAckDelay: UInt64 = 25
    public var disableActiveMigration = false
    public var preferredAddress: PreferredAddress?
    public var activeConnectionIDLimit: UInt64 = 2
    public var initialSourceConnectionID: [UInt8]?
    public var retrySourceConnectionID: [UInt8]?

    /// The RFC's defaults: nothing may be sent on streams until limits are raised.
    public init() {}

    /// Limits for an endpoint to announce when it has no reason to choose others: 100 streams
    /// of each kind, 2 MiB windows per stream (growing as the reader keeps up), 4 MiB for the
    /// connection, a 30 s idle timeout, up to 4 connection IDs of the peer's.
    public static var recommended: QUICTransportParameters {
        var parameters = QUICTransportParameters()
        parameters.maxIdleTimeout = 30_000
        parameters.initialMaxData = 4 << 20
        parameters.initialMaxStreamDataBidiLocal = 2 << 20
        parameters.initialMaxStreamDataBidiRemote = 2 << 20
        parameters.initialMaxStreamDataUni = 2 << 20
        parameters.initialMaxStreamsBidi = 100
        parameters.initialMaxStreamsUni = 100
        parameters.activeConnectionIDLimit = 4
        return parameters
    }

    private enum ID: UInt64 {
        case originalDestinationConnectionID = 0x00, maxIdleTimeout = 0x01, statelessResetToken = 0x02
        case maxUDPPayloadSize = 0x03, initialMaxData = 0x04, initialMaxStreamDataBidiLocal = 0x05
        case initialMaxStreamDataBidiRemote = 0x06, initialMaxStreamDataUni = 0x07, initialMaxStreamsBidi = 0x08
        case initialMaxStreamsUni = 0x09, ackDelayExponent = 0x0A, maxAckDelay = 0x0B, disableActiveMigration = 0x0C
        case preferredAddress = 0x0D, activeConnectionIDLimit = 0x0E, initialSourceConnectionID = 0x0F
        case retrySourceConnectionID = 0x10
    }

    /// The encoded parameters (only those that differ from their defaults, plus the connection IDs).
    public func encoded() -> [UInt8] {
        var buffer = ByteBuffer()
        func put(_ id: ID, _ bytes: [UInt8]) {
            buffer.writeQUICVarint(id.rawValue)
            buffer.writeQUICVarint(UInt64(bytes.count))
            buffer.writeBytes(bytes)
        }
        func put(_ id: ID, integer: UInt64, default defaultValue: UInt64) {
            guard integer != defaultValue else { return }
            var value = ByteBuffer()
            value.writeQUICVarint(integer)
            put(id, Array(value.readableBytesView))
        }
        if let originalDestinationConnectionID { put(.originalDestinationConnectionID, originalDestinationConnectionID) }
        put(.maxIdleTimeout, integer: maxIdleTimeout, default: 0)
        if let statelessResetToken { put(.statelessResetToken, statelessResetToken) }
        put(.maxUDPPayloadSize, integer: maxUDPPayloadSize, default: 65527)
        put(.initialMaxData, integer: initialMaxData, default: 0)
        put(.initialMaxStreamDataBidiLocal, integer: initialMaxStreamDataBidiLocal, default: 0)
        put(.initialMaxStreamDataBidiRemote, integer: initialMaxStreamDataBidiRemote, default: 0)
        put(.initialMaxStreamDataUni, integer: initialMaxStreamDataUni, default: 0)
        put(.initialMaxStreamsBidi, integer: initialMaxStreamsBidi, default: 0)
        put(.initialMaxStreamsUni, integer: initialMaxStreamsUni, default: 0)
        put(.ackDelayExponent, integer: ackDelayExponent, default: 3)
        put(.maxAckDelay, integer: maxAckDelay, default: 25)
        if disableActiveMigration { put(.disableActiveMigration, []) }
        if let preferredAddress {
            var bytes = preferredAddress.ipv4.address + [UInt8(preferredAddress.ipv4.port >> 8), UInt8(preferredAddress.ipv4.port & 0xFF)]
            bytes += preferredAddress.ipv6.address + [UInt8(preferredAddress.ipv6.port >> 8), UInt8(preferredAddress.ipv6.port & 0xFF)]
            bytes += [UInt8(preferredAddress.connectionID.count)] + preferredAddress.connectionID + preferredAddress.statelessResetToken
            put(.preferredAddress, bytes)
        }
        put(.activeConnectionIDLimit, integer: activeConnectionIDLimit, default: 2)
        if let initialSourceConnectionID { put(.initialSourceConnectionID, initialSourceConnectionID) }
        if let retrySourceConnectionID { put(.retrySourceConnectionID, retrySourceConnectionID) }
        return Array(buffer.readableBytesView)
    }

    /// Reads the peer's parameters, checking them as RFC 9000 §18.2 requires of parameters sent
    /// by a server (`fromServer`) or a client: any breach is TRANSPORT_PARAMETER_ERROR.
    /// Unknown parameters are ignored (and so are reserved, greased ones).
    public static func decode(_ bytes: [UInt8], fromServer: Bool) throws(QUICTransportError) -> QUICTransportParameters {
        var parameters = QUICTransportParameters()
        var buffer = ByteBuffer(bytes: bytes)
        var seen: Set<UInt64> = []
        func fail(_ reason: String) -> QUICTransportError { QUICTransportError(.transportParameterError, reason) }
        while buffer.readableBytes > 0 {
            guard let id = buffer.readQUICVarint(), let length = buffer.readQUICVarint(), length <= buffer.readableBytes,
                var value = buffer.readSlice(length: Int(length))
            else { throw fail("a parameter cut short") }
            guard seen.insert(id).inserted else { throw fail("parameter 0x\(String(id, radix: 16)) appears twice") }
            guard let known = ID(rawValue: id) else { continue }
            func integer() throws(QUICTransportError) -> UInt64 {
                guard let number = value.readQUICVarint(), value.readableBytes == 0 else { throw fail("\(known) is not one integer") }
                return number
            }
            func connectionID() throws(QUICTransportError) -> [UInt8] {
                guard value.readableBytes <= 20 else { throw fail("\(known) is longer than 20 bytes") }
                return Array(value.readableBytesView)
            }
            if [.originalDestinationConnectionID, .statelessResetToken, .preferredAddress, .retrySourceConnectionID].contains(known),
                !fromServer
            {
                throw fail("a client sent \(known)")
            }
            switch known {
            case .originalDestinationConnectionID: parameters.originalDestinationConnectionID = try connectionID()
            case .maxIdleTimeout: parameters.maxIdleTimeout = try integer()
            case .statelessResetToken:
                guard value.readableBytes == 16 else { throw fail("a stateless reset token is 16 bytes") }
                parameters.statelessResetToken = Array(value.readableBytesView)
            case .maxUDPPayloadSize:
                parameters.maxUDPPayloadSize = try integer()
                guard parameters.maxUDPPayloadSize >= 1200 else { throw fail("max_udp_payload_size below 1200") }
            case .initialMaxData: parameters.initialMaxData = try integer()
            case .initialMaxStreamDataBidiLocal: parameters.initialMaxStreamDataBidiLocal = try integer()
            case .initialMaxStreamDataBidiRemote: parameters.initialMaxStreamDataBidiRemote = try integer()
            case .initialMaxStreamDataUni: parameters.initialMaxStreamDataUni = try integer()
            case .initialMaxStreamsBidi:
                parameters.initialMaxStreamsBidi = try integer()
                guard parameters.initialMaxStreamsBidi <= 1 << 60 else { throw fail("initial_max_streams_bidi over 2^60") }
            case .initialMaxStreamsUni:
                parameters.initialMaxStreamsUni = try integer()
                guard parameters.initialMaxStreamsUni <= 1 << 60 else { throw fail("initial_max_streams_uni over 2^60") }
            case .ackDelayExponent:
                parameters.ackDelayExponent = try integer()
                guard parameters.ackDelayExponent <= 20 else { throw fail("ack_delay_exponent over 20") }
            case .maxAckDelay:
                parameters.maxAckDelay = try integer()
                guard parameters.maxAckDelay < 1 << 14 else { throw fail("max_ack_delay of 2^14 or more") }
            case .disableActiveMigration:
                guard value.readableBytes == 0 else { throw fail("disable_active_migration has a value") }
                parameters.disableActiveMigration = true
            case .preferredAddress:
                guard value.readableBytes >= 41, let v4 = value.readBytes(length: 4), let p4 = value.readInteger(as: UInt16.self),
                    let v6 = value.readBytes(length: 16), let p6 = value.readInteger(as: UInt16.self),
                    let length = value.readInteger(as: UInt8.self), (1...20).contains(length),
                    let id = value.readBytes(length: Int(length)), let token = value.readBytes(length: 16), value.readableBytes == 0
                else { throw fail("a malformed preferred_address") }
                parameters.preferredAddress = PreferredAddress(
                    ipv4: (v4, p4), ipv6: (v6, p6), connectionID: id, statelessResetToken: token)
            case .activeConnectionIDLimit:
                parameters.activeConnectionIDLimit = try integer()
                guard parameters.activeConnectionIDLimit >= 2 else { throw fail("active_connection_id_limit below 2") }
            case .initialSourceConnectionID: parameters.initialSourceConnectionID = try connectionID()
            case .retrySourceConnectionID: parameters.retrySourceConnectionID = try connectionID()
            }
        }
        guard parameters.initialSourceConnectionID != nil else { throw fail("initial_source_connection_id is missing") }
        if fromServer, parameters.originalDestinationConnectionID == nil {
            throw fail("original_destination_connection_id is missing")
        }
        return parameters
    }
}
