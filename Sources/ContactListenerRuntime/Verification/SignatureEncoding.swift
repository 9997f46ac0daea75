/// How a signature header writes the MAC, spelled as in `verify.signature.encoding`.
import ContactListenerKit
enum SignatureEncoding: String, Sendable, CaseIterable {
    /// Hexadecimal digits, either case (GitHub, Shopify-style `sha256=…`).
    case hex
    /// Base64, standard or URL-safe alphabet.
    case base64

    /// The MAC bytes written in `text`, or nil when `text` isn't in this encoding.
    func decode(_ text: some StringProtocol) -> [UInt8]? {
        switch self {
        case .hex: return Hex.decode(text)
        case .base64: return Base64.decode(text)
        }
    }
}
