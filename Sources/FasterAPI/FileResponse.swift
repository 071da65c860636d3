import FasterAPICore
import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file sent from disk in chunks, with validators and ranges: `ETag` and `Last-Modified`,
/// conditional requests (`If-None-Match`, `If-Modified-Since` → 304), and single byte ranges
/// (`Range`, `If-Range` → 206, or 416 when unsatisfiable).
public struct FileResponse: ResponseConvertible {
    /// The file's path.
    public var path: String
    /// The media type; derived from the extension when nil.
    public var contentType: String?
    /// If set, sent as an attachment with this file name (`Content-Disposition`).
    public var downloadName: String?
    /// Extra headers.
    public var headers: HTTPHeaders

    /// A response that sends the file at `path`.
    public init(
        path: String, contentType: String? = nil, downloadName: String? = nil, headers: HTTPHeaders = HTTPHeaders()
    ) {
        self.path = path
        self.contentType = contentType
        self.downloadName = downloadName
        self.headers = headers
    }

    /// Size, modification time and kind of a file, from `stat`.
    struct Info {
        var size: Int
        var modified: Int
        var isDirectory: Bool

        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            size = Int(info.st_size)
            #if canImport(Darwin)
                modified = Int(info.st_mtimespec.tv_sec)
            #else
                modified = Int(info.st_mtim.tv_sec)
            #endif
            isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
        }

        /// A strong validator from size and modification time.
        var etag: String { "\"\(String(size, radix: 16))-\(String(modified, radix: 16))\"" }
        var lastModified: String { HTTPDate.format(Date(timeIntervalSince1970: TimeInterval(modified))) }
    }

    /// The file's bytes (200), a range of them (206), 304 or 412 for conditional requests, or
    /// 416 for an unsatisfiable range; 404 when there is no such file.
    public func response(for request: Request) async throws -> Response {
        // `stat` may block on a slow disk: not on the event loop.
        let path = self.path
        let found = try await NIOThreadPool.singleton.runIfActive { Info(path: path) }
        guard let info = found, !info.isDirectory else { throw HTTPError(.notFound, detail: "Not Found") }
        var headers = self.headers
        headers.add(name: "Content-Type", value: contentType ?? MediaType.forPath(path))
        headers.add(name: "ETag", value: info.etag)
        headers.add(name: "Last-Modified", value: info.lastModified)
        headers.add(name: "Accept-Ranges", value: "bytes")
        if let downloadName { headers.add(name: "Content-Disposition", value: Self.contentDisposition(downloadName)) }
        let requestHeaders = request.headers
        if Self.notModified(requestHeaders, info) {
            // RFC 9110 §13.1.2: a failed If-None-Match is 304 only for GET and HEAD.
            guard request.method == .get || request.method == .head else {
                throw HTTPError(.preconditionFailed, detail: "Precondition Failed")
            }
            var notModified = HTTPHeaders()
            for name in ["ETag", "Last-Modified", "Cache-Control"] {
                if let value = headers[name] { notModified.add(name: name, value: value) }
            }
            return Response(status: .notModified, headers: notModified)
        }
        var range = 0..<info.size
        var status = HTTPStatus.ok
        if let rangeHeader = requestHeaders["range"], request.method == .get || request.method == .head,
            Self.ifRangeHolds(requestHeaders["if-range"], info)
        {
            switch ByteRange.parse(rangeHeader, size: info.size) {
            case .satisfiable(let requested):
                range = requested
                status = .partialContent
                headers.add(
                    name: "Content-Range", value: "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(info.size)")
            case .unsatisfiable:
                throw HTTPError(
                    .rangeNotSatisfiable, detail: "Range Not Satisfiable",
                    headers: HTTPHeaders([("Content-Range", "bytes */\(info.size)")]))
            case .ignored:
                break
            }
        }
        let bytes = range
        return Response(
            status: status, headers: headers,
            body: ResponseBody(length: bytes.count) { writer in
                try await FileReader.stream(path: path, range: bytes, to: writer)
            })
    }

    /// `attachment` with an ASCII `filename` (quotes and backslashes escaped, other bytes as `_`)
    /// and, for names that are not plain ASCII, the exact name as RFC 8187 `filename*`.
    static func contentDisposition(_ name: String) -> String {
        var ascii = ""
        for scalar in name.unicodeScalars {
            switch scalar {
            case "\"", "\\": ascii += "\\" + String(scalar)
            case let s where s.isASCII && s.value >= 0x20 && s.value != 0x7F: ascii.unicodeScalars.append(s)
            default: ascii += "_"
            }
        }
        var value = "attachment; filename=\"\(ascii)\""
        if name.unicodeScalars.contains(where: { !$0.isASCII || $0.value < 0x20 }) {
            let encoded = name.utf8.map { byte -> String in
                let unreserved =
                    (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || "-._~".utf8.contains(byte)
                return unreserved
                    ? String(UnicodeScalar(byte))
                    : "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }.joined()
            value += "; filename*=UTF-8''\(encoded)"
        }
        return value
    }

    /// RFC 9110 §13.1.2–13.1.3: If-None-Match wins over If-Modified-Since.
    static func notModified(_ headers: HTTPHeaders, _ info: Info) -> Bool {
        if let ifNoneMatch = headers["if-none-match"] {
            let etag = info.etag
            return ifNoneMatch.split(separator: ",").contains { tag in
                let tag = tag.trimmingCharacters(in: .whitespaces)
                return tag == "*" || tag == etag || tag == "W/" + etag
            }
        }
        if let since = headers["if-modified-since"], let date = HTTPDate.parse(since) {
            return info.modified <= Int(date.timeIntervalSince1970)
        }
        return false
    }

    /// `If-Range` holds when absent, or when it names the current ETag or Last-Modified date.
    static func ifRangeHolds(_ ifRange: String?, _ info: Info) -> Bool {
        guard let ifRange else { return true }
        if ifRange.hasPrefix("\"") { return ifRange == info.etag }
        return ifRange == info.lastModified
    }
}

/// A `Range` header against a representation of known size (RFC 9110 §14.1).
enum ByteRange: Equatable {
    case satisfiable(Range<Int>)
    case unsatisfiable
    /// Not a single byte range we serve: send the whole representation.
    case ignored

    static func parse(_ header: String, size: Int) -> ByteRange {
        let header = header.trimmingCharacters(in: .whitespaces)
        guard header.lowercased().hasPrefix("bytes=") else { return .ignored }
        let spec = header.dropFirst(6)
        guard !spec.contains(",") else { return .ignored }
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .ignored }
        let first = parts[0].trimmingCharacters(in: .whitespaces)
        let last = parts[1].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let suffix = Int(last), suffix >= 0 else { return .ignored }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .satisfiable(max(0, size - suffix)..<size)
        }
        guard let start = Int(first), start >= 0 else { return .ignored }
        var end = size - 1
        if !last.isEmpty {
            guard let requestedEnd = Int(last), requestedEnd >= start else { return .ignored }
            end = min(requestedEnd, size - 1)
        }
        guard start < size else { return .unsatisfiable }
        return .satisfiable(start..<(end + 1))
    }
}

