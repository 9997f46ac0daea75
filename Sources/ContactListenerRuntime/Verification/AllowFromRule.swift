import ContactListenerKit

/// The `verify.allow_from` rule: the client address (after `trusted_proxies`) must be in
/// one of the ranges. `allow_from: any` admits every address, and is how a listener is
/// opened to everyone on purpose.
struct AllowFromRule: VerificationRule {
    static let key = "allow_from"
    static let identifiesSender = true

    /// The ranges admitted.
    let ranges: [AddressRange]

    /// Reads `verify.allow_from`: `any`, or one CIDR range or a list.
    init(node: ConfigNode) throws(ConfigurationError) {
        if node.node.scalar != nil, try node.string() == "any" {
            ranges = [AddressRange.everyAddress]
            return
        }
        let ranges = try AddressRange.list(from: node)
        guard !ranges.isEmpty else {
            throw node.error("the list is empty, which would refuse every request; write `any` to allow every address")
        }
        self.ranges = ranges
    }

    /// Whether every address is admitted.
    var admitsEveryone: Bool { ranges.contains(AddressRange.everyAddress) }

    func check(_ request: Request, verdict: inout Verdict) -> VerificationFailure? {
        guard let client = verdict.client else { return .unknownClient }
        guard let address = client.address else { return .clientNotAnAddress }
        return ranges.contains(where: { $0.contains(address) }) ? nil : .addressNotAllowed(address)
    }

    var summary: [String] { ["allow_from: \(ranges.map(\.description).joined(separator: ", "))"] }
}

extension VerificationFailure.Rule {
    /// `verify.allow_from`.
    static let allowFrom = Self(rawValue: AllowFromRule.key)
}

extension VerificationFailure {
    /// No `REMOTE_ADDR`, while an allow-list is configured (403).
    static let unknownClient = VerificationFailure(.allowFrom, status: 403, "the client address is unknown (no REMOTE_ADDR)")
    /// The client address isn't an IP address, so no range can admit it (403).
    static let clientNotAnAddress = VerificationFailure(.allowFrom, status: 403, "the client address is not an IP address")

    /// The client `address` is outside every allowed range (403).
    static func addressNotAllowed(_ address: IPAddress) -> VerificationFailure {
        VerificationFailure(.allowFrom, status: 403, "client address \(address) is not in an allowed range")
    }
}
