// The `fasterapi` command-line tool.
//
//   fasterapi quic-serve --port P --root DIR --cert C --key K [--host H] [--retry]
//       serves DIR over QUIC with hq-interop (HTTP/0.9: `GET /path\r\n` per bidirectional stream)
//   fasterapi quic-get URL... [--insecure] [--ca FILE] [--output DIR]
//       fetches https://HOST:PORT/path URLs (one connection per host and port) over hq-interop,
//       writing each body to DIR (default: the current directory) under its file name
//   fasterapi quic-handshakes URL --count N [--concurrency C] [--insecure] [--ca FILE]
//       opens and closes N connections (C at a time) to the URL's host; prints `handshakes/s R`
//   fasterapi quic-idle URL --connections N [--insecure] [--ca FILE]
//       opens N connections and holds them idle (prints `open N` when all are up) until killed
import Foundation
import NIOCore
import QUIC

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fasterapi: \(message)\n".utf8))
    exit(1)
}

/// `--name value` options and the other arguments, in order.
func parse(_ arguments: ArraySlice<String>, flags: Set<String>) -> (options: [String: String], rest: [String]) {
    var options: [String: String] = [:]
    var rest: [String] = []
    var arguments = arguments
    while let argument = arguments.popFirst() {
        if flags.contains(argument) {
            options[argument] = ""
        } else if argument.hasPrefix("--") {
            guard let value = arguments.popFirst() else { fail("\(argument) needs a value") }
            options[argument] = value
        } else {
            rest.append(argument)
        }
    }
    return (options, rest)
}

func serve(_ arguments: ArraySlice<String>) async throws {
    let (options, _) = parse(arguments, flags: ["--retry", "--stats"])
    guard let port = options["--port"].flatMap(Int.init), let root = options["--root"], let cert = options["--cert"], let key = options["--key"]
    else { fail("usage: fasterapi quic-serve --port P --root DIR --cert C --key K [--host H] [--retry]") }
    let rootURL = URL(fileURLWithPath: root)
    var parameters = QUICTransportParameters.recommended
    parameters.initialMaxStreamsBidi = 1000
    let endpoint = try await QUICServerEndpoint.bind(
        host: options["--host"] ?? "127.0.0.1", port: port,
        configuration: QUICTLSConfiguration(
            applicationProtocols: [HQInterop.applicationProtocol], certificateChainPEM: try String(contentsOfFile: cert, encoding: .utf8),
            privateKeyPEM: try String(contentsOfFile: key, encoding: .utf8)),
        parameters: parameters, requireRetry: options["--retry"] != nil
    ) { session in
        await HQInterop.serve(session, root: rootURL)
        if options["--stats"] != nil, let (counters, window, rtt) = try? await session.statistics() {
            FileHandle.standardError.write(Data("quic-serve: \(counters), window \(window), srtt \(rtt.formatted(.units(allowed: [.milliseconds], fractionalPart: .show(length: 2))))\n".utf8))
        }
    }
    FileHandle.standardError.write(Data("quic-serve: listening on \(endpoint.localAddress.map { "\($0)" } ?? "?")\n".utf8))
    while true { try await Task.sleep(for: .seconds(3600)) }
}

/// The TLS settings of the client commands: trust roots from `--ca`, or `--insecure`.
func clientConfiguration(_ options: [String: String]) throws -> QUICTLSConfiguration {
    QUICTLSConfiguration(
        applicationProtocols: [HQInterop.applicationProtocol], trustRootsPEM: try options["--ca"].map { try String(contentsOfFile: $0, encoding: .utf8) },
        insecureSkipVerification: options["--insecure"] != nil)
}

/// Connects to the host and port of an https URL.
func connect(_ url: URLComponents, _ configuration: QUICTLSConfiguration) async throws -> QUICClient {
    guard url.scheme == "https", let host = url.host else { fail("not an https URL: \(url)") }
    return try await QUICClient.connect(
        host: host == "localhost" ? "127.0.0.1" : host, port: url.port ?? 443, serverName: host, configuration: configuration)
}

