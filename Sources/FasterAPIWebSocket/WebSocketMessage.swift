import FasterAPI
import Foundation
import NIOCore

/// A whole WebSocket message: text or binary, reassembled from its fragments and decompressed.
public enum WebSocketMessage: Sendable, Equatable {
    /// A text message (valid UTF-8, checked as it arrived).
    case text(String)
    /// A binary message.
    case binary(ByteBuffer)

    /// The text, or nil for a binary message.
    public var text: String? {
        if case .text(let text) = self { return text }
        return nil
    }

    /// The payload's bytes (UTF-8 for text).
    public var bytes: ByteBuffer { frame.payload }

    /// The opcode and payload it is sent with.
    var frame: (opcode: WebSocketOpcode, payload: ByteBuffer) {
        switch self {
        case .text(let text): (.text, ByteBuffer(string: text))
        case .binary(let buffer): (.binary, buffer)
        }
    }

    /// Decodes the payload (text or binary) as JSON.
    public func decode<T: Decodable>(_ type: T.Type, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        switch self {
        case .text(let text): try decoder.decode(T.self, from: Data(text.utf8))
        case .binary(let buffer): try decoder.decode(T.self, from: Data(buffer.readableBytesView))
        }
    }
}

/// A close status code (RFC 6455 §7.4).
public struct WebSocketCloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code.
    public let rawValue: UInt16

    /// A code from its number.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// 1000: the purpose of the connection is fulfilled.
    public static let normalClosure = WebSocketCloseCode(rawValue: 1000)
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    public static let goingAway = WebSocketCloseCode(rawValue: 1001)
    /// 1002: the peer broke the protocol.
    public static let protocolError = WebSocketCloseCode(rawValue: 1002)
    /// 1003: a message type the endpoint cannot accept.
    public static let unsupportedData = WebSocketCloseCode(rawValue: 1003)
    /// 1005: no code was given (never sent on the wire).
    public static let noStatusReceived = WebSocketCloseCode(rawValue: 1005)
    /// 1006: the connection ended without a close frame (never sent on the wire).
    public static let abnormalClosure = WebSocketCloseCode(rawValue: 1006)
    /// 1007: a text message that is not UTF-8, or data inconsistent with its type.
    public static let invalidPayload = WebSocketCloseCode(rawValue: 1007)
    /// 1008: a message that violates the endpoint's policy.
    public static let policyViolation = WebSocketCloseCode(rawValue: 1008)
    /// 1009: a message too big to process.
    public static let messageTooBig = WebSocketCloseCode(rawValue: 1009)
    /// 1010: the client needed an extension the server did not negotiate.
    public static let mandatoryExtension = WebSocketCloseCode(rawValue: 1010)
    /// 1011: the server failed while handling the connection.
    public static let internalError = WebSocketCloseCode(rawValue: 1011)
    /// 1012: the service is restarting.
    public static let serviceRestart = WebSocketCloseCode(rawValue: 1012)
    /// 1013: try again later (overloaded).
    public static let tryAgainLater = WebSocketCloseCode(rawValue: 1013)

    /// Whether the code may appear in a close frame (RFC 6455 §7.4.1–2 and the IANA registry):
    /// 1000–1003, 1007–1014 and the application ranges 3000–4999.
    public var isSendable: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    /// The number.
    public var description: String { String(rawValue) }
}

/// Why a WebSocket ended when it did not end with a close handshake, or ended with an error.
public enum WebSocketError: Error, Equatable, CustomStringConvertible {
    /// The connection was lost (or the peer stopped answering pings) without a close frame.
    case connectionLost
    /// We failed the connection: the peer broke the protocol (our close frame carried `code`).
    case failed(code: WebSocketCloseCode, reason: String)
    /// The socket is closed; nothing can be sent.
    case closed
    /// The opening handshake failed (client side): the server's answer, explained.
    case handshakeFailed(String)

    /// A short explanation.
    public var description: String {
        switch self {
        case .connectionLost: "WebSocket connection lost"
        case .failed(let code, let reason): "WebSocket failed with \(code): \(reason)"
        case .closed: "WebSocket is closed"
        case .handshakeFailed(let reason): "WebSocket handshake failed: \(reason)"
        }
    }
}
