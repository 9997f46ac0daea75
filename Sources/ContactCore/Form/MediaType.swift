/// The media type of a `Content-Type` header, as PHP picks the body's parser
/// (`sapi_read_post_data` in main/SAPI.c): the text up to the first `;`, `,` or space,
/// lower-cased (the header being a C string there, a NUL ends it). So
/// `multipart/form-data, boundary=x` is multipart, like
/// `multipart/form-data; boundary=x`; the parameters (the boundary, whose case matters) are
/// read from the header as it was sent.
package enum MediaType {
    /// The lower-cased media type of `contentType` (`multipart/form-data`).
    package static func of(_ contentType: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(40)
        for byte in contentType.utf8 {
            if byte == 0 || isEnd(byte) { break }
            bytes.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `byte` ends the media type (and, after it, separates parameters).
    static func isEnd(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ";") || byte == UInt8(ascii: ",") || byte == UInt8(ascii: " ")
    }
}
