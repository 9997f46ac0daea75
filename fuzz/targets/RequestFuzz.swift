// libFuzzer target: from FastCGI params (or a CGI environment) and a body to a request,
// the way the gateways build it. Input: NAME=VALUE lines, a blank line, then the body.

func fuzzRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var params: [String: String] = [:]
    var position = 0
    while position < input.count {
        let end = input[position...].firstIndex(of: UInt8(ascii: "\n")) ?? input.count
        if end == position { position += 1; break }
        let line = input[position..<end]
        if let equals = line.firstIndex(of: UInt8(ascii: "=")) {
            params[String(decoding: line[..<equals], as: UTF8.self)] = String(decoding: line[(equals + 1)...], as: UTF8.self)
        }
        position = end + 1
    }
    var source = FuzzSupport.BufferSource(bytes: Array(input[min(position, input.count)...]))
    guard let request = try? Request.read(params: params, body: &source, maxBodyBytes: 1 << 20) else { return 0 }
    _ = request.header("X-Listener-Token")
    _ = request.contentType
    if let form = try? URLEncodedFormDecoder().decodeArena(Array(request.queryString.utf8)) {
        FuzzSupport.mapToEvent(form)
    }
    return 0
}
