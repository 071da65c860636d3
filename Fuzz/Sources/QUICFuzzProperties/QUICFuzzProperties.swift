import NIOCore
import QUIC

/// What the QUIC parsers must hold for any input at all: the libFuzzer targets of `Fuzz/` check
/// it on every input they try, and `QUICFuzzCorpusTests` on every file of `Fuzz/Corpus/`, so CI
/// guards the corpus without libFuzzer. Each check returns the properties the input broke (empty:
/// all held); a crash or a trap inside a check is a failure too.
///
/// This file is the Fuzz package's `QUICFuzzProperties` target; `Tests/QUICTests/` holds a link
/// to it, so both compile the same checks.
public enum QUICFuzzProperties {
    /// The check of the fuzz target `name` (the name of its corpus folder), if QUIC has one.
    public static func check(forTarget name: String) -> (@Sendable ([UInt8]) -> [String])? {
        switch name {
        case "FuzzFrames": frames
        case "FuzzPackets": packets
        case "FuzzTransportParameters": transportParameters
        default: nil
        }
    }

    /// A packet's payload: read as frames, it either fails with FRAME_ENCODING_ERROR or
    /// PROTOCOL_VIOLATION, or gives frames whose encoding reads back to the same frames and
    /// encodes to the same bytes again. ACK ranges come out disjoint, largest first. Read as a
    /// run of variable-length integers, each takes the length its first byte says and writes
    /// back in its shortest form: the same value, and the same bytes if it was in that form.
    public static func frames(_ payload: [UInt8]) -> [String] {
        var broken = varints(payload)
        let frames: [QUICFrame]
        do {
            frames = try QUICFrame.parseAll(ByteBuffer(bytes: payload))
        } catch {
            if error.code != .frameEncodingError, error.code != .protocolViolation {
                broken.append("parseAll threw \(error.code) (\(error.reason))")
            }
            return broken
        }
        for case .ack(let ack) in frames where !ackRangesAreOrdered(ack.ranges) {
            broken.append("ACK ranges \(ack.ranges) are not disjoint and descending")
        }
        let encoded = encode(frames)
        do {
            let again = try QUICFrame.parseAll(ByteBuffer(bytes: encoded))
            if again != frames { broken.append("re-encoded frames read back as \(again), not \(frames)") }
            if encode(again) != encoded { broken.append("encoding the frames a second time gave other bytes") }
        } catch {
            broken.append("re-encoded frames do not read back: \(error.code) (\(error.reason))")
        }
        return broken
    }

    /// A datagram: split into packets with a short-header connection ID of 0, 8 or 20 bytes, the
    /// packets lie end to end from its start, each header reads the same from its packet alone
    /// and agrees with the packet's first byte, and the walk ends only at the datagram's end, at
    /// zero padding, or before bytes that are no packet. An Initial (under the Initial keys of
    /// its Destination Connection ID) or short-header packet (under RFC 9001 A.5's keys) fails
    /// to open only with `QUICProtectionError`; one that opens seals back to its own bytes, and
    /// its payload keeps ``frames(_:)``.
    public static func packets(_ datagram: [UInt8]) -> [String] {
        var broken: [String] = []
        for connectionIDLength in [0, 8, 20] {
            let packets = QUICPacketParser.packets(in: datagram, shortHeaderConnectionIDLength: connectionIDLength)
            var end = 0
            for (header, bytes) in packets {
                if bytes.startIndex != end { broken.append("a packet starts at \(bytes.startIndex), not \(end)") }
                broken += self.header(header, of: bytes, shortHeaderConnectionIDLength: connectionIDLength)
                if connectionIDLength == 0 { broken += protection(header, of: Array(bytes)) }
                end = bytes.endIndex
            }
            let rest = datagram[end...]
            if !rest.allSatisfy({ $0 == 0 }),
                let header = try? QUICPacketParser.header(of: rest, shortHeaderConnectionIDLength: connectionIDLength)
            {
                broken.append("the walk stopped at \(end), before a \(header.type) packet that reads")
            }
        }
        return broken
    }

    /// A transport parameter block: decoded as a client's or a server's, it either fails with
    /// TRANSPORT_PARAMETER_ERROR or gives parameters whose encoding decodes to the same and
    /// encodes to the same bytes again. No block is valid from both sides (a server must send
    /// original_destination_connection_id, a client must not).
    public static func transportParameters(_ block: [UInt8]) -> [String] {
        var broken: [String] = []
        var validSides = 0
        for fromServer in [false, true] {
            let side = fromServer ? "server" : "client"
            let parameters: QUICTransportParameters
            do {
                parameters = try QUICTransportParameters.decode(block, fromServer: fromServer)
            } catch {
                if error.code != .transportParameterError { broken.append("a \(side)'s block threw \(error.code)") }
                continue
            }
            validSides += 1
            let encoded = parameters.encoded()
            do {
                let again = try QUICTransportParameters.decode(encoded, fromServer: fromServer)
                if again != parameters { broken.append("a \(side)'s re-encoded parameters decode to others") }
                if again.encoded() != encoded {
                    broken.append("encoding a \(side)'s parameters again gave other bytes")
                }
            } catch {
                broken.append("a \(side)'s re-encoded parameters do not decode: \(error.reason)")
            }
        }
        if validSides == 2 { broken.append("the block is valid from a client and from a server") }
        return broken
    }

    // MARK: - Parts

