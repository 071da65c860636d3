/// The kinds of QUIC packets (RFC 9000 §17).
public enum QUICPacketType: Sendable, Equatable {
    case initial, zeroRTT, handshake, retry, oneRTT, versionNegotiation
}

/// Why a datagram's packet was discarded (RFC 9000 §5.2: malformed packets are dropped, not
/// answered).
public struct QUICPacketError: Error, Sendable, Equatable {
    public var reason: String
}

/// A packet's header as it arrives, before header protection is removed: what routes it to a
/// connection and where its protected part starts.
public struct QUICPacketHeader: Sendable, Equatable {
    public static let version1: UInt32 = 0x0000_0001

    public var type: QUICPacketType
    /// The long header's version (for a short header: the connection's, version 1).
    public var version: UInt32
    public var destinationConnectionID: [UInt8]
    public var sourceConnectionID: [UInt8]
    /// An Initial's token, or a Retry's.
    public var token: [UInt8]
    /// The versions a Version Negotiation packet offers.
    public var supportedVersions: [UInt32]
    /// Where the (protected) packet number starts, from the packet's first byte.
    public var packetNumberOffset: Int
    /// The packet's length in the datagram (the rest of it for a short header, Retry and
    /// Version Negotiation).
    public var length: Int

    /// Whether a server that does not speak `version` should answer with Version Negotiation.
    public var isUnsupportedVersion: Bool { type != .versionNegotiation && version != Self.version1 }
}

/// Splits datagrams into packets and reads their headers (RFC 9000 §12.2, §17).
public enum QUICPacketParser {
    /// Every packet of `datagram`: coalesced long-header packets, then at most one short-header
    /// packet, whose Destination Connection ID is `shortHeaderConnectionIDLength` long. A
    /// malformed packet ends the walk (the ones before it stand).
    public static func packets(in datagram: [UInt8], shortHeaderConnectionIDLength: Int) -> [(QUICPacketHeader, ArraySlice<UInt8>)] {
        var packets: [(QUICPacketHeader, ArraySlice<UInt8>)] = []
        var rest = datagram[...]
        while !rest.isEmpty {
            guard let header = try? header(of: rest, shortHeaderConnectionIDLength: shortHeaderConnectionIDLength) else { break }
            packets.append((header, rest.prefix(header.length)))
            rest = rest.dropFirst(header.length)
            // Padding after the last packet (zeros) is not a packet.
            if rest.allSatisfy({ $0 == 0 }) { break }
        }
        return packets
    }

    /// The header of the packet at the start of `bytes`.
    public static func header(of bytes: ArraySlice<UInt8>, shortHeaderConnectionIDLength: Int) throws(QUICPacketError) -> QUICPacketHeader {
        var reader = Reader(bytes: bytes)
        let first = try reader.byte()
        guard first & 0x80 != 0 else {
            // Short header: 0 1 S R R K P P, then the Destination Connection ID.
            guard first & 0x40 != 0 else { throw QUICPacketError(reason: "the fixed bit is not set") }
            let connectionID = try reader.bytes(shortHeaderConnectionIDLength)
            return QUICPacketHeader(
                type: .oneRTT, version: QUICPacketHeader.version1, destinationConnectionID: connectionID, sourceConnectionID: [],
                token: [], supportedVersions: [], packetNumberOffset: reader.offset, length: bytes.count)
        }
        let version = try reader.uint32()
        let destination = try reader.bytes(Int(try reader.byte()))
        let source = try reader.bytes(Int(try reader.byte()))
        if version == 0 {
            var versions: [UInt32] = []
            while reader.remaining >= 4 { versions.append(try reader.uint32()) }
            return QUICPacketHeader(
                type: .versionNegotiation, version: 0, destinationConnectionID: destination, sourceConnectionID: source, token: [],
                supportedVersions: versions, packetNumberOffset: reader.offset, length: bytes.count)
        }
        guard version == QUICPacketHeader.version1 else {
            // Another version's packet: only its invariant fields are known (RFC 8999).
            return QUICPacketHeader(
                type: .initial, version: version, destinationConnectionID: destination, sourceConnectionID: source, token: [],
                supportedVersions: [], packetNumberOffset: reader.offset, length: bytes.count)
        }
        guard destination.count <= 20, source.count <= 20 else { throw QUICPacketError(reason: "a connection ID over 20 bytes") }
        guard first & 0x40 != 0 else { throw QUICPacketError(reason: "the fixed bit is not set") }
        let type: QUICPacketType = [.initial, .zeroRTT, .handshake, .retry][Int((first >> 4) & 0x03)]
        var token: [UInt8] = []
        if type == .retry {
            guard reader.remaining > 16 else { throw QUICPacketError(reason: "a Retry without a token") }
            token = try reader.bytes(reader.remaining - 16)
            return QUICPacketHeader(
                type: .retry, version: version, destinationConnectionID: destination, sourceConnectionID: source, token: token,
                supportedVersions: [], packetNumberOffset: reader.offset, length: bytes.count)
        }
        if type == .initial { token = try reader.bytes(try reader.length()) }
        let length = try reader.length()
        guard length <= reader.remaining else { throw QUICPacketError(reason: "a Length past the datagram's end") }
        return QUICPacketHeader(
            type: type, version: version, destinationConnectionID: destination, sourceConnectionID: source, token: token,
            supportedVersions: [], packetNumberOffset: reader.offset, length: reader.offset + length)
    }

    /// Reads a header's fields, failing (rather than trapping) when the bytes run out.
    private struct Reader {
        let bytes: ArraySlice<UInt8>
        var offset = 0

        var remaining: Int { bytes.count - offset }

        mutating func byte() throws(QUICPacketError) -> UInt8 {
            guard remaining >= 1 else { throw QUICPacketError(reason: "the header is cut short") }
            defer { offset += 1 }
            return bytes[bytes.startIndex + offset]
        }

        mutating func bytes(_ count: Int) throws(QUICPacketError) -> [UInt8] {
            guard count >= 0, remaining >= count else { throw QUICPacketError(reason: "the header is cut short") }
            defer { offset += count }
            return Array(bytes[(bytes.startIndex + offset)..<(bytes.startIndex + offset + count)])
        }

        mutating func uint32() throws(QUICPacketError) -> UInt32 {
            try bytes(4).reduce(0) { $0 << 8 | UInt32($1) }
        }

        /// A variable-length integer used as a length.
        mutating func length() throws(QUICPacketError) -> Int {
            let first = try byte()
            var value = UInt64(first & 0x3F)
            for _ in 0..<((1 << (first >> 6)) - 1) { value = value << 8 | UInt64(try byte()) }
            guard value <= UInt64(remaining) else { throw QUICPacketError(reason: "a length past the datagram's end") }
            return Int(value)
        }
    }
}
