import FasterAPI
import FasterAPIWebSocket
import Foundation
import Synchronization

/// One Streamable HTTP session: its driver, the log of what it sent on event streams, and who
/// is listening to which stream.
final class MCPHTTPSession: Sendable {
    private struct State {
        var log = MCPEventLog()
        var listeners: [Int: MCPEventQueue] = [:]
        var lastSeen = ContinuousClock.now
    }

    /// The state, shared with the driver's outbound closure (made before `self` is).
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    /// The `Mcp-Session-Id`: random, unguessable.
    let id = UUID().uuidString.lowercased()
    let driver: MCPSessionDriver
    private let shared: Shared

    init(server: MCPServer) {
        let shared = Shared()
        self.shared = shared
        // Notifications that belong to no request go on the standalone stream (0).
        self.driver = MCPSessionDriver(server: server) { message in Self.record(message, on: 0, in: shared) }
    }

    /// Whether nothing has used the session since `instant` and no stream is open.
    func isIdle(since instant: ContinuousClock.Instant) -> Bool {
        shared.state.withLock { $0.lastSeen < instant && $0.listeners.isEmpty }
    }

    /// Records `message` (nil: the stream's end) on `stream` and hands it to the stream's
    /// listener, if any.
    private static func record(_ message: JSONRPCMessage?, on stream: Int, in shared: Shared) {
        let (event, listener) = shared.state.withLock { state in
            let event = state.log.append(message, to: stream)
            let listener = message == nil ? state.listeners.removeValue(forKey: stream) : state.listeners[stream]
            return (event, listener)
        }
        listener?.push(event)
        if message == nil { listener?.finish() }
    }

    private func record(_ message: JSONRPCMessage?, on stream: Int) { Self.record(message, on: stream, in: shared) }

    /// The answer to a `POST` of `payload`: 202 when nothing is to be answered, JSON when the
    /// answers are all that is sent, an event stream once a handler sends something first and
    /// `streams` says the client takes one (otherwise those messages go on the standalone stream).
    func answer(_ payload: JSONRPCPayload, streams: Bool, to request: Request) async throws -> Response {
        let (stream, queue) = shared.state.withLock { state in
            state.lastSeen = .now
            let stream = state.log.openStream()
            let queue = MCPEventQueue()
            state.listeners[stream] = queue
            return (stream, queue)
        }
        // Answers are recorded as their handlers end; the stream ends after the last one (the
        // count of running requests is only known once they run, hence the large start).
        let unknown = 1 << 40
        let remaining = MCPCountdown(unknown)
        let replies = driver.accept(
            payload, request: request,
            related: { [self] message in record(message, on: streams ? stream : 0) },
            answered: { [self] answer in
                if let answer { record(answer, on: stream) }
                if remaining.count(down: 1) { record(nil, on: stream) }
            })
        var headers = HTTPHeaders()
        if payload.isInitialize, driver.version != nil { headers.add(name: "Mcp-Session-Id", value: id) }
        guard let immediate = replies.immediate else {
            var running = 0
            for part in replies.parts {
                switch part {
                case .ready(let message): record(message, on: stream)
                case .running: running += 1
                }
            }
            if remaining.count(down: unknown - running) { record(nil, on: stream) }
            return try await decide(stream, queue, payload: payload, headers: headers, request: request)
        }
        stopListening(queue, to: stream)
        guard let json = MCPSessionDriver.Replies.json(immediate, batch: replies.isBatch) else {
            return Response(status: .accepted, headers: headers)
        }
        // A message that could not be read at all is an HTTP error too.
        if case .single(.failure) = payload { return try Self.json(json, status: .badRequest, headers: headers) }
        return try Self.json(json, headers: headers)
    }

    /// Waits for the first thing a `POST`'s running requests send: the answers alone make a
    /// JSON response; a notification or request first makes an event stream of everything.
    private func decide(
        _ stream: Int, _ queue: MCPEventQueue, payload: JSONRPCPayload, headers: HTTPHeaders, request: Request
    ) async throws -> Response {
        var answers: [MCPEventLog.Event] = []
        while let event = await queue.next(), let message = event.message {
            guard message.isAnswer else {
                var headers = headers
                let first = answers + [event]
                let sent = EventStream(request: request, heartbeat: nil) { [self] writer in
                    defer { stopListening(queue, to: stream) }
                    for event in first { try await Self.write(event, to: writer) }
                    while let event = await queue.next(), event.message != nil { try await Self.write(event, to: writer) }
                }
                let response = try await sent.response(for: request)
                for (name, value) in response.headers { headers.replaceOrAdd(name: name, value: value) }
                return Response(status: .ok, headers: headers, body: response.body)
            }
            answers.append(event)
        }
        var messages = answers.compactMap(\.message)
        // A request cancelled meanwhile still needs an answer to its POST (as the Python SDK does).
        if messages.isEmpty, case .single(.success(.request(let id, _, _))) = payload {
            messages = [.error(id: id, JSONRPCError(code: -32800, message: "Request cancelled"))]
        }
        guard let json = MCPSessionDriver.Replies.json(messages, batch: payload.isBatch) else {
            return Response(status: .accepted, headers: headers)
        }
        return try Self.json(json, headers: headers)
    }

