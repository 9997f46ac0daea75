import ContactListenerKit
import Crypto

/// The `verify.token` rule: a shared token sent as `?token=`, an `X-Listener-Token`
/// header or `Authorization: Bearer`.
struct TokenRule: VerificationRule {
    static let key = "token"
    static let identifiesSender = true

    /// SHA-256 digests of the configured tokens.
    ///
    /// Comparing digests keeps the comparison constant-time even in the tokens' lengths,
    /// and keeps the tokens themselves out of memory after the config is read.
    let digests: [[UInt8]]

    /// Reads `verify.token`: one token or a list (several during a rotation).
    init(node: ConfigNode) throws(ConfigurationError) {
        let items = try node.items()
        guard !items.isEmpty else { throw node.error("the list is empty; give at least one token, or leave the key out") }
        var digests: [[UInt8]] = []
        for item in items {
            let token = try item.string()
            // The messages never quote the value: it is a secret.
            guard !token.isEmpty else { throw item.error("the token is empty") }
            guard token.trimmingCharacters(in: " \t") == token else {
                throw item.error("the token starts or ends with whitespace, which headers lose in transit")
            }
            digests.append(Self.digest(Array(token.utf8)))
        }
        self.digests = digests
    }

    /// Takes the `token` parameters out of the query (whether or not they are right, so a
    /// token is never decoded or logged) and checks every token sent.
    func check(_ request: Request, verdict: inout Verdict) -> VerificationFailure? {
        let extracted = QueryToken.extract(from: verdict.query)
        verdict.query = extracted.query
        return check(request, queryTokens: extracted.tokens)
    }

    /// Checks the tokens `request` carries; `queryTokens` are those `QueryToken` took out of the query.
    ///
    /// Every token sent must be a configured one: a request with a right header and a
    /// wrong query token is refused rather than guessed at.
    func check(_ request: Request, queryTokens: [[UInt8]]) -> VerificationFailure? {
        var sent = queryTokens
        if let header = request.header("X-Listener-Token")?.trimmingCharacters(in: " \t"), !header.isEmpty {
            sent.append(Array(header.utf8))
        }
        if let bearer = Self.bearerToken(request.header("Authorization")) {
            sent.append(bearer)
        }
        guard !sent.isEmpty else { return .missingToken }
        var allMatch = true
        for token in sent {
            // Evaluate every token and every digest, whatever the earlier results.
            let matched = ConstantTime.containsMatch([Self.digest(token)], in: digests)
            allMatch = allMatch && matched
        }
        return allMatch ? nil : .wrongToken
    }

    var summary: [String] { ["token: \(digests.count) accepted"] }

    /// The token of an `Authorization: Bearer <token>` header (scheme name in any case),
    /// or nil for another scheme or none.
    static func bearerToken(_ header: String?) -> [UInt8]? {
        guard let header else { return nil }
        let bytes = Array(header.trimmingCharacters(in: " \t").utf8)
        let scheme = Array("bearer".utf8)
        guard bytes.count > scheme.count,
              zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 }),
              bytes[scheme.count] == UInt8(ascii: " ")
        else { return nil }
        let token = bytes[(scheme.count + 1)...].drop { $0 == UInt8(ascii: " ") }
        return token.isEmpty ? nil : Array(token)
    }

    /// SHA-256 of `token`.
    private static func digest(_ token: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: token))
    }
}

extension VerificationFailure.Rule {
    /// `verify.token`.
    static let token = Self(rawValue: TokenRule.key)
}

extension VerificationFailure {
    /// No token was sent (401).
    static let missingToken = VerificationFailure(.token, status: 401, "no token; send it as ?token=, an X-Listener-Token header or Authorization: Bearer")
    /// A token was sent but isn't configured (403).
    static let wrongToken = VerificationFailure(.token, status: 403, "the token is not one of the configured tokens")
}
