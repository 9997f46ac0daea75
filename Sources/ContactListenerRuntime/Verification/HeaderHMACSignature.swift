/// The plain header HMAC scheme: one header (like `X-Signature: sha256=…`) carrying the
/// HMAC of the raw body, in hex or base64, under a secret used as-is.
import ContactListenerKit
struct HeaderHMACSignature: Sendable {
    /// The header's HTTP name (`X-Signature`).
    let header: String
    /// The hash function.
    let algorithm: HMACAlgorithm
    /// How the header writes the MAC.
    let encoding: SignatureEncoding
    /// Text before the MAC (`sha256=`), matched without regard to case; empty for none.
    let prefix: String
    /// The secrets' bytes.
    let keys: [[UInt8]]

    /// The keys an `hmac` signature mapping may use.
    static let configKeys = ["scheme", "header", "algorithm", "encoding", "prefix", "secret"]

    /// Reads a `verify.signature` mapping whose scheme is `hmac`.
    init(node: ConfigNode) throws(ConfigurationError) {
        try node.requireMapping(allowed: Self.configKeys)
        guard let headerNode = node["header"] else {
            throw node.error("'header' is required for the hmac scheme (the header carrying the signature, like X-Signature)")
        }
        header = try headerNode.string()
        // nginx drops headers with `_` by default, so only letters, digits and `-`.
        let isName = header.utf8.allSatisfy { byte in
            let lower = Self.lowercased(byte)
            return (lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
        }
        guard !header.isEmpty, isName else {
            throw headerNode.error("expected a header name of letters, digits and '-', like X-Signature")
        }

        if let algorithmNode = node["algorithm"] {
            let name = try algorithmNode.string().lowercased()
            guard let value = HMACAlgorithm(rawValue: name) else {
                throw algorithmNode.error("unknown algorithm '\(name.prefix(32))'; use \(HMACAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            algorithm = value
        } else {
            algorithm = .sha256
        }
        if let encodingNode = node["encoding"] {
            let name = try encodingNode.string().lowercased()
            guard let value = SignatureEncoding(rawValue: name) else {
                throw encodingNode.error("unknown encoding '\(name.prefix(32))'; use \(SignatureEncoding.allCases.map(\.rawValue).joined(separator: " or "))")
            }
            encoding = value
        } else {
            encoding = .hex
        }
        prefix = try node["prefix"]?.string() ?? ""
        // An `hmac` secret is used byte for byte, as the sender's code uses it.
        keys = try SigningSecrets.read(node) { .success(Array($0.utf8)) }
    }

    /// Checks `request`'s signature header against the body.
    func check(_ request: Request) -> VerificationFailure? {
        guard let value = request.header(header)?.trimmingCharacters(in: " \t"), !value.isEmpty else {
            return .missingSignature(headers: [header])
        }
        let bytes = Array(value.utf8)
        let prefixBytes = Array(prefix.utf8)
        guard bytes.count >= prefixBytes.count,
              zip(bytes, prefixBytes).allSatisfy({ Self.lowercased($0) == Self.lowercased($1) })
        else { return .malformedSignature("\(header) does not start with the configured prefix") }
        let encoded = String(decoding: bytes[prefixBytes.count...], as: UTF8.self)
        guard let signature = encoding.decode(encoded), signature.count == algorithm.byteCount else {
            return .malformedSignature("\(header) is not a \(encoding.rawValue) \(algorithm.rawValue) HMAC")
        }
        let expected = keys.map { algorithm.authenticationCode(key: $0, parts: [request.body]) }
        return ConstantTime.containsMatch([signature], in: expected) ? nil : .wrongSignature
    }

    /// ASCII lower case of one byte.
    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= 65 && byte <= 90 ? byte + 32 : byte
    }
}