/// Reads files on NIO's blocking-I/O thread pool, in chunks.
enum FileReader {
    static let chunkSize = 64 * 1024

    static func stream(path: String, range: Range<Int>, to writer: ResponseBodyWriter) async throws {
        let pool = NIOThreadPool.singleton
        let descriptor = try await pool.runIfActive { () throws -> Int32 in
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw HTTPError(.notFound, detail: "Not Found") }
            return fd
        }
        defer { close(descriptor) }
        var offset = range.lowerBound
        while offset < range.upperBound {
            let count = min(chunkSize, range.upperBound - offset)
            let start = offset
            let chunk = try await pool.runIfActive { () throws -> ByteBuffer in
                var buffer = ByteBufferAllocator().buffer(capacity: count)
                let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
                    let result = pread(descriptor, raw.baseAddress, count, off_t(start))
                    return max(0, result)
                }
                guard read > 0 else { throw HTTPError(.internalServerError, detail: "File changed while sending") }
                return buffer
            }
            offset += chunk.readableBytes
            try await writer.write(chunk)
        }
    }
}

/// Media types by file extension.
public enum MediaType {
    /// The media type for a file name, `application/octet-stream` when unknown.
    public static func forPath(_ path: String) -> String {
        let name = path.split(separator: "/").last ?? ""
        guard let dot = name.lastIndex(of: ".") else { return "application/octet-stream" }
        return byExtension[name[name.index(after: dot)...].lowercased()] ?? "application/octet-stream"
    }

    static let byExtension: [String: String] = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
        "json": "application/json", "map": "application/json", "txt": "text/plain; charset=utf-8",
        "md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8", "xml": "application/xml",
        "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
        "webp": "image/webp", "avif": "image/avif", "ico": "image/x-icon", "bmp": "image/bmp",
        "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
        "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar",
        "wasm": "application/wasm", "mp4": "video/mp4", "webm": "video/webm", "mp3": "audio/mpeg",
        "ogg": "audio/ogg", "wav": "audio/wav", "yaml": "application/yaml", "yml": "application/yaml",
    ]

    /// The type without parameters, lower-cased: `application/json` for `Application/JSON; charset=utf-8`.
    public static func essence(of contentType: String) -> String {
        contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }

    /// Types that are already compressed; compressing them again wastes CPU.
    static func isCompressed(_ contentType: String) -> Bool {
        let type = essence(of: contentType)
        if type.hasPrefix("image/") && type != "image/svg+xml" { return true }
        if type.hasPrefix("video/") || type.hasPrefix("audio/") || type.hasPrefix("font/woff") { return true }
        return [
            "application/zip", "application/gzip", "application/x-gzip", "application/pdf",
            "application/wasm", "application/octet-stream", "text/event-stream",
        ].contains(type)
    }
}
