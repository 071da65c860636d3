import FasterAPICore
import NIOCore

extension Request {
    /// Reads a `multipart/form-data` body part by part, streaming each part's bytes.
    ///
    /// ```swift
    /// for try await part in try request.multipart() {
    ///     if part.filename != nil {
    ///         for try await chunk in part { try await file.write(chunk) }   // streamed, never buffered
    ///     } else {
    ///         fields[part.name ?? ""] = try await part.text(upTo: 64 * 1024)
    ///     }
    /// }
    /// ```
    ///
    /// A part that is not read is skipped. Fails with 415 when the body is not multipart, and 400
    /// when it is malformed.
    public func multipart(limits: MultipartLimits = MultipartLimits()) throws -> MultipartReader {
        guard let contentType = headers["content-type"],
            let boundary = MultipartParser.boundary(fromContentType: contentType)
        else { throw HTTPError(.unsupportedMediaType, detail: "Expected multipart/form-data with a boundary") }
        return MultipartReader(body: body, parser: MultipartParser(boundary: boundary, limits: limits))
    }
}

/// The parts of a multipart body, in order. Read it from one task.
public final class MultipartReader: AsyncSequence, AsyncIteratorProtocol {
    /// Each element is one part.
    public typealias Element = MultipartPart

    private var body: RequestBody.AsyncIterator
    private var parser: MultipartParser
    private var bodyEnded = false
    /// The part whose bytes are being read, if its end has not been reached.
    private var openPart = false

    init(body: RequestBody, parser: MultipartParser) {
        self.body = body.makeAsyncIterator()
        self.parser = parser
    }

    /// The reader itself: it is its own iterator.
    public func makeAsyncIterator() -> MultipartReader { self }

    /// The next part, after skipping what is left of the current one.
    public func next() async throws -> MultipartPart? {
        while true {
            switch try await event() {
            case .partHead(let head)?:
                openPart = true
                return MultipartPart(head: head, reader: self)
            case .body?, .partEnd?:
                continue
            case .end?, nil:
                return nil
            }
        }
    }

    /// The next chunk of the current part, or nil at its end.
    func nextChunk() async throws -> ByteBuffer? {
        guard openPart else { return nil }
        switch try await event() {
        case .body(let chunk)?:
            return chunk
        case .partEnd?, .end?, nil:
            openPart = false
            return nil
        case .partHead?:
            preconditionFailure("a part head cannot follow body bytes without a part end")
        }
    }

    private func event() async throws -> MultipartEvent? {
        do {
            while true {
                if let event = try parser.next() { return event }
                if bodyEnded {
                    try parser.finish()
                    return nil
                }
                if let chunk = try await body.next() {
                    parser.append(chunk)
                } else {
                    bodyEnded = true
                }
            }
        } catch let error as MultipartError {
            throw HTTPError(.badRequest, detail: "Invalid multipart body: \(error.reason)")
        }
    }
}

/// One part of a multipart body: its head, and its bytes as an async sequence of chunks.
public struct MultipartPart: AsyncSequence {
    /// Each element is a chunk of the part's bytes.
    public typealias Element = ByteBuffer

    /// The part's headers and its `Content-Disposition` name and filename.
    public let head: MultipartPartHead
    let reader: MultipartReader

    /// The form field name.
    public var name: String? { head.name }
    /// The file name, for file parts.
    public var filename: String? { head.filename }
    /// The part's media type, if it gave one.
    public var contentType: String? { head.contentType }

    /// An iterator over the part's chunks.
    public func makeAsyncIterator() -> Iterator { Iterator(reader: reader) }

    /// Iterates the part's chunks.
    public struct Iterator: AsyncIteratorProtocol {
        let reader: MultipartReader
        /// The next chunk, or nil at the end of the part.
        public mutating func next() async throws -> ByteBuffer? { try await reader.nextChunk() }
    }

    /// Reads the whole part, failing with 413 above `maxBytes`.
    public func collect(upTo maxBytes: Int) async throws -> ByteBuffer {
        var result = ByteBuffer()
        for try await var chunk in self {
            guard result.readableBytes + chunk.readableBytes <= maxBytes else {
                throw HTTPError(.contentTooLarge, detail: "Multipart part is larger than \(maxBytes) bytes")
            }
            result.writeBuffer(&chunk)
        }
        return result
    }

    /// Reads the whole part as UTF-8 text.
    public func text(upTo maxBytes: Int) async throws -> String {
        String(buffer: try await collect(upTo: maxBytes))
    }
}