func get(_ arguments: ArraySlice<String>) async throws {
    let (options, urls) = parse(arguments, flags: ["--insecure"])
    guard !urls.isEmpty else { fail("usage: fasterapi quic-get URL... [--insecure] [--ca FILE] [--output DIR]") }
    let output = URL(fileURLWithPath: options["--output"] ?? ".")
    let configuration = try clientConfiguration(options)
    var byOrigin: [String: [URLComponents]] = [:]
    for text in urls {
        guard let url = URLComponents(string: text), url.scheme == "https", let host = url.host else { fail("not an https URL: \(text)") }
        byOrigin["\(host):\(url.port ?? 443)", default: []].append(url)
    }
    for (_, origin) in byOrigin.sorted(by: { $0.key < $1.key }) {
        let client = try await connect(origin[0], configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for url in origin {
                group.addTask {
                    let path = url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath
                    let name = URL(fileURLWithPath: path).lastPathComponent
                    let file = output.appendingPathComponent(name.isEmpty || name == "/" ? "index.html" : name)
                    guard FileManager.default.createFile(atPath: file.path, contents: nil) else { fail("cannot write \(file.path)") }
                    let handle = try FileHandle(forWritingTo: file)
                    defer { try? handle.close() }
                    // The answer is written as it arrives.
                    let stream = try await client.session.openBidirectionalStream()
                    try await stream.write(ByteBuffer(string: "GET \(path)\r\n"), finish: true)
                    while let piece = try await stream.read() { try handle.write(contentsOf: Data(piece.readableBytesView)) }
                }
            }
            try await group.waitForAll()
        }
        try await client.close()
    }
}

func handshakes(_ arguments: ArraySlice<String>) async throws {
    let (options, urls) = parse(arguments, flags: ["--insecure"])
    guard let text = urls.first, let url = URLComponents(string: text), let count = options["--count"].flatMap(Int.init), count > 0 else {
        fail("usage: fasterapi quic-handshakes URL --count N [--concurrency C] [--insecure] [--ca FILE]")
    }
    let concurrency = max(1, min(count, options["--concurrency"].flatMap(Int.init) ?? 8))
    let context = try QUICTLSContext(clientConfiguration(options), server: false)
    guard let host = url.host else { fail("not an https URL: \(text)") }
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<concurrency {
            group.addTask {
                for _ in stride(from: worker, to: count, by: concurrency) {
                    let client = try await QUICClient.connect(
                        host: host == "localhost" ? "127.0.0.1" : host, port: url.port ?? 443, serverName: host, context: context)
                    try await client.close()
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    FileHandle.standardOutput.write(Data("handshakes/s \(String(format: "%.1f", Double(count) / seconds))\n".utf8))
}

func idle(_ arguments: ArraySlice<String>) async throws {
    let (options, urls) = parse(arguments, flags: ["--insecure"])
    guard let text = urls.first, let url = URLComponents(string: text), let count = options["--connections"].flatMap(Int.init), count > 0 else {
        fail("usage: fasterapi quic-idle URL --connections N [--insecure] [--ca FILE]")
    }
    let configuration = try clientConfiguration(options)
    var clients: [QUICClient] = []
    for _ in 0..<count { clients.append(try await connect(url, configuration)) }
    FileHandle.standardOutput.write(Data("open \(clients.count)\n".utf8))
    while true { try await Task.sleep(for: .seconds(3600)) }
}

let arguments = CommandLine.arguments.dropFirst()
do {
    switch arguments.first {
    case "quic-serve": try await serve(arguments.dropFirst())
    case "quic-get": try await get(arguments.dropFirst())
    case "quic-handshakes": try await handshakes(arguments.dropFirst())
    case "quic-idle": try await idle(arguments.dropFirst())
    default: fail("usage: fasterapi quic-serve … | quic-get … | quic-handshakes … | quic-idle …")
    }
} catch {
    fail("\(error)")
}
