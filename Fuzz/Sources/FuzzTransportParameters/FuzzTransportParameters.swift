import FuzzDriver
import QUICFuzzProperties

/// One fuzz input: a QUIC transport parameter block, decoded as a client's and as a server's, whose
/// properties (`QUICFuzzProperties.transportParameters`) must hold.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    requireHeld(QUICFuzzProperties.transportParameters(fuzzInput(start, count)))
    return 0
}

/// The executable's entry point: libFuzzer's driver over `fuzz`.
@_cdecl("FuzzTransportParameters_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
