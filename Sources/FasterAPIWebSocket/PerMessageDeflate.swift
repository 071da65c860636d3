import CompressNIO
import FasterAPICore
import NIOCore

/// permessage-deflate (RFC 7692): what this side offers or accepts.
public struct PerMessageDeflateConfiguration: Sendable {
    /// The largest LZ77 window (as a power of two, 9–15) our compressor may use.
    public var maxWindowBits: Int
    /// Start every message we send with an empty window (saves memory, costs ratio).
    public var noContextTakeover: Bool
    /// Ask the peer to compress every message with an empty window.
    public var requestPeerNoContextTakeover: Bool
    /// Messages shorter than this are sent uncompressed (compressing them costs more than it saves).
    public var minimumSize: Int

    /// Defaults: a 32 KiB window, context kept on both sides, messages from 64 bytes compressed.
    public init(
        maxWindowBits: Int = 15, noContextTakeover: Bool = false, requestPeerNoContextTakeover: Bool = false,
        minimumSize: Int = 64
    ) {
        precondition((9...15).contains(maxWindowBits), "window bits must be 9...15")
        self.maxWindowBits = maxWindowBits
        self.noContextTakeover = noContextTakeover
        self.requestPeerNoContextTakeover = requestPeerNoContextTakeover
        self.minimumSize = minimumSize
    }
}

/// The parameters both sides agreed to, from this side's point of view.
struct DeflateAgreement: Equatable, Sendable {
    /// Our compressor's window bits and whether it resets after each message.
    var sendWindowBits: Int
    var sendNoContextTakeover: Bool
    /// Whether the peer resets its compressor after each message (we may reset our inflater).
    var receiveNoContextTakeover: Bool
}

/// Parsing and answering `Sec-WebSocket-Extensions` for permessage-deflate.
enum PerMessageDeflateNegotiation {
    /// One extension offer: its name and parameters (a parameter without a value maps to nil).
    struct Offer: Equatable {
        var name: String
        var parameters: [(name: String, value: String?)]

        static func == (lhs: Offer, rhs: Offer) -> Bool {
            lhs.name == rhs.name && lhs.parameters.elementsEqual(rhs.parameters) { $0 == $1 }
        }
    }

    /// The offers in `Sec-WebSocket-Extensions` values, in order (`a; p=1, b` is two offers).
    static func parse(_ values: [String]) -> [Offer] {
        var offers: [Offer] = []
        for value in values {
            for item in value.split(separator: ",") {
                let parts = item.split(separator: ";").map { String($0.trimmingSpaces()) }
                guard let name = parts.first, !name.isEmpty else { continue }
                var parameters: [(String, String?)] = []
                for part in parts.dropFirst() where !part.isEmpty {
                    if let equals = part.firstIndex(of: "=") {
                        var value = String(part[part.index(after: equals)...].trimmingSpaces())
                        if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                            value = String(value.dropFirst().dropLast())
                        }
                        parameters.append((part[..<equals].trimmingSpaces().lowercased(), value))
                    } else {
                        parameters.append((part.lowercased(), nil))
                    }
                }
                offers.append(Offer(name: name.lowercased(), parameters: parameters))
            }
        }
        return offers
    }

    /// Server side: the first permessage-deflate offer we can accept, as the agreement and the
    /// response header value; nil if none is acceptable (the socket then runs uncompressed).
    static func accept(_ offers: [Offer], configuration: PerMessageDeflateConfiguration)
        -> (agreement: DeflateAgreement, header: String)?
    {
        offerLoop: for offer in offers where offer.name == "permessage-deflate" {
            var serverNoContextTakeover = configuration.noContextTakeover
            var clientNoContextTakeover = configuration.requestPeerNoContextTakeover
            var serverWindowBits = configuration.maxWindowBits
            var serverWindowBitsOffered = false
            var clientWindowBits: Int?? = nil  // nil: not offered; .some(nil): offered without a value
            var seen: Set<String> = []
            for (name, value) in offer.parameters {
                guard seen.insert(name).inserted else { continue offerLoop }
                switch name {
                case "server_no_context_takeover":
                    guard value == nil else { continue offerLoop }
                    serverNoContextTakeover = true
                case "client_no_context_takeover":
                    guard value == nil else { continue offerLoop }
                    clientNoContextTakeover = true
                case "server_max_window_bits":
                    // zlib cannot compress with an 8-bit window: an offer demanding it is declined.
                    guard let value, let bits = windowBits(value), bits >= 9 else { continue offerLoop }
                    serverWindowBits = min(serverWindowBits, bits)
                    serverWindowBitsOffered = true
                case "client_max_window_bits":
                    if let value {
                        guard windowBits(value) != nil else { continue offerLoop }
                    }
                    clientWindowBits = .some(value.flatMap(windowBits))
                default:
                    continue offerLoop
                }
            }
            var header = "permessage-deflate"
            if serverNoContextTakeover { header += "; server_no_context_takeover" }
            if clientNoContextTakeover { header += "; client_no_context_takeover" }
            // An offered limit is answered (RFC 7692 §7.1.2.1); otherwise only a smaller window is named.
            if serverWindowBitsOffered || serverWindowBits < 15 { header += "; server_max_window_bits=\(serverWindowBits)" }
            // The client's window is its own business; we inflate with the largest window anyway.
            if case .some(.some(let bits)) = clientWindowBits { header += "; client_max_window_bits=\(bits)" }
            let agreement = DeflateAgreement(
                sendWindowBits: serverWindowBits, sendNoContextTakeover: serverNoContextTakeover,
                receiveNoContextTakeover: clientNoContextTakeover)
            return (agreement, header)
        }
        return nil
    }

    /// Client side: the offer we send.
    static func offer(_ configuration: PerMessageDeflateConfiguration) -> String {
        var header = "permessage-deflate; client_max_window_bits"
        if configuration.maxWindowBits < 15 { header += "=\(configuration.maxWindowBits)" }
        if configuration.noContextTakeover { header += "; client_no_context_takeover" }
        if configuration.requestPeerNoContextTakeover { header += "; server_no_context_takeover" }
        return header
    }

    /// Client side: the agreement the server's answer makes, nil if it declined. Throws when the
    /// answer is not one our offer allows (the client must then fail the connection).
    static func agreement(fromResponse values: [String], configuration: PerMessageDeflateConfiguration) throws(WebSocketError)
        -> DeflateAgreement?
    {
        let offers = parse(values)
        guard !offers.isEmpty else { return nil }
        guard offers.count == 1, offers[0].name == "permessage-deflate" else {
            throw .handshakeFailed("server answered with extensions we did not offer: \(values.joined(separator: ", "))")
        }
        var agreement = DeflateAgreement(
            sendWindowBits: configuration.maxWindowBits, sendNoContextTakeover: configuration.noContextTakeover,
            receiveNoContextTakeover: false)
        var seen: Set<String> = []
        for (name, value) in offers[0].parameters {
            guard seen.insert(name).inserted else { throw .handshakeFailed("duplicate parameter \(name)") }
            switch name {
            case "server_no_context_takeover" where value == nil:
                agreement.receiveNoContextTakeover = true
            case "client_no_context_takeover" where value == nil:
                agreement.sendNoContextTakeover = true
            case "server_max_window_bits":
                guard let value, windowBits(value) != nil else { throw .handshakeFailed("bad server_max_window_bits") }
            case "client_max_window_bits":
                guard let value, let bits = windowBits(value) else { throw .handshakeFailed("bad client_max_window_bits") }
                // zlib's smallest compression window is 9 bits; 8 cannot be honoured.
                guard bits >= 9 else { throw .handshakeFailed("client_max_window_bits=8 is not supported") }
                agreement.sendWindowBits = min(agreement.sendWindowBits, bits)
            default:
                throw .handshakeFailed("unexpected permessage-deflate parameter \(name)")
            }
        }
        return agreement
    }

    /// 8...15 written as plain digits, else nil.
    private static func windowBits(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 2, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            !(text.hasPrefix("0")), let bits = Int(text), (8...15).contains(bits)
        else { return nil }
        return bits
    }
}

