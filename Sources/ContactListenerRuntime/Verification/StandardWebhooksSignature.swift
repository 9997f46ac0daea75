/// The Standard Webhooks scheme (standardwebhooks.com, Svix): `webhook-id`,
/// `webhook-timestamp` and `webhook-signature` headers, the signature being
/// HMAC-SHA256 over `id.timestamp.body` under the base64 key of a `whsec_…` secret.
import ContactListenerKit
struct StandardWebhooksSignature: Sendable {
    /// The keys: each configured secret's base64 part, decoded.
    let keys: [[UInt8]]
    /// How far the signed timestamp may be from the listener's clock, either way.
    let toleranceSeconds: Int

    /// Clock difference allowed by default: the ±5 minutes the specification suggests.
    static let defaultToleranceSeconds = 300
    /// The keys a `standard-webhooks` signature mapping may use.
    static let configKeys = ["scheme", "secret", "tolerance_seconds"]
    /// The three headers the scheme needs, as named in failure messages.
    static let headerNames = ["webhook-id", "webhook-timestamp", "webhook-signature"]

    /// Reads a `verify.signature` mapping whose scheme is `standard-webhooks`.
    init(node: ConfigNode) throws(ConfigurationError) {
        try node.requireMapping(allowed: Self.configKeys)
        keys = try SigningSecrets.read(node) { text in
            // The specification's libraries also take the bare base64 part.
            let encoded = text.hasPrefix("whsec_") ? text.dropFirst(6) : Substring(text)
            guard let key = Base64.decode(encoded), !key.isEmpty else {
                return .failure(.init(reason: "expected 'whsec_' followed by base64 (the secret as the sender shows it); this one is not valid base64"))
            }
            return .success(key)
        }
        toleranceSeconds = try node["tolerance_seconds"]?.int() ?? Self.defaultToleranceSeconds
    }

    /// Checks `request`'s signature at unix time `now`; returns the `webhook-id` when it holds.
    func check(_ request: Request, now: Int) -> Result<String, VerificationFailure> {
        guard let id = request.header("webhook-id"), !id.isEmpty,
              let timestampText = request.header("webhook-timestamp")?.trimmingCharacters(in: " \t"), !timestampText.isEmpty,
              let signatureHeader = request.header("webhook-signature"), !signatureHeader.isEmpty
        else { return .failure(.missingSignature(headers: Self.headerNames)) }

        // Digits only: Int() would also take a sign.
        guard timestampText.utf8.count <= 15, timestampText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let timestamp = Int(timestampText)
        else { return .failure(.malformedSignature("webhook-timestamp is not a unix time in seconds")) }
        let (difference, overflow) = now.subtractingReportingOverflow(timestamp)
        let skew = overflow ? Int.max : Int(clamping: difference.magnitude)
        // Checked before the MAC: a stale message is refused even when correctly signed (replay).
        if skew > toleranceSeconds {
            return .failure(.staleSignature(skew: skew, tolerance: toleranceSeconds))
        }

        var signatures: [[UInt8]] = []
        for entry in signatureHeader.split(separator: " ") {
            let parts = entry.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
            // Other versions (`v1a,` for asymmetric signatures) are not ours to check.
            guard parts.count == 2, parts[0] == "v1" else { continue }
            if let bytes = Base64.decode(parts[1]), bytes.count == HMACAlgorithm.sha256.byteCount {
                signatures.append(bytes)
            }
        }
        guard !signatures.isEmpty else {
            return .failure(.malformedSignature("webhook-signature holds no 'v1,<base64 HMAC-SHA256>' entry"))
        }

        let dot: [UInt8] = [UInt8(ascii: ".")]
        let parts = [Array(id.utf8), dot, Array(timestampText.utf8), dot, request.body]
        let expected = keys.map { HMACAlgorithm.sha256.authenticationCode(key: $0, parts: parts) }
        return ConstantTime.containsMatch(signatures, in: expected) ? .success(id) : .failure(.wrongSignature)
    }
}
