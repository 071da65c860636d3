import Crypto
import FasterAPI
import NIOCore

/// Which `Origin`s may open a WebSocket (a browser always sends one; other clients may not).
public enum WebSocketOriginPolicy: Sendable {
    /// Any origin, and none.
    case any
    /// Only pages from the host the request was made to (`Origin`'s host and port equal `Host`),
    /// or clients that send no `Origin`.
    case sameHost
    /// Only these origins (`https://app.example.com`), or clients that send no `Origin`.
    case allowList([String])

    func allows(origin: String?, host: String?) -> Bool {
        guard let origin else { return true }
        switch self {
        case .any:
            return true
        case .sameHost:
            guard let host, let schemeEnd = origin.range(of: "://") else { return false }
            return origin[schemeEnd.upperBound...].lowercased() == host.lowercased()
        case .allowList(let origins):
            return origins.contains { $0.caseInsensitiveCompare(origin) == .orderedSame }
        }
    }
}

/// A request to open a WebSocket, checked (RFC 6455 §4.2.1): take it as a dependency
/// (`@Depends upgrade: WebSocketUpgrade`) in a typed `GET` handler and answer with
/// ``accept(subprotocols:configuration:session:)``, so path parameters, dependencies and security
/// all run (and can refuse with 401/403) before the connection switches protocols.
///
/// ```swift
/// @GET("/ws/chat/{room}", includeInSchema: false)
/// func chat(room: String, @Security user: CurrentUser, @Depends upgrade: WebSocketUpgrade) throws -> Response {
///     try upgrade.requireOrigin(.sameHost)
///     return upgrade.accept { ws in
///         for try await message in ws.messages { hub.broadcast(message, to: room) }
///     }
/// }
/// ```
/// A request that is not a valid WebSocket handshake is answered 426 (no `Upgrade: websocket`,
/// or a version other than 13) or 400 (a bad key or `Connection`).
public struct WebSocketUpgrade: Dependency {
    /// The request.
    public let request: Request
    /// The subprotocols the client offered, in its order of preference.
    public let offeredSubprotocols: [String]
    /// `Sec-WebSocket-Key` (HTTP/1.1); HTTP/2 has none.
    let key: String?

    /// Checks `request` as an opening handshake: an HTTP/1.1 `GET` with `Upgrade: websocket`,
    /// or an HTTP/2 extended CONNECT with `:protocol websocket` (RFC 8441).
    public init(request: Request) throws {
        let headers = request.headers
        let head = request.http.head
        if head.version == .http2 {
            guard request.method == .connect, head.connectProtocol?.lowercased() == "websocket" else {
                throw HTTPError(.badRequest, detail: "A WebSocket over HTTP/2 is an extended CONNECT with :protocol websocket")
            }
            guard headers.values(for: "sec-websocket-version") == ["13"] else {
                throw HTTPError(
                    .badRequest, detail: "Unsupported WebSocket version (13 is supported)",
                    headers: HTTPHeaders([("Sec-WebSocket-Version", "13")]))
            }
            self.init(request: request, key: nil)
            return
        }
        guard request.method == .get, head.version == .http1_1 else {
            throw HTTPError(.badRequest, detail: "A WebSocket handshake is an HTTP/1.1 GET request")
        }
        guard headers.containsToken("websocket", in: "upgrade") else {
            throw HTTPError(
                .upgradeRequired, detail: "This endpoint speaks WebSocket: send Upgrade: websocket",
                headers: HTTPHeaders([("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")]))
        }
        guard headers.containsToken("upgrade", in: "connection") else {
            throw HTTPError(.badRequest, detail: "A WebSocket handshake needs Connection: Upgrade")
        }
        guard headers.values(for: "sec-websocket-version") == ["13"] else {
            throw HTTPError(
                .upgradeRequired, detail: "Unsupported WebSocket version (13 is supported)",
                headers: HTTPHeaders([("Sec-WebSocket-Version", "13")]))
        }
        let keys = headers.values(for: "sec-websocket-key")
        guard keys.count == 1, let key = keys.first, Self.isValidKey(key) else {
            throw HTTPError(.badRequest, detail: "Missing or invalid Sec-WebSocket-Key")
        }
        self.init(request: request, key: key)
    }

    private init(request: Request, key: String?) {
        self.request = request
        self.key = key
        self.offeredSubprotocols = request.headers.values(for: "sec-websocket-protocol").flatMap {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }.filter { !$0.isEmpty }
    }

    /// How `@Depends` builds it: from the request, before the handler runs.
    public static var dependency: DependencyProvider<WebSocketUpgrade> {
        DependencyProvider(inputs: []) { reader in try WebSocketUpgrade(request: reader.request) }
    }