    private static func varints(_ bytes: [UInt8]) -> [String] {
        var buffer = ByteBuffer(bytes: bytes)
        var written = ByteBuffer()
        while let first = buffer.readableBytesView.first {
            let start = buffer.readerIndex
            guard let value = buffer.readQUICVarint() else {
                return buffer.readerIndex == start ? [] : ["a varint cut short consumed bytes"]
            }
            let length = buffer.readerIndex - start
            written.clear()
            written.writeQUICVarint(value)
            let shortest = written.readableBytesView
            if length != 1 << (first >> 6) || shortest.count != QUICVarint.length(of: value) || shortest.count > length
                || (shortest.count == length && !shortest.elementsEqual(bytes[start..<buffer.readerIndex]))
                || written.readQUICVarint() != value
            {
                return ["varint \(value) at \(start) (\(length) bytes) does not write back in its shortest form"]
            }
        }
        return []
    }

    private static func encode(_ frames: [QUICFrame]) -> [UInt8] {
        var buffer = ByteBuffer()
        for frame in frames { frame.encode(into: &buffer) }
        return Array(buffer.readableBytesView)
    }

    private static func ackRangesAreOrdered(_ ranges: [ClosedRange<UInt64>]) -> Bool {
        !ranges.isEmpty && zip(ranges, ranges.dropFirst()).allSatisfy { $1.upperBound + 2 <= $0.lowerBound }
    }

    /// A header against its packet's bytes.
    private static func header(
        _ header: QUICPacketHeader, of bytes: ArraySlice<UInt8>, shortHeaderConnectionIDLength: Int
    ) -> [String] {
        var broken: [String] = []
        let reread = try? QUICPacketParser.header(
            of: bytes, shortHeaderConnectionIDLength: shortHeaderConnectionIDLength)
        if reread != header { broken.append("a \(header.type) header reads otherwise from its packet alone") }
        guard let first = bytes.first, bytes.count == header.length, header.packetNumberOffset <= header.length else {
            return broken + ["a \(header.type) packet of \(bytes.count) bytes has length \(header.length)"]
        }
        if first & 0x80 == 0 {
            if header.type != .oneRTT || header.destinationConnectionID.count != shortHeaderConnectionIDLength
                || header.packetNumberOffset != 1 + shortHeaderConnectionIDLength
            {
                broken.append("a short header read as \(header.type)")
            }
            return broken
        }
        switch header.version {
        case 0:
            if header.type != .versionNegotiation || header.length - header.packetNumberOffset >= 4 {
                broken.append("a Version Negotiation packet read as \(header.type), versions left unread")
            }
        case QUICPacketHeader.version1:
            let type: QUICPacketType = [.initial, .zeroRTT, .handshake, .retry][Int(first >> 4 & 0x03)]
            if header.type != type {
                broken.append("a long header of type bits \(first >> 4 & 0x03) read as \(header.type)")
            }
            if header.destinationConnectionID.count > 20 || header.sourceConnectionID.count > 20 {
                broken.append("a version 1 connection ID over 20 bytes")
            }
            if type == .retry, header.token.isEmpty || header.length - header.packetNumberOffset != 16 {
                broken.append("a Retry without a token and a 16-byte tag")
            }
        default:
            if header.type != .initial || !header.isUnsupportedVersion {
                broken.append("version \(header.version)'s packet read as \(header.type)")
            }
        }
        return broken
    }

    /// Opening a packet, sealing it back, and its payload's frames.
    private static func protection(_ header: QUICPacketHeader, of packet: [UInt8]) -> [String] {
        let candidates: [(QUICPacketKeys, largest: UInt64?)]
        switch header.type {
        case .initial where header.version == QUICPacketHeader.version1:
            let keys = QUICPacketKeys.initial(destinationConnectionID: header.destinationConnectionID)
            candidates = [(keys.client, nil), (keys.server, nil)]
        case .oneRTT:
            candidates = [(shortHeaderKeys, 654_360_563)]
        default:
            return []
        }
        var broken: [String] = []
        for (keys, largest) in candidates {
            let protector = QUICPacketProtector(keys: keys)
            do {
                let opened = try protector.open(
                    packet, packetNumberOffset: header.packetNumberOffset, largestPacketNumber: largest)
                let sealed = try protector.seal(
                    header: opened.header, packetNumber: opened.packetNumber,
                    packetNumberOffset: header.packetNumberOffset,
                    payload: opened.payload)
                if sealed != packet { broken.append("an opened \(header.type) packet seals to other bytes") }
                broken += frames(opened.payload)
            } catch is QUICProtectionError {
                continue
            } catch {
                broken.append("opening a \(header.type) packet threw \(error)")
            }
        }
        return broken
    }

    /// RFC 9001 A.5's 1-RTT keys (ChaCha20-Poly1305), which open its short-header packet.
    private static let shortHeaderKeys = QUICPacketKeys(
        secret: [
            0x9a, 0xc3, 0x12, 0xa7, 0xf8, 0x77, 0x46, 0x8e, 0xbe, 0x69, 0x42, 0x27, 0x48, 0xad, 0x00, 0xa1,
            0x54, 0x43, 0xf1, 0x82, 0x03, 0xa0, 0x7d, 0x60, 0x60, 0xf6, 0x88, 0xf3, 0x0f, 0x21, 0x63, 0x2b,
        ], suite: .chacha20Poly1305SHA256)
}
