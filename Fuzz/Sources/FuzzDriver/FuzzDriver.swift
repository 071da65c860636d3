/// libFuzzer's driver, linked in by `-sanitize=fuzzer` (LLVM 12 and later).
@_extern(c, "LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ testOneInput: @convention(c) (UnsafeRawPointer, Int) -> CInt
) -> CInt

/// Runs libFuzzer over `testOneInput` with the command line given to `main`. SwiftPM enters an
/// executable through `<target>_main`, which stands in for libFuzzer's own `main`, so each fuzz
/// target defines that symbol and calls this.
public func runLibFuzzer(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
    _ testOneInput: @convention(c) (UnsafeRawPointer, Int) -> CInt
) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv, testOneInput)
}

/// The fuzzer's input as bytes.
public func fuzzInput(_ start: UnsafeRawPointer, _ count: Int) -> [UInt8] {
    Array(UnsafeRawBufferPointer(start: start, count: count))
}

/// Stops the run, as a crash that libFuzzer saves with its input, when a property was broken.
public func requireHeld(_ broken: [String]) {
    if !broken.isEmpty { fatalError("broken: " + broken.joined(separator: "; ")) }
}
