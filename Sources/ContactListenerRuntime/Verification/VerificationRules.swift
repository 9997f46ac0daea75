/// The `verify:` section: the checks a request must pass before it is decoded. Every
/// configured rule must pass; a rule left out isn't checked.
///
/// ```yaml
/// verify:
///   token: ["tok-old", "tok-new"]
///   signature: { scheme: standard-webhooks, secret: "whsec_..." }
///   allow_from: ["203.0.113.0/24", "2001:db8::/32"]
///   trusted_proxies: ["127.0.0.1"]
///   methods: [GET, POST]
/// ```
import ContactListenerKit
package struct VerificationRules: Sendable {
    /// `verify.token`.
    var token: TokenRule?
    /// `verify.signature`.
    var signature: SignatureRule?
    /// `verify.allow_from`; nil admits every address.
    var allowFrom: [AddressRange]?
    /// `verify.trusted_proxies`: peers whose `X-Forwarded-For` is believed.
    var trustedProxies: [AddressRange] = []
    /// `verify.methods`.
    var methods: MethodRule?

    /// The keys the `verify:` mapping may use.
    package static let configKeys = ["token", "signature", "allow_from", "trusted_proxies", "methods"]

    /// No rules: every request is accepted, its query left as it is.
    package static let none = VerificationRules()

    private init() {}

    /// Reads the `verify:` mapping; a bad value is reported with its file, line and key.
    package init(node: ConfigNode) throws(ConfigurationError) {
        try node.requireMapping(allowed: Self.configKeys)
        token = try node["token"].map { (child) throws(ConfigurationError) in try TokenRule(node: child) }
        signature = try node["signature"].map { (child) throws(ConfigurationError) in try SignatureRule(node: child) }
        if let child = node["allow_from"] {
            if child.node.scalar != nil, try child.string() == "any" {
                allowFrom = [AddressRange.everyAddress]
            } else {
                let ranges = try AddressRange.list(from: child)
                guard !ranges.isEmpty else {
                    throw child.error("the list is empty, which would refuse every request; write `any` to allow every address")
                }
                allowFrom = ranges
            }
        }
        trustedProxies = try node["trusted_proxies"].map { (child) throws(ConfigurationError) in try AddressRange.list(from: child) } ?? []
        methods = try node["methods"].map { (child) throws(ConfigurationError) in try MethodRule(node: child) }
    }

    /// Whether no rule is configured.
    package var isEmpty: Bool {
        token == nil && signature == nil && allowFrom == nil && methods == nil && trustedProxies.isEmpty
    }

    /// Whether only loopback clients are accepted: nothing says who else may send (no
    /// token, no signature, no `allow_from`), and an open listener must be asked for.
    var isLoopbackOnly: Bool { token == nil && signature == nil && allowFrom == nil }

    /// Whether any client on the internet can get an event stored: `allow_from` admits
    /// every address and no credential is required.
    package var isOpenToEveryone: Bool {
        token == nil && signature == nil && (allowFrom?.contains(AddressRange.everyAddress) ?? false)
    }

    /// The configured rules in words, without any secret, for `check-config`.
    package var summary: [String] {
        var lines: [String] = []
        if isLoopbackOnly {
            lines.append("no rule: only loopback clients (127.0.0.0/8, ::1) are accepted, others get 403; add token, signature or allow_from")
        }
        if isOpenToEveryone {
            lines.append("OPEN: allow_from admits every address and no token or signature is required: anyone on the internet can store events")
        }
        if let methods { lines.append("methods: \(methods.allowed.joined(separator: ", "))") }
        if let allowFrom { lines.append("allow_from: \(allowFrom.map(\.description).joined(separator: ", "))") }
        if !trustedProxies.isEmpty { lines.append("trusted_proxies: \(trustedProxies.map(\.description).joined(separator: ", "))") }
        if let token { lines.append("token: \(token.digests.count) accepted") }
        switch signature {
        case .standardWebhooks(let scheme)?:
            lines.append("signature: standard-webhooks, \(scheme.keys.count) secret(s), ±\(scheme.toleranceSeconds) s")
        case .headerHMAC(let scheme)?:
            let prefix = scheme.prefix.isEmpty ? "" : ", prefix '\(scheme.prefix)'"
            lines.append("signature: hmac \(scheme.algorithm.rawValue) in \(scheme.header) (\(scheme.encoding.rawValue)\(prefix)), \(scheme.keys.count) secret(s)")
        case nil:
            break
        }
        return lines
    }

    /// Checks `request` against every configured rule at unix time `now` (seconds).
    ///
    /// The cheap, credential-free rules go first (methods, then allow_from), so a client
    /// from outside the allow-list never learns whether its token or signature was right.
    /// The token comes out of the query string whether or not verification passes.
    ///
    /// With no rule saying who may send, only loopback clients are accepted (fail closed:
    /// a package URL with a forgotten `verify:` must not take contacts from anyone).
    package func verify(_ request: Request, now: Int) -> VerificationOutcome {
        if let failure = methods?.check(request.method) { return .rejected(failure) }

        let client = ClientAddress.resolve(request, trustedProxies: trustedProxies)
        if let allowFrom {
            guard let client else { return .rejected(.unknownClient) }
            guard let address = client.address else { return .rejected(.clientNotAnAddress) }
            guard allowFrom.contains(where: { $0.contains(address) }) else {
                return .rejected(.addressNotAllowed(address))
            }
        } else if isLoopbackOnly {
            guard let address = client?.address, AddressRange.loopback.contains(where: { $0.contains(address) }) else {
                return .rejected(.notLoopback(client?.address))
            }
        }

        var query = request.queryString
        if let token {
            let extracted = QueryToken.extract(from: query)
            query = extracted.query
            if let failure = token.check(request, queryTokens: extracted.tokens) { return .rejected(failure) }
        }

        var webhookID: String? = nil
        if let signature {
            switch signature.check(request, now: now) {
            case .success(let id): webhookID = id
            case .failure(let failure): return .rejected(failure)
            }
        }
        return .accepted(VerifiedRequest(clientAddress: client?.text, query: query, webhookID: webhookID, bodyIsSigned: signature != nil))
    }
}