/// Compresses and decompresses messages for one connection as agreed. Used on the connection's
/// event loop only.
final class MessageDeflater {
    private let agreement: DeflateAgreement
    private let compressor: ZlibCompressor
    private let decompressor: ZlibDecompressor
    /// The tail every flushed deflate block ends with, taken off on send and put back on receive.
    private static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    init(_ agreement: DeflateAgreement) throws {
        self.agreement = agreement
        compressor = try ZlibCompressor(
            algorithm: .deflate,
            configuration: ZlibConfiguration(windowSize: Int32(agreement.sendWindowBits), compressionLevel: 6, memoryLevel: 8))
        decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
    }

    /// The compressed payload of a message.
    func compress(_ payload: ByteBuffer, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var input = payload
        var output = allocator.buffer(capacity: compressor.maxSize(from: input))
        repeat {
            output.reserveCapacity(minimumWritableBytes: max(64, compressor.maxSize(from: input)))
            try compressor.deflate(from: &input, to: &output, flush: .sync)
        } while input.readableBytes > 0
        if output.readableBytesView.suffix(4).elementsEqual(Self.tail) { output.moveWriterIndex(to: output.writerIndex - 4) }
        if agreement.sendNoContextTakeover { try compressor.reset() }
        return output
    }

    /// The decompressed payload of a message, failing with 1009 once it exceeds `limit` bytes
    /// (so a small message cannot inflate into gigabytes) and 1007 if it is not deflate data.
    func decompress(_ payload: ByteBuffer, limit: Int, allocator: ByteBufferAllocator) throws(WebSocketViolation)
        -> ByteBuffer
    {
        var input = payload
        input.writeBytes(Self.tail)
        var output = allocator.buffer(capacity: min(limit, max(256, payload.readableBytes * 4)))
        while true {
            output.reserveCapacity(minimumWritableBytes: min(64 * 1024, max(1, limit + 1 - output.readableBytes)))
            do {
                try decompressor.inflate(from: &input, to: &output)
                if input.readableBytes == 0 { break }
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // Output full: more room, unless the message is already over the limit.
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                break  // all input consumed
            } catch {
                throw WebSocketViolation(code: .invalidPayload, reason: "invalid compressed data")
            }
            guard output.readableBytes <= limit else {
                throw WebSocketViolation(code: .messageTooBig, reason: "message too big")
            }
        }
        guard output.readableBytes <= limit else { throw WebSocketViolation(code: .messageTooBig, reason: "message too big") }
        if agreement.receiveNoContextTakeover { try? decompressor.reset() }
        return output
    }
}
