/// The media type of a `Content-Type` header, as PHP picks the body's parser
/// (`sapi_read_post_data` in main/SAPI.c): the text up to the first `;`, `,` or space,
/// lower-cased (the header being a C string there, a NUL ends it). So
/// `multipart/form-data, boundary=x` is multipart, like
/// `multipart/form-data; boundary=x`; the parameters (the boundary, whose case matters) are
/// read from the header as it was sent.
package enum MediaType {
    /// The lower-cased media type of `contentType` (`multipart/form-data`).
    ///
    /// Written straight into the String's storage (repaired as `String(decoding:as:)` would):
    /// every request asks, and a scratch array cost it an allocation and an append per byte.
    package static func of(_ contentType: String) -> String {
        var contentType = contentType  // `withUTF8` reads a native String in place
        return contentType.withUTF8 { utf8 in
            String(unsafeUninitializedCapacity: utf8.count) { output in
                var count = 0
                // In bounds: at most one byte is written per byte of `utf8`, which is the capacity.
                while count < utf8.count {
                    let byte = utf8[count]
                    if byte == 0 || isEnd(byte) { break }
                    output[count] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
                    count += 1
                }
                return count
            }
        }
    }

    /// Whether `byte` ends the media type (and, after it, separates parameters).
    static func isEnd(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ";") || byte == UInt8(ascii: ",") || byte == UInt8(ascii: " ")
    }
}
