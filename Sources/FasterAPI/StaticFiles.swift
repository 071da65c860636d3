import FasterAPICore
import Foundation
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension RouteRegistrar {
    /// Serves the files under `directory` at `prefix` (for example `/static`).
    ///
    /// Directories serve their `index.html`. Requests can never reach outside `directory`: `..`
    /// segments, NUL bytes and backslashes are refused, and symbolic links that resolve outside
    /// it are not followed. Files stream from disk with ETags, conditional requests and ranges.
    public func staticFiles(_ prefix: String, directory: String, index: String? = "index.html") {
        let files = StaticFiles(directory: directory, index: index)
        let base = RouteGroup.normalize(prefix)
        get(base.isEmpty ? "/" : base) { request in try await files.serve("", request) }
        get(base + "/{path...}") { request in try await files.serve(try request.path("path"), request) }
    }
}

/// Maps request paths to files under one directory.
struct StaticFiles: Sendable {
    let root: String
    let index: String?

    init(directory: String, index: String?) {
        let resolved = realpath(directory, nil).map { pointer in
            defer { free(pointer) }
            return String(cString: pointer)
        }
        self.root = resolved ?? directory
        self.index = index
    }

    /// What a request path names: a file, a directory (with its index file, if any), or nothing.
    enum Target {
        case file(String)
        case directory(index: String?)
        case missing
    }

    func serve(_ relative: String, _ request: Request) async throws -> Response {
        // `realpath` and `stat` may block on a slow disk: not on the event loop.
        let target = try await NIOThreadPool.singleton.runIfActive { locate(relative) }
        switch target {
        case .missing:
            throw HTTPError(.notFound, detail: "Not Found")
        case .file(let path):
            return try await FileResponse(path: path).response(for: request)
        case .directory(let indexPath):
            let requestPath = request.rawPath
            if !requestPath.hasSuffix("/") {
                let query = request.queryString.map { "?\($0)" } ?? ""
                return Redirect(to: Redirect.localPath(requestPath) + "/" + query).response(for: request)
            }
            guard let indexPath else { throw HTTPError(.notFound, detail: "Not Found") }
            return try await FileResponse(path: indexPath).response(for: request)
        }
    }

    /// Resolves `relative` under the root (blocking file-system calls).
    func locate(_ relative: String) -> Target {
        guard let path = resolve(relative), let info = FileResponse.Info(path: path) else { return .missing }
        guard info.isDirectory else { return .file(path) }
        guard let index else { return .directory(index: nil) }
        return .directory(index: resolve(relative.isEmpty ? index : relative + "/" + index))
    }

    /// The absolute path for `relative`, or nil if it would leave the root.
    func resolve(_ relative: String) -> String? {
        guard !relative.contains("\0"), !relative.contains("\\") else { return nil }
        var segments: [Substring] = []
        for segment in relative.split(separator: "/", omittingEmptySubsequences: true) {
            guard segment != "..", segment != "." else { return nil }
            segments.append(segment)
        }
        let candidate = ([root] + segments.map(String.init)).joined(separator: "/")
        // Follow symbolic links, then insist the result is still inside the root.
        guard let pointer = realpath(candidate, nil) else { return nil }
        defer { free(pointer) }
        let real = String(cString: pointer)
        guard real == root || real.hasPrefix(root.hasSuffix("/") ? root : root + "/") else { return nil }
        return real
    }
}
