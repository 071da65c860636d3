import Foundation
import NIOCore

/// `hq-interop`, the QUIC interop runner's HTTP/0.9 over QUIC: a client opens one
/// bidirectional stream per `GET /path\r\n` and finishes it; the server answers with the
/// resource's bytes and finishes its side (an unknown path: an empty answer). It lets any QUIC
/// stack be checked against ours without HTTP/3.
public enum HQInterop {
    /// The ALPN name.
    public static let applicationProtocol = "hq-interop"

    /// Answers requests on `session` until it closes, each stream in a task of its own;
    /// `respond` gives a path's bytes.
    public static func serve(_ session: QUICSession, respond: @escaping @Sendable (String) async -> ByteBuffer?) async {
        await withDiscardingTaskGroup { group in
            for await stream in session.incomingStreams where stream.isBidirectional {
                group.addTask {
                    guard let path = try? await requestPath(on: stream) else { return }
                    try? await stream.write(await respond(path) ?? ByteBuffer(), finish: true)
                }
            }
        }
    }

    /// Answers requests on `session` with the files under `root` (nothing outside it), read
    /// and sent in 256 KiB pieces as the stream lets them go.
    public static func serve(_ session: QUICSession, root: URL) async {
        let root = root.standardizedFileURL
        await withDiscardingTaskGroup { group in
            for await stream in session.incomingStreams where stream.isBidirectional {
                group.addTask {
                    guard let path = try? await requestPath(on: stream) else { return }
                    let file = root.appendingPathComponent(String(path.drop { $0 == "/" })).standardizedFileURL
                    guard file.path.hasPrefix(root.path + "/"), let handle = try? FileHandle(forReadingFrom: file) else {
                        try? await stream.finish()
                        return
                    }
                    defer { try? handle.close() }
                    do {
                        while let piece = try handle.read(upToCount: 256 << 10), !piece.isEmpty {
                            try await stream.write(ByteBuffer(bytes: piece))
                        }
                        try await stream.finish()
                    } catch {
                        await stream.reset(errorCode: 0)
                    }
                }
            }
        }
    }

    /// Fetches `path` on a new stream of `session`; returns the whole answer.
    public static func get(_ path: String, on session: QUICSession) async throws -> ByteBuffer {
        let stream = try await session.openBidirectionalStream()
        try await stream.write(ByteBuffer(string: "GET \(path)\r\n"), finish: true)
        return try await stream.readAll()
    }

    /// The path of the request on `stream` (at most 8 KiB; `GET` and a path, else "").
    static func requestPath(on stream: QUICStream) async throws -> String {
        let request = try await stream.readAll(limit: 8 << 10)
        let words = String(buffer: request).split(whereSeparator: \.isWhitespace)
        return words.count >= 2 && words[0] == "GET" ? String(words[1]) : ""
    }
}
