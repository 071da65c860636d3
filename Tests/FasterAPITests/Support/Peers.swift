import Foundation

/// Finds and runs the third-party peers the interop tests drive.
enum Peers {
    /// The repository root (for scripts under `Tests/`).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Python with the test peers installed: `FASTERAPI_PYTHON`, or the repo's `.venv`.
    static var python: String {
        ProcessInfo.processInfo.environment["FASTERAPI_PYTHON"]
            ?? repositoryRoot.appendingPathComponent(".venv/bin/python").path
    }

    struct Output: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `executable` with `arguments` to completion (bounded by `timeout` seconds).
    static func run(_ executable: String, _ arguments: [String], timeout: Double = 60) async throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        async let stdout = Task.detached { out.fileHandleForReading.readDataToEndOfFile() }.value
        async let stderr = Task.detached { err.fileHandleForReading.readDataToEndOfFile() }.value
        while process.isRunning {
            if Date() > deadline { process.terminate() }
            try await Task.sleep(for: .milliseconds(20))
        }
        return Output(
            status: process.terminationStatus, stdout: String(decoding: await stdout, as: UTF8.self),
            stderr: String(decoding: await stderr, as: UTF8.self))
    }

    /// Runs a Python script from `Tests/FasterAPITests/Interop/` with the peers' Python.
    static func python(script: String, _ arguments: [String], timeout: Double = 60) async throws -> Output {
        let path = repositoryRoot.appendingPathComponent("Tests/FasterAPITests/Interop/\(script)").path
        return try await run(python, [path] + arguments, timeout: timeout)
    }
}
