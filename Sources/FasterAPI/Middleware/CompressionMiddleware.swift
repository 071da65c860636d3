import CompressNIO
import FasterAPICore
import NIOCore

/// Compresses response bodies with gzip or deflate when the client accepts it.
///
/// The coding is chosen from `Accept-Encoding` with its q-values (gzip preferred on a tie;
/// `identity` or `*;q=0` respected). Bodies smaller than ``minimumSize``, partial responses,
/// responses that already have a `Content-Encoding`, and already-compressed media types (images,
/// archives, video, event streams) are sent as they are. Streamed bodies are compressed as they
/// stream. `Vary: Accept-Encoding` is added to every response that could have been compressed.
public struct CompressionMiddleware: Middleware {
    /// Smallest body, in bytes, worth compressing.
    public var minimumSize: Int
    /// zlib compression level, 1 (fast) to 9 (small).
    public var level: Int32

    /// Compresses bodies of at least `minimumSize` bytes at zlib `level`.
    public init(minimumSize: Int = 500, level: Int32 = 6) {
        self.minimumSize = minimumSize
        self.level = level
    }

    /// A content coding we can produce.
    enum Coding: String {
        case gzip, deflate

        func algorithm(level: Int32) -> CompressionAlgorithm {
            let configuration = ZlibConfiguration(compressionLevel: level)
            return self == .gzip ? .gzip(configuration: configuration) : .zlib(configuration: configuration)
        }
    }

    /// Passes the request on, then compresses the response when the client accepts it and it is
    /// worth compressing.
    public func handle(_ request: Request, next: Next) async throws -> Response {
        var response = try await next(request)
        guard response.status.allowsBody, response.status != .partialContent,
            !response.headers.contains("content-encoding"),
            !MediaType.isCompressed(response.headers["content-type"] ?? "application/octet-stream"),
            // An event stream must reach the client event by event, not held in a compressor.
            !(response.headers["content-type"]?.hasPrefix("text/event-stream") ?? false)
        else { return response }
        if let length = response.body.knownLength, length < minimumSize { return response }
        response.headers.addVary("Accept-Encoding")
        guard let coding = Self.negotiate(request.headers.values(for: "accept-encoding")) else { return response }
        let algorithm = coding.algorithm(level: level)
        if var buffer = response.body.buffer {
            response.body = ResponseBody(buffer: try buffer.compress(with: algorithm))
        } else if let produce = response.body.producer {
            response.body = ResponseBody { writer in
                let compressor = algorithm.compressor
                try compressor.startStream()
                defer { try? compressor.finishStream() }
                let sink = CompressingSink(compressor: compressor, writer: writer)
                try await produce(ResponseBodyWriter(sink))
                var tail = ByteBufferAllocator().buffer(capacity: 64)
                while true {
                    do {
                        try compressor.finishDeflate(to: &tail)
                        break
                    } catch let error as CompressNIOError where error == .bufferOverflow {
                        try await writer.write(tail)
                        tail = ByteBufferAllocator().buffer(capacity: 4096)
                    }
                }
                try await writer.write(tail)
                if let trailers = sink.trailers { try await writer.writeTrailers(trailers) }
            }
        }
        response.headers.replaceOrAdd(name: "Content-Encoding", value: coding.rawValue)
        if let etag = response.headers["etag"], !etag.hasPrefix("W/") {
            // The compressed bytes differ from the identity ones: the strong validator no longer holds.
            response.headers.replaceOrAdd(name: "ETag", value: "W/" + etag)
        }
        return response
    }

    /// Picks a coding from `Accept-Encoding` values (RFC 9110 §12.5.3), or nil for identity.
    static func negotiate(_ values: [String]) -> Coding? {
        var weights: [String: Double] = [:]
        for value in values {
            for element in value.split(separator: ",") {
                let parts = element.split(separator: ";")
                guard let name = parts.first?.trimmingSpaces().lowercased(), !name.isEmpty else { continue }
                var q = 1.0
                for parameter in parts.dropFirst() {
                    let pair = parameter.trimmingSpaces()
                    if pair.lowercased().hasPrefix("q="), let value = Double(pair.dropFirst(2)) { q = value }
                }
                weights[name] = q
            }
        }
        func weight(_ coding: Coding) -> Double { weights[coding.rawValue] ?? weights["*"] ?? 0 }
        let gzip = weight(.gzip), deflate = weight(.deflate)
        if gzip <= 0 && deflate <= 0 { return nil }
        return gzip >= deflate ? .gzip : .deflate
    }
}

/// Compresses each streamed chunk and flushes it, so streams stay live; keeps the trailers for
/// after the compressed tail.
private final class CompressingSink: ResponseBodySink, @unchecked Sendable {
    // Sendable: used only by the one producer task that owns the stream, one write at a time.
    let compressor: any NIOCompressor
    let writer: ResponseBodyWriter
    private(set) var trailers: HTTPHeaders?

    init(compressor: any NIOCompressor, writer: ResponseBodyWriter) {
        self.compressor = compressor
        self.writer = writer
    }

    func write(_ buffer: ByteBuffer) async throws {
        var input = buffer
        var output = ByteBufferAllocator().buffer(capacity: compressor.maxSize(from: input) + 64)
        try compressor.streamDeflate(from: &input, to: &output, flush: .sync)
        try await writer.write(output)
    }

    func writeTrailers(_ trailers: HTTPHeaders) async throws {
        self.trailers = trailers
    }
}
