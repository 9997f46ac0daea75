/// The `verify.signature` rule: a MAC over the raw body bytes, in one of two schemes.
import ContactListenerKit
enum SignatureRule: VerificationRule {
    static let key = "signature"
    static let identifiesSender = true

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

    /// Checks the MAC over the body; records the scheme's message id, and that only the
    /// body may become event data.
    func check(_ request: Request, verdict: inout Verdict) -> VerificationFailure? {
        switch check(request, now: verdict.now) {
        case .success(let id):
            verdict.webhookID = id
            verdict.bodyIsSigned = true
            return nil
        case .failure(let failure):
            return failure
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

    var summary: [String] {
        switch self {
        case .standardWebhooks(let scheme):
            return ["signature: standard-webhooks, \(scheme.keys.count) secret(s), ±\(scheme.toleranceSeconds) s"]
        case .headerHMAC(let scheme):
            let prefix = scheme.prefix.isEmpty ? "" : ", prefix '\(scheme.prefix)'"
            return ["signature: hmac \(scheme.algorithm.rawValue) in \(scheme.header) (\(scheme.encoding.rawValue)\(prefix)), \(scheme.keys.count) secret(s)"]
        }
    }
}

extension VerificationFailure.Rule {
    /// `verify.signature`.
    static let signature = Self(rawValue: SignatureRule.key)
}

extension VerificationFailure {
    /// The signature didn't match (403).
    static let wrongSignature = VerificationFailure(.signature, status: 403, "the signature does not match the body under any configured secret")
    /// A GET under a signature rule: its data would be unsigned (401).
    static let unsignedQuery = VerificationFailure(
        .signature, status: 401, "a GET carries its data in the query string, which the signature does not cover; have the platform POST a signed body")

    /// The signature headers `headers` were missing (401).
    static func missingSignature(headers: [String]) -> VerificationFailure {
        VerificationFailure(.signature, status: 401, "the request is not signed; expected the header\(headers.count == 1 ? "" : "s") \(headers.joined(separator: ", "))")
    }

    /// The signature header couldn't be read (403); `reason` must not quote the header.
    static func malformedSignature(_ reason: String) -> VerificationFailure {
        VerificationFailure(.signature, status: 403, "malformed signature: \(reason)")
    }

    /// The signed timestamp is `skew` seconds off, beyond `tolerance` (403).
    static func staleSignature(skew: Int, tolerance: Int) -> VerificationFailure {
        VerificationFailure(.signature, status: 403, "stale signature: webhook-timestamp is \(skew) s from the listener's clock, more than the \(tolerance) s allowed")
    }
}
