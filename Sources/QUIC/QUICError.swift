/// A transport error code (RFC 9000 §20.1), carried by CONNECTION_CLOSE.
public struct QUICTransportErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let noError = Self(rawValue: 0x00)
    public static let internalError = Self(rawValue: 0x01)
    public static let connectionRefused = Self(rawValue: 0x02)
    public static let flowControlError = Self(rawValue: 0x03)
    public static let streamLimitError = Self(rawValue: 0x04)
    public static let streamStateError = Self(rawValue: 0x05)
    public static let finalSizeError = Self(rawValue: 0x06)
    public static let frameEncodingError = Self(rawValue: 0x07)
    public static let transportParameterError = Self(rawValue: 0x08)
    public static let connectionIDLimitError = Self(rawValue: 0x09)
    public static let protocolViolation = Self(rawValue: 0x0A)
    public static let invalidToken = Self(rawValue: 0x0B)
    public static let applicationError = Self(rawValue: 0x0C)
    public static let cryptoBufferExceeded = Self(rawValue: 0x0D)
    public static let keyUpdateError = Self(rawValue: 0x0E)
    public static let aeadLimitReached = Self(rawValue: 0x0F)
    public static let noViablePath = Self(rawValue: 0x10)

    /// A TLS alert, as a transport error (0x0100 + the alert).
    public static func cryptoError(alert: UInt8) -> Self { Self(rawValue: 0x0100 + UInt64(alert)) }

    public var description: String {
        let names: [UInt64: String] = [
            0x00: "NO_ERROR", 0x01: "INTERNAL_ERROR", 0x02: "CONNECTION_REFUSED", 0x03: "FLOW_CONTROL_ERROR",
            0x04: "STREAM_LIMIT_ERROR", 0x05: "STREAM_STATE_ERROR", 0x06: "FINAL_SIZE_ERROR", 0x07: "FRAME_ENCODING_ERROR",
            0x08: "TRANSPORT_PARAMETER_ERROR", 0x09: "CONNECTION_ID_LIMIT_ERROR", 0x0A: "PROTOCOL_VIOLATION",
            0x0B: "INVALID_TOKEN", 0x0C: "APPLICATION_ERROR", 0x0D: "CRYPTO_BUFFER_EXCEEDED", 0x0E: "KEY_UPDATE_ERROR",
            0x0F: "AEAD_LIMIT_REACHED", 0x10: "NO_VIABLE_PATH",
        ]
        if let name = names[rawValue] { return name }
        if (0x0100...0x01FF).contains(rawValue) { return "CRYPTO_ERROR(\(rawValue - 0x0100))" }
        return "0x\(String(rawValue, radix: 16))"
    }
}

/// A transport error that closes the connection: its code, the frame type that caused it
/// (when one did) and a reason for people.
public struct QUICTransportError: Error, Sendable, Equatable {
    public var code: QUICTransportErrorCode
    public var frameType: UInt64?
    public var reason: String

    public init(_ code: QUICTransportErrorCode, frameType: UInt64? = nil, _ reason: String) {
        self.code = code
        self.frameType = frameType
        self.reason = reason
    }
}
