import FuzzDriver
import QUICFuzzProperties

/// One fuzz input: a packet payload, read as QUIC frames, whose properties
/// (`QUICFuzzProperties.frames`) must hold.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    requireHeld(QUICFuzzProperties.frames(fuzzInput(start, count)))
    return 0
}

/// The executable's entry point: libFuzzer's driver over `fuzz`.
@_cdecl("FuzzFrames_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
