import ContactListenerKit
import Crypto

/// The hash behind an HMAC signature, spelled as in `verify.signature.algorithm`.
enum HMACAlgorithm: String, Sendable, CaseIterable {
    /// HMAC-SHA1, still used by older senders (HMAC doesn't rely on SHA-1's collision resistance).
    case sha1
    /// HMAC-SHA256, the usual choice.
    case sha256
    /// HMAC-SHA512.
    case sha512

    /// The length of a MAC in bytes, to tell a truncated header from a wrong one.
    var byteCount: Int {
        switch self {
        case .sha1: return 20
        case .sha256: return 32
        case .sha512: return 64
        }
    }

    /// The HMAC of `parts`, concatenated, under `key`; the parts are fed in turn, so the
    /// body is never copied into one message buffer.
    func authenticationCode(key: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        switch self {
        case .sha1: return Self.code(Insecure.SHA1.self, key: key, parts: parts)
        case .sha256: return Self.code(SHA256.self, key: key, parts: parts)
        case .sha512: return Self.code(SHA512.self, key: key, parts: parts)
        }
    }

    /// `authenticationCode` for one hash function.
    private static func code<H: HashFunction>(_: H.Type, key: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        var hmac = HMAC<H>(key: SymmetricKey(data: key))
        for part in parts { hmac.update(data: part) }
        return Array(hmac.finalize())
    }
}
