/// Random tokens from the system's CSPRNG (`SystemRandomNumberGenerator`: getrandom(2) on
/// Linux): the tokens `init` writes into a configuration, the console's session ids and
/// CSRF tokens.
package enum SecureRandom {
    /// `bytes` random bytes as lowercase hex (twice as many characters).
    package static func hex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var text = ""
        text.reserveCapacity(bytes * 2)
        for _ in 0..<bytes {
            let byte = UInt8.random(in: 0...255, using: &generator)
            text.unicodeScalars.append(Unicode.Scalar(digits[Int(byte >> 4)]))
            text.unicodeScalars.append(Unicode.Scalar(digits[Int(byte & 15)]))
        }
        return text
    }
}
