// The one libFuzzer entry point; FUZZ_TARGET (form, multipart, request) picks the target,
// so fuzz/run builds a single binary (with AddressSanitizer) over the decoder's own sources.
#if canImport(Glibc)
import Glibc
#endif

private let target: (UnsafePointer<UInt8>, Int) -> Int32 = {
    switch getenv("FUZZ_TARGET").map({ String(cString: $0) }) ?? "form" {
    case "multipart": return fuzzMultipart
    case "request": return fuzzRequest
    default: return fuzzForm
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEntry(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    target(data, size)
}
