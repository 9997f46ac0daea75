import ContactListenerKit

/// One rule under `verify:`. `VerificationRules.kinds` lists the rule types in the order
/// they are checked; a new rule is a file with a type conforming to this and one line there.
protocol VerificationRule: Sendable {
    /// Its key under `verify:` (`token`).
    static var key: String { get }
    /// True when passing it says who the sender is (a secret, a signature, an address
    /// range): without any such rule only loopback clients are accepted.
    static var identifiesSender: Bool { get }
    /// Reads the rule from its value under `verify:`; a bad value names its file, line and key.
    init(node: ConfigNode) throws(ConfigurationError)
    /// Checks `request`; nil when it passes. A rule records what it learned in `verdict`
    /// (the query without the token, the signature's message id).
    func check(_ request: Request, verdict: inout Verdict) -> VerificationFailure?
    /// What it checks, in words and without any secret, for `check-config`.
    var summary: [String] { get }
}

/// What the rules decided about a request so far, handed from one to the next.
struct Verdict: Sendable {
    /// The client, resolved through `trusted_proxies` (nil without `REMOTE_ADDR`).
    var client: ClientAddress?
    /// The query string, with the token taken out once the token rule has looked at it.
    var query: String
    /// The signature scheme's message id (Standard Webhooks' `webhook-id`).
    var webhookID: String?
    /// True once a signature rule checked the body.
    var bodyIsSigned = false
    /// Unix time in seconds, for timestamps in signatures.
    let now: Int
}
