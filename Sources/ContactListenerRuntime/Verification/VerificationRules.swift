import ContactListenerKit

/// The `verify:` section: the checks a request must pass before it is decoded. Every
/// configured rule must pass; a rule left out isn't checked; with none that says who the
/// sender is, only loopback clients pass (`LoopbackRule`).
///
/// ```yaml
/// verify:
///   token: ["tok-old", "tok-new"]
///   signature: { scheme: standard-webhooks, secret: "whsec_..." }
///   allow_from: ["203.0.113.0/24", "2001:db8::/32"]
///   trusted_proxies: ["127.0.0.1"]
///   methods: [GET, POST]
/// ```
package struct VerificationRules: Sendable {
    /// The rule types, in the order they are checked: the cheap, credential-free ones
    /// first, so a client from outside the allow-list never learns whether its token or
    /// signature was right. A new rule is one file and one line here.
    static let kinds: [any VerificationRule.Type] = [MethodRule.self, AllowFromRule.self, TokenRule.self, SignatureRule.self]

    /// The configured rules, in `kinds` order.
    let rules: [any VerificationRule]
    /// `verify.trusted_proxies`: peers whose `X-Forwarded-For` is believed. Not a rule: it
    /// decides which address the rules see.
    let trustedProxies: [AddressRange]
    /// Set when no configured rule says who the sender is.
    let loopbackOnly: LoopbackRule?

    /// The keys the `verify:` mapping may use.
    package static let configKeys = kinds.map { $0.key } + ["trusted_proxies"]

    /// No rules: loopback clients only, their query left as it is.
    package static let none = VerificationRules(rules: [], trustedProxies: [])

    private init(rules: [any VerificationRule], trustedProxies: [AddressRange]) {
        self.rules = rules
        self.trustedProxies = trustedProxies
        loopbackOnly = rules.contains { type(of: $0).identifiesSender } ? nil : LoopbackRule()
    }

    /// Reads the `verify:` mapping; a bad value is reported with its file, line and key.
    package init(node: ConfigNode) throws(ConfigurationError) {
        try node.requireMapping(allowed: Self.configKeys)
        var rules: [any VerificationRule] = []
        for kind in Self.kinds {
            if let child = node[kind.key] { rules.append(try kind.init(node: child)) }
        }
        let proxies = try node["trusted_proxies"].map { (child) throws(ConfigurationError) in try AddressRange.list(from: child) } ?? []
        self.init(rules: rules, trustedProxies: proxies)
    }

    /// Whether no rule is configured.
    package var isEmpty: Bool { rules.isEmpty && trustedProxies.isEmpty }

    /// Whether any client on the internet can get an event stored: `allow_from` admits
    /// every address and no credential is required.
    package var isOpenToEveryone: Bool {
        let admitsEveryone = rules.contains { ($0 as? AllowFromRule)?.admitsEveryone ?? false }
        return admitsEveryone && !rules.contains { $0 is TokenRule || $0 is SignatureRule }
    }

    /// The configured rules in words, without any secret, for `check-config`.
    package var summary: [String] {
        var lines = loopbackOnly?.summary ?? []
        if isOpenToEveryone {
            lines.append("OPEN: allow_from admits every address and no token or signature is required: anyone on the internet can store events")
        }
        // trusted_proxies reads best beside the address rules, after methods and allow_from.
        var proxiesAt = lines.count
        for rule in rules {
            lines += rule.summary
            if rule is MethodRule || rule is AllowFromRule { proxiesAt = lines.count }
        }
        if !trustedProxies.isEmpty {
            lines.insert("trusted_proxies: \(trustedProxies.map(\.description).joined(separator: ", "))", at: proxiesAt)
        }
        return lines
    }

    /// Checks `request` against every configured rule at unix time `now` (seconds), in
    /// `kinds` order. The loopback default stands in for `allow_from`; it is there only when
    /// no rule but `methods` is, so it comes last. The token comes out of the query string
    /// whether or not verification passes.
    package func verify(_ request: Request, now: Int) -> VerificationOutcome {
        var verdict = Verdict(client: ClientAddress.resolve(request, trustedProxies: trustedProxies), query: request.queryString, now: now)
        for rule in rules {
            if let failure = rule.check(request, verdict: &verdict) { return .rejected(failure) }
        }
        if let failure = loopbackOnly?.check(verdict) { return .rejected(failure) }
        return .accepted(VerifiedRequest(
            clientAddress: verdict.client?.text, query: verdict.query, webhookID: verdict.webhookID, bodyIsSigned: verdict.bodyIsSigned))
    }
}
