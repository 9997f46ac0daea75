// libFuzzer target: the URL-encoded and JSON decoders and the event mapping.

func fuzzForm(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeBufferPointer(start: data, count: size)
    var limits = FormLimits.default
    limits.maxVars = 2_000
    for mangling in [false, true] {
        if let form = try? URLEncodedFormDecoder(limits: limits, phpNameMangling: mangling).decodeArena(input) {
            FuzzSupport.mapToEvent(form)
        }
    }
    if let form = try? JSONFormDecoder(limits: limits).decode(input) {
        _ = form.phpJSON
        FuzzSupport.mapToEvent(form)
    }
    return 0
}