    /// Refuses the handshake with 403 unless `policy` allows the request's `Origin` (a page
    /// from another site opening a socket with the user's cookies).
    public func requireOrigin(_ policy: WebSocketOriginPolicy) throws {
        guard policy.allows(origin: request.headers["origin"], host: request.headers["host"]) else {
            throw HTTPError(.forbidden, detail: "Origin not allowed")
        }
    }

    /// The `101 Switching Protocols` answer (`200` over HTTP/2) that opens the socket and runs
    /// `session` on it. The first of `subprotocols` (our order of preference) that the client
    /// offered is selected; if none is, the socket opens without one. When `session` returns the
    /// socket is closed with 1000 (1011 if it throws).
    public func accept(
        subprotocols: [String] = [], configuration: WebSocketConfiguration = WebSocketConfiguration(),
        session: @escaping @Sendable (WebSocket) async throws -> Void
    ) -> Response {
        var headers = HTTPHeaders()
        if let key {
            headers.add(name: "Upgrade", value: "websocket")
            headers.add(name: "Sec-WebSocket-Accept", value: Self.acceptValue(for: key))
        }
        let subprotocol = subprotocols.first { offeredSubprotocols.contains($0) }
        if let subprotocol { headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol) }
        var agreement: DeflateAgreement? = nil
        var extensions: String? = nil
        if let compression = configuration.compression {
            let offers = PerMessageDeflateNegotiation.parse(request.headers.values(for: "sec-websocket-extensions"))
            if let accepted = PerMessageDeflateNegotiation.accept(offers, configuration: compression) {
                agreement = accepted.agreement
                extensions = accepted.header
                headers.add(name: "Sec-WebSocket-Extensions", value: accepted.header)
            }
        }
        // HTTP/1.1 switches protocols; over HTTP/2 a 200 opens the stream as a tunnel.
        var response = Response(status: key == nil ? .ok : .switchingProtocols, headers: headers)
        response.upgrade = ConnectionUpgrade { [agreement, extensions] connection in
            let socket = try await onEventLoop(connection.channel.eventLoop) {
                let socket = try WebSocket(
                    channel: connection.channel, role: .server, configuration: configuration, agreement: agreement,
                    extensions: extensions, subprotocol: subprotocol)
                try socket.start(buffered: connection.buffered)
                return socket
            }
            await socket.run(session)
        }
        return response
    }

    /// `Sec-WebSocket-Accept` for a key: base64(SHA-1(key + the RFC 6455 GUID)).
    static func acceptValue(for key: String) -> String {
        let digest = Insecure.SHA1.hash(data: Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))
        return Base64.encode(Array(digest))
    }

    /// A key is the base64 of 16 bytes: 22 characters and `==`.
    static func isValidKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard bytes.count == 24, bytes[22] == UInt8(ascii: "="), bytes[23] == UInt8(ascii: "=") else { return false }
        return bytes[..<22].allSatisfy(Base64.isAlphabet)
    }
}

/// Runs `body` on `eventLoop`: inline when already there.
func onEventLoop<T: Sendable>(_ eventLoop: any EventLoop, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    if eventLoop.inEventLoop { return try body() }
    return try await eventLoop.submit(body).get()
}

/// Standard base64 (RFC 4648 §4) for handshake keys.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func isAlphabet(_ byte: UInt8) -> Bool { alphabet.contains(byte) }

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value = 0
            for (offset, byte) in chunk.enumerated() { value |= Int(byte) << (16 - 8 * offset) }
            for position in 0..<4 {
                if position <= chunk.count {
                    output.append(alphabet[(value >> (18 - 6 * position)) & 0x3F])
                } else {
                    output.append(UInt8(ascii: "="))
                }
            }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}

extension RouteRegistrar {
    /// Adds a WebSocket endpoint at `path` (a `GET` route that switches protocols): `session`
    /// runs with the open socket and the request; the socket closes when it returns. Path
    /// parameters are in `request.pathParameters`; a group's middleware and dependencies run
    /// before the handshake is answered.
    public func websocket(
        _ path: String, subprotocols: [String] = [], origins: WebSocketOriginPolicy = .any,
        configuration: WebSocketConfiguration = WebSocketConfiguration(), tags: [String] = [],
        _ session: @escaping @Sendable (WebSocket, Request) async throws -> Void
    ) {
        register(.get, path, tags: tags) { request in
            let upgrade = try WebSocketUpgrade(request: request)
            try upgrade.requireOrigin(origins)
            return upgrade.accept(subprotocols: subprotocols, configuration: configuration) { socket in
                try await session(socket, request)
            }
        }
    }
}