    /// The answer to a `GET`: the standalone stream, or with `Last-Event-ID` the rest of the
    /// stream that event was on (replayed from the log, then live until it ends; a resumed
    /// stream replaces the one it resumes); 409 for a second standalone stream. The listener is
    /// registered only once the stream runs (a HEAD, or a client already gone, leaves none).
    func resume(_ request: Request) async throws -> Response {
        let lastEventID = request.headers["last-event-id"]
        let conflict = shared.state.withLock { state in
            state.lastSeen = .now
            return lastEventID == nil && state.listeners[0] != nil
        }
        guard !conflict else {
            return MCPHTTPSessions.error(.conflict, .invalidRequest("the session's stream is open already"))
        }
        return try await EventStream(request: request) { [self] writer in
            let (resumption, queue) = shared.state.withLock { state -> (MCPEventLog.Resumption, MCPEventQueue?) in
                let resumption = state.log.resume(after: lastEventID)
                if resumption.ended { return (resumption, nil) }
                let queue = MCPEventQueue()
                state.listeners[resumption.stream]?.finish()
                state.listeners[resumption.stream] = queue
                return (resumption, queue)
            }
            defer { if let queue { stopListening(queue, to: resumption.stream) } }
            for event in resumption.replay { try await Self.write(event, to: writer) }
            guard let queue else { return }
            while let event = await queue.next(), event.message != nil { try await Self.write(event, to: writer) }
        }.response(for: request)
    }

    private func stopListening(_ queue: MCPEventQueue, to stream: Int) {
        shared.state.withLock { state in
            if state.listeners[stream] === queue { state.listeners[stream] = nil }
        }
        queue.finish()
    }

    /// Ends the session: its requests are cancelled and its streams end.
    func close() {
        driver.close()
        for queue in shared.state.withLock({ state in defer { state.listeners = [:] }; return Array(state.listeners.values) }) {
            queue.finish()
        }
    }

    private static func write(_ event: MCPEventLog.Event, to writer: EventStreamWriter) async throws {
        guard let message = event.message else { return }
        try await writer.send(data: String(buffer: try message.encoded()), event: "message", id: String(event.id))
    }

    private static func json(_ value: JSONValue, status: HTTPStatus = .ok, headers: HTTPHeaders) throws -> Response {
        var headers = headers
        headers.add(name: "Content-Type", value: "application/json")
        return Response(status: status, headers: headers, body: ResponseBody(buffer: try JSONWriter.encode(value)))
    }
}

/// Counts down to zero from several threads.
final class MCPCountdown: Sendable {
    private let remaining: Atomic<Int>

    init(_ count: Int) { remaining = Atomic(count) }

    /// Counts down by `step`; true for the call that reaches zero.
    func count(down step: Int) -> Bool {
        remaining.subtract(step, ordering: .acquiringAndReleasing).newValue == 0
    }
}

/// Events waiting for one reader (a stream's listener), in order.
final class MCPEventQueue: Sendable {
    private struct State {
        var buffer: [MCPEventLog.Event] = []
        var waiter: CheckedContinuation<MCPEventLog.Event?, Never>?
        var finished = false
    }

    private let state = Mutex(State())
    /// The most events kept for a reader that is not reading.
    static let limit = 1024

    func push(_ event: MCPEventLog.Event) {
        let waiter = state.withLock { state -> CheckedContinuation<MCPEventLog.Event?, Never>? in
            guard !state.finished else { return nil }
            guard let waiter = state.waiter else {
                // A reader this far behind is cut off (its client can resume from the log).
                if state.buffer.count >= Self.limit { state.finished = true } else { state.buffer.append(event) }
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: event)
    }

    /// No more events: a waiting reader gets nil, and so do later reads once the buffer is empty.
    func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next event; nil once finished (or when the reader is cancelled).
    func next() async -> MCPEventLog.Event? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> MCPEventLog.Event?? in
                    if !state.buffer.isEmpty { return .some(state.buffer.removeFirst()) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }
}

extension JSONRPCMessage {
    /// Whether this is an answer (a response or an error) rather than a request or notification.
    var isAnswer: Bool {
        switch self {
        case .response, .error: true
        case .request, .notification: false
        }
    }
}
