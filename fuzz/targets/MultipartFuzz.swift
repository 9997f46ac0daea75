// libFuzzer target: the multipart parser. The first line of the input is the boundary.

func fuzzMultipart(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeBufferPointer(start: data, count: size)
    let newline = input.firstIndex(of: UInt8(ascii: "\n")) ?? size
    let boundary = String(decoding: input[0..<newline], as: UTF8.self)
    let body = UnsafeBufferPointer(rebasing: input[min(size, newline + 1)...])
    _ = MultipartFormDecoder.boundary(fromContentType: "multipart/form-data; boundary=\(boundary)")
    if !boundary.isEmpty, let form = try? MultipartFormDecoder().decodeArena(body, boundary: boundary) {
        FuzzSupport.mapToEvent(form)
    }
    return 0
}
