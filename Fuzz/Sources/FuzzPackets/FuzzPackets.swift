import FuzzDriver
import QUICFuzzProperties

/// One fuzz input: a UDP datagram, split into QUIC packets and opened where keys are known, whose
/// properties (`QUICFuzzProperties.packets`) must hold.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    requireHeld(QUICFuzzProperties.packets(fuzzInput(start, count)))
    return 0
}

/// The executable's entry point: libFuzzer's driver over `fuzz`.
@_cdecl("FuzzPackets_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
