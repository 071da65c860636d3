import FuzzDriver
import NIOCore

@testable import FasterAPI
@testable import FasterAPICore

/// Feeds arbitrary bytes to the HTTP/1.1 request parser, whole and split in two at a point taken
/// from the first byte, and to the multipart parser. Any crash, hang or sanitizer report is a bug;
/// parse errors are expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let split = size > 0 ? Int(bytes[0]) % (size + 1) : 0
    var parser = HTTP1Parser()
    var input = ByteBuffer(bytes: bytes[..<split])
    drain(&parser, &input)
    input.writeBytes(bytes[split...])
    drain(&parser, &input)

    var multipart = MultipartParser(boundary: "fuzzboundary")
    multipart.append(ByteBuffer(bytes: bytes))
    while let event = try? multipart.next() {
        if case .end = event { break }
    }
    _ = try? multipart.finish()
    return 0
}

/// SwiftPM links executables against `<target>_main`; hand control to libFuzzer's driver.
@_cdecl("HTTP1ParserFuzzer_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv) { start, count in fuzz(start.assumingMemoryBound(to: UInt8.self), count) }
}

private func drain(_ parser: inout HTTP1Parser, _ input: inout ByteBuffer) {
    for _ in 0..<10_000 {
        guard let _ = try? parser.next(&input) else { return }
    }
    fatalError("the parser did not make progress")
}
