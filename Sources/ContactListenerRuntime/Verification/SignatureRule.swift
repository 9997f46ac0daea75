/// The `verify.signature` rule: a MAC over the raw body bytes, in one of two schemes.
import ContactListenerKit
enum SignatureRule: Sendable {
    /// Standard Webhooks (`scheme: standard-webhooks`).
    case standardWebhooks(StandardWebhooksSignature)
    /// One header with an HMAC of the body (`scheme: hmac`).
    case headerHMAC(HeaderHMACSignature)

    /// The scheme names `verify.signature.scheme` accepts.
    static let schemes = ["standard-webhooks", "hmac"]

    /// Reads the `verify.signature` mapping.
    init(node: ConfigNode) throws(ConfigurationError) {
        guard node.node.mapping != nil else { throw node.error("expected a mapping with 'scheme' and 'secret'") }
        guard let schemeNode = node["scheme"] else {
            throw node.error("'scheme' is required: \(Self.schemes.joined(separator: " or "))")
        }
        switch try schemeNode.string().lowercased() {
        case "standard-webhooks": self = .standardWebhooks(try StandardWebhooksSignature(node: node))
        case "hmac": self = .headerHMAC(try HeaderHMACSignature(node: node))
        case let other:
            throw schemeNode.error("unknown scheme '\(other.prefix(32))'; use \(Self.schemes.joined(separator: " or "))")
        }
    }

    /// Checks `request` at unix time `now`; on success, the message id when the scheme has one.
    func check(_ request: Request, now: Int) -> Result<String?, VerificationFailure> {
        switch self {
        case .standardWebhooks(let scheme):
            return scheme.check(request, now: now).map { Optional($0) }
        case .headerHMAC(let scheme):
            if let failure = scheme.check(request) { return .failure(failure) }
            return .success(nil)
        }
    }
}
