import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Finds and runs the third-party peers the interop tests drive.
public enum Peers {
    /// The repository root (for scripts under `Tests/`).
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Python with the test peers installed: `FASTERAPI_PYTHON`, or the repo's `.venv`.
    public static var python: String {
        ProcessInfo.processInfo.environment["FASTERAPI_PYTHON"]
            ?? repositoryRoot.appendingPathComponent(".venv/bin/python").path
    }

    /// What a finished peer printed, and its exit status.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` with `arguments` to completion (bounded by `timeout` seconds).
    public static func run(_ executable: String, _ arguments: [String], timeout: Double = 60) async throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        async let stdout = Self.readToEnd(out.fileHandleForReading)
        async let stderr = Self.readToEnd(err.fileHandleForReading)
        while process.isRunning {
            if Date() > deadline { process.terminate() }
            try await Task.sleep(for: .milliseconds(20))
        }
        return Output(
            status: process.terminationStatus, stdout: String(decoding: await stdout, as: UTF8.self),
            stderr: String(decoding: await stderr, as: UTF8.self))
    }

    /// The demo app's binary, which `swift build --build-tests` builds beside the tests.
    public static func demoExecutable() throws -> String {
        let demo = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("fasterapi-demo").path
        guard FileManager.default.isExecutableFile(atPath: demo) else {
            throw PeerServer.PeerError(message: "\(demo) is missing: build it first with swift build --build-tests")
        }
        return demo
    }

    /// Reads `handle` to its end on a thread of its own: a blocking read on one of Swift's few
    /// cooperative threads would stall every other test while a long peer runs.
    public static func readToEnd(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: handle.readDataToEndOfFile()) }.start()
        }
    }

    /// Runs a Python script from `Tests/<suite>/Interop/` with the peers' Python.
    public static func python(
        script: String, _ arguments: [String], suite: String = "FasterAPITests", timeout: Double = 60
    ) async throws -> Output {
        try await run(python, [interopScript(script, suite: suite)] + arguments, timeout: timeout)
    }

    /// The path of `Tests/<suite>/Interop/<script>`.
    public static func interopScript(_ script: String, suite: String = "FasterAPITests") -> String {
        repositoryRoot.appendingPathComponent("Tests/\(suite)/Interop/\(script)").path
    }
}

/// A peer server running in the background for the duration of a test.
public final class PeerServer: Sendable {
    /// The port it listens on.
    public let port: Int
    private let process: Process

    private init(port: Int, process: Process) {
        self.port = port
        self.process = process
    }

    /// Starts `Interop/<script> PORT …` on a free port and waits (up to 20 s) until it accepts
    /// connections.
    public static func start(script: String, _ arguments: [String] = []) async throws -> PeerServer {
        let path = Peers.interopScript(script)
        return try await start(executable: Peers.python) { port in [path, String(port)] + arguments }
    }

    /// Starts `executable` with the arguments for a free port (and `environment` added to ours)
    /// and waits (up to 20 s) until it accepts connections there.
    public static func start(
        executable: String, environment: [String: String] = [:], arguments: (Int) -> [String]
    ) async throws -> PeerServer {
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments(port)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        // Open for the server's life: peers that stop at the end of their input keep running.
        process.standardInput = Pipe()
        try process.run()
        let server = PeerServer(port: port, process: process)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if canConnect(port) { return server }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        server.stop()
        throw PeerError(message: "\(executable) did not start listening on port \(port)")
    }

    /// Starts the demo app (the binary `swift build --build-tests` builds beside the tests) with
    /// `extraArguments` after its address.
    public static func startDemo(_ extraArguments: [String] = [], environment: [String: String] = [:]) async throws
        -> PeerServer
    {
        return try await start(executable: try Peers.demoExecutable(), environment: environment) { port in
            ["--host", "127.0.0.1", "--port", String(port)] + extraArguments
        }
    }

    /// Stops the server: SIGTERM, then SIGKILL if it has not exited within 5 s.
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// A peer that could not be found or started.
    public struct PeerError: Error, CustomStringConvertible {
        let message: String
        public var description: String { message }
        /// An error saying `message`.
        public init(message: String) { self.message = message }
    }

    private static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        guard bound else { throw PeerError(message: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func canConnect(_ port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
