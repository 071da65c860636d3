import FasterAPI

/// Sends a message to the client outside an answer (a progress or log notification).
typealias MCPOutbound = @Sendable (JSONRPCMessage) async -> Void

/// What a handler can do beyond returning its result: report progress (when the client asked
/// for it with a progress token) and log to the client (at or above the level it set). A
/// cancelled request's handler sees `Task.isCancelled`.
public struct MCPContext: Sendable {
    /// The request being handled.
    public let requestID: JSONRPCID
    let progressToken: JSONValue?
    let logLevel: MCPLogLevel?
    let outbound: MCPOutbound

    init(requestID: JSONRPCID, params: JSONValue?, logLevel: MCPLogLevel?, outbound: @escaping MCPOutbound) {
        self.requestID = requestID
        if case .object(let object)? = params, case .object(let meta)? = object["_meta"] {
            progressToken = meta["progressToken"]
        } else {
            progressToken = nil
        }
        self.logLevel = logLevel
        self.outbound = outbound
    }

    /// Sends `notifications/progress` (nothing if the client gave no progress token).
    public func progress(_ progress: Double, total: Double? = nil, message: String? = nil) async {
        guard let progressToken else { return }
        var members: [(key: String, value: JSONValue)] = [("progressToken", progressToken), ("progress", .number(progress))]
        if let total { members.append(("total", .number(total))) }
        if let message { members.append(("message", .string(message))) }
        await outbound(.notification(method: "notifications/progress", params: .object(JSONObject(members))))
    }

    /// Sends `notifications/message` if `level` is at or above the level the client set.
    public func log(_ level: MCPLogLevel, _ message: String, logger: String? = nil) async {
        guard let logLevel, level >= logLevel else { return }
        var members: [(key: String, value: JSONValue)] = [("level", .string(level.rawValue)), ("data", .string(message))]
        if let logger { members.append(("logger", .string(logger))) }
        await outbound(.notification(method: "notifications/message", params: .object(JSONObject(members))))
    }
}
