import FasterAPI
import NIOCore

/// A JSON-RPC 2.0 request id: a string or an integer, echoed back exactly as it came.
public enum JSONRPCID: Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case string(String)

    var json: JSONValue {
        switch self {
        case .int(let value): .int(value)
        case .string(let value): .string(value)
        }
    }

    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .string(let value): "\"\(value)\""
        }
    }
}

/// A JSON-RPC 2.0 error object.
public struct JSONRPCError: Error, Sendable, Equatable {
    /// The error code (-32700 … -32603 are the protocol's own).
    public var code: Int
    /// A short description.
    public var message: String
    /// More about it (for -32602, the validation problems).
    public var data: JSONValue?

    /// An error with `code`, `message` and optional `data`.
    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// -32700: the bytes are not JSON.
    public static func parseError(_ detail: String) -> JSONRPCError { .init(code: -32700, message: "Parse error: \(detail)") }
    /// -32600: JSON, but not a JSON-RPC message.
    public static func invalidRequest(_ detail: String) -> JSONRPCError {
        .init(code: -32600, message: "Invalid Request: \(detail)")
    }
    /// -32601: no such method.
    public static func methodNotFound(_ method: String) -> JSONRPCError {
        .init(code: -32601, message: "Method not found: \(method)")
    }
    /// -32602: the params do not fit the method.
    public static func invalidParams(_ detail: String, data: JSONValue? = nil) -> JSONRPCError {
        .init(code: -32602, message: "Invalid params: \(detail)", data: data)
    }
    /// -32603: the server failed.
    public static func internalError(_ detail: String) -> JSONRPCError {
        .init(code: -32603, message: "Internal error: \(detail)")
    }

    var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [("code", .int(code)), ("message", .string(message))]
        if let data { members.append(("data", data)) }
        return .object(JSONObject(members))
    }
}

/// One JSON-RPC 2.0 message. The envelope is read first; `params` and `result` stay JSON until
/// the method's handler decodes them into its own types.
public enum JSONRPCMessage: Sendable, Equatable {
    /// A call that expects an answer.
    case request(id: JSONRPCID, method: String, params: JSONValue?)
    /// A call that expects none.
    case notification(method: String, params: JSONValue?)
    /// A successful answer.
    case response(id: JSONRPCID, result: JSONValue)
    /// A failed answer; the id is nil when the request's could not be read.
    case error(id: JSONRPCID?, JSONRPCError)

    /// The message as a JSON value.
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [("jsonrpc", "2.0")]
        switch self {
        case .request(let id, let method, let params):
            members.append(("id", id.json))
            members.append(("method", .string(method)))
            if let params { members.append(("params", params)) }
        case .notification(let method, let params):
            members.append(("method", .string(method)))
            if let params { members.append(("params", params)) }
        case .response(let id, let result):
            members.append(("id", id.json))
            members.append(("result", result))
        case .error(let id, let error):
            members.append(("id", id?.json ?? .null))
            members.append(("error", error.json))
        }
        return .object(JSONObject(members))
    }

    /// The message encoded as compact JSON.
    public func encoded() throws -> ByteBuffer { try JSONWriter.encode(json) }
}

/// What one incoming payload holds: a single message or a batch, each element either a message
/// or the error to answer it with (so one bad element does not spoil the rest).
public enum JSONRPCPayload: Sendable, Equatable {
    case single(Result<JSONRPCMessage, JSONRPCDecodingFailure>)
    case batch([Result<JSONRPCMessage, JSONRPCDecodingFailure>])

    /// Reads `bytes`: -32700 if they are not JSON, -32600 for an empty batch or a non-message.
    public static func decode(_ bytes: ByteBuffer) -> JSONRPCPayload {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            return .single(.failure(JSONRPCDecodingFailure(id: nil, error: .parseError(error.message))))
        }
        if case .array(let elements) = value {
            guard !elements.isEmpty else {
                return .single(.failure(JSONRPCDecodingFailure(id: nil, error: .invalidRequest("empty batch"))))
            }
            return .batch(elements.map(JSONRPCMessage.decode))
        }
        return .single(JSONRPCMessage.decode(value))
    }
}

/// A message that could not be read, with the id to answer it under (if one was readable).
public struct JSONRPCDecodingFailure: Error, Sendable, Equatable {
    /// The id of the request, when the envelope had a valid one.
    public var id: JSONRPCID?
    /// The error to answer with.
    public var error: JSONRPCError
}

extension JSONRPCMessage {
    /// Reads one message from a parsed JSON value.
    static func decode(_ value: JSONValue) -> Result<JSONRPCMessage, JSONRPCDecodingFailure> {
        guard case .object(let object) = value else {
            return .failure(.init(id: nil, error: .invalidRequest("a message is a JSON object")))
        }
        var id: JSONRPCID?
        var hasID = false
        if let rawID = object["id"] {
            hasID = true
            switch rawID {
            case .int(let value): id = .int(value)
            case .string(let value): id = .string(value)
            case .null: id = nil
            default:
                return .failure(.init(id: nil, error: .invalidRequest("id must be a string or an integer")))
            }
        }
        guard object["jsonrpc"] == .string("2.0") else {
            return .failure(.init(id: id, error: .invalidRequest("jsonrpc must be \"2.0\"")))
        }
        let params = object["params"]
        if let params {
            switch params {
            case .object, .array: break
            default: return .failure(.init(id: id, error: .invalidRequest("params must be an object or an array")))
            }
        }
        if let method = object["method"] {
            guard case .string(let name) = method else {
                return .failure(.init(id: id, error: .invalidRequest("method must be a string")))
            }
            guard hasID else { return .success(.notification(method: name, params: params)) }
            guard let id else {
                return .failure(.init(id: nil, error: .invalidRequest("a request's id cannot be null")))
            }
            return .success(.request(id: id, method: name, params: params))
        }
        if let result = object["result"] {
            guard let id else { return .failure(.init(id: nil, error: .invalidRequest("a response needs an id"))) }
            return .success(.response(id: id, result: result))
        }
        if case .object(let error)? = object["error"], case .int(let code)? = error["code"],
            case .string(let message)? = error["message"]
        {
            return .success(.error(id: id, JSONRPCError(code: code, message: message, data: error["data"])))
        }
        return .failure(.init(id: id, error: .invalidRequest("neither a request, a notification nor a response")))
    }
}
