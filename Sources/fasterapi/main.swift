// The `fasterapi` command-line tool.
//
//   fasterapi quic-serve --port P --root DIR --cert C --key K [--host H] [--retry]
//       serves DIR over QUIC with hq-interop (HTTP/0.9: `GET /path\r\n` per bidirectional stream)
//   fasterapi quic-get URL... [--insecure] [--ca FILE] [--output DIR]
//       fetches https://HOST:PORT/path URLs (one connection per host and port) over hq-interop,
//       writing each body to DIR (default: the current directory) under its file name
import Foundation
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
    let (options, _) = parse(arguments, flags: ["--retry"])
    guard let port = options["--port"].flatMap(Int.init), let root = options["--root"], let cert = options["--cert"], let key = options["--key"]
    else { fail("usage: fasterapi quic-serve --port P --root DIR --cert C --key K [--host H] [--retry]") }
    let rootURL = URL(fileURLWithPath: root).standardizedFileURL
    var parameters = QUICTransportParameters()
    parameters.maxIdleTimeout = 30_000
    parameters.initialMaxData = 1 << 26
    parameters.initialMaxStreamsBidi = 1000
    parameters.initialMaxStreamDataBidiRemote = 1 << 20
    let endpoint = try await QUICServerEndpoint.bind(
        host: options["--host"] ?? "127.0.0.1", port: port,
        configuration: QUICTLSConfiguration(
            applicationProtocols: ["hq-interop"], certificateChainPEM: try String(contentsOfFile: cert, encoding: .utf8),
            privateKeyPEM: try String(contentsOfFile: key, encoding: .utf8)),
        parameters: parameters, requireRetry: options["--retry"] != nil
    ) { path in
        // Only files inside the root.
        let file = rootURL.appendingPathComponent(String(path.drop { $0 == "/" })).standardizedFileURL
        guard file.path.hasPrefix(rootURL.path + "/") else { return nil }
        return FileManager.default.contents(atPath: file.path).map { Array($0) }
    }
    FileHandle.standardError.write(Data("quic-serve: listening on \(endpoint.localAddress.map { "\($0)" } ?? "?")\n".utf8))
    while true { try await Task.sleep(for: .seconds(3600)) }
}

func get(_ arguments: ArraySlice<String>) async throws {
    let (options, urls) = parse(arguments, flags: ["--insecure"])
    guard !urls.isEmpty else { fail("usage: fasterapi quic-get URL... [--insecure] [--ca FILE] [--output DIR]") }
    let output = URL(fileURLWithPath: options["--output"] ?? ".")
    let roots = try options["--ca"].map { try String(contentsOfFile: $0, encoding: .utf8) }
    var byOrigin: [String: [URLComponents]] = [:]
    for text in urls {
        guard let url = URLComponents(string: text), url.scheme == "https", let host = url.host else { fail("not an https URL: \(text)") }
        byOrigin["\(host):\(url.port ?? 443)", default: []].append(url)
    }
    for (_, origin) in byOrigin.sorted(by: { $0.key < $1.key }) {
        let host = origin[0].host!
        let client = try await QUICClient.connect(
            host: host == "localhost" ? "127.0.0.1" : host, port: origin[0].port ?? 443, serverName: host,
            configuration: QUICTLSConfiguration(
                applicationProtocols: ["hq-interop"], trustRootsPEM: roots, insecureSkipVerification: options["--insecure"] != nil))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for url in origin {
                group.addTask {
                    let path = url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath
                    let body = try await client.get(path)
                    let name = URL(fileURLWithPath: path).lastPathComponent
                    try Data(body).write(to: output.appendingPathComponent(name.isEmpty || name == "/" ? "index.html" : name))
                }
            }
            try await group.waitForAll()
        }
        try await client.close()
    }
}

let arguments = CommandLine.arguments.dropFirst()
do {
    switch arguments.first {
    case "quic-serve": try await serve(arguments.dropFirst())
    case "quic-get": try await get(arguments.dropFirst())
    default: fail("usage: fasterapi quic-serve … | quic-get …")
    }
} catch {
    fail("\(error)")
}
