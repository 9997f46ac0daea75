import Testing
@preconcurrency import Yams
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP

// Tests of the `verify:` rules: token, the rule order, config parsing, and the promise that
// no failure message carries a credential. Signatures and addresses have their own files
// (VerificationSignatureTests.swift, VerificationAddressTests.swift); the fixtures below
// are shared by all three.

/// Builders for verification rules and requests.
enum VerifyFixture {
    /// Test failure outside the code under test (bad YAML in a fixture).
    struct FixtureError: Error {}

    /// The `verify:` node of `yaml` (which must have a top-level `verify:` key).
    static func node(_ yaml: String, environment: [String: String] = [:]) throws -> ConfigNode {
        guard let parsed = try Yams.compose(yaml: yaml) else { throw FixtureError() }
        let root = ConfigNode(node: parsed, path: "", file: "test.yaml", environment: environment)
        guard let verify = root["verify"] else { throw FixtureError() }
        return verify
    }

    /// Rules parsed from `yaml`.
    static func rules(_ yaml: String, environment: [String: String] = [:]) throws -> VerificationRules {
        try VerificationRules(node: node(yaml, environment: environment))
    }

    /// The configuration error `yaml` causes, or nil when it parses.
    static func configError(_ yaml: String, environment: [String: String] = [:]) throws -> ConfigurationError? {
        let verify = try node(yaml, environment: environment)
        do {
            _ = try VerificationRules(node: verify)
            return nil
        } catch {
            return error
        }
    }

    /// A request as a web server would pass it; `headers` use HTTP names (`X-Foo`).
    static func request(
        method: String = "POST", remote: String? = "203.0.113.9", query: String = "",
        headers: [String: String] = [:], body: String = ""
    ) -> Request {
        var params = ["REQUEST_METHOD": method, "QUERY_STRING": query]
        if let remote { params["REMOTE_ADDR"] = remote }
        for (name, value) in headers {
            params["HTTP_" + name.uppercased().replacingHyphens()] = value
        }
        return Request(params: params, body: Array(body.utf8))
    }

    /// The accepted request, or nil (the test then fails on the `#expect`/`#require`).
    static func accepted(_ outcome: VerificationOutcome) -> VerifiedRequest? {
        if case .accepted(let request) = outcome { return request }
        return nil
    }

    /// The failure, or nil when accepted.
    static func failure(_ outcome: VerificationOutcome) -> VerificationFailure? {
        if case .rejected(let failure) = outcome { return failure }
        return nil
    }
}

extension String {
    /// `-` to `_`, as web servers turn header names into `HTTP_*` params.
    fileprivate func replacingHyphens() -> String {
        String(map { $0 == "-" ? "_" : $0 })
    }
}

@Suite("Verification: token")
struct VerificationTokenTests {
    static let config = #"verify: { token: ["tok-old", "tok-new"] }"#

    /// (query, headers) carrying `tok-new` or `tok-old` in each accepted place.
    static let acceptedPlaces: [(String, [String: String])] = [
        ("token=tok-new", [:]),
        ("token=tok-old", [:]),
        ("", ["X-Listener-Token": "tok-new"]),
        ("", ["X-Listener-Token": " tok-old "]),
        ("", ["Authorization": "Bearer tok-new"]),
        ("", ["Authorization": "bearer   tok-old"]),
        ("", ["Authorization": "BEARER tok-new"]),
        // The same token in two places is fine.
        ("token=tok-new", ["X-Listener-Token": "tok-new"]),
        // Rotation: old and new together.
        ("token=tok-old", ["Authorization": "Bearer tok-new"]),
    ]

    @Test("accepted in the query, X-Listener-Token and Authorization: Bearer", arguments: acceptedPlaces)
    func accepted(query: String, headers: [String: String]) throws {
        let rules = try VerifyFixture.rules(Self.config)
        let outcome = rules.verify(VerifyFixture.request(query: query, headers: headers), now: 0)
        let accepted = try #require(VerifyFixture.accepted(outcome))
        #expect(accepted.query == "")
        #expect(accepted.webhookID == nil)
    }

    /// Tokens that aren't configured, in each place: 403.
    static let wrongPlaces: [(String, [String: String])] = [
        ("token=tok-older", [:]),
        ("token=TOK-NEW", [:]),
        ("token=tok-ne", [:]),
        ("", ["X-Listener-Token": "nope"]),
        ("", ["Authorization": "Bearer tok-new-x"]),
        // One right and one wrong token: refused, not guessed at.
        ("token=wrong", ["X-Listener-Token": "tok-new"]),
        ("token=tok-new", ["Authorization": "Bearer wrong"]),
        ("token=tok-new&token=wrong", [:]),
    ]

    @Test("a wrong token is 403", arguments: wrongPlaces)
    func wrong(query: String, headers: [String: String]) throws {
        let rules = try VerifyFixture.rules(Self.config)
        let failure = try #require(VerifyFixture.failure(rules.verify(VerifyFixture.request(query: query, headers: headers), now: 0)))
        #expect(failure.status == 403)
        #expect(failure.rule == .token)
        #expect(failure.description.hasPrefix("verify.token: "))
    }

    /// No usable token anywhere: 401.
    static let missingPlaces: [(String, [String: String])] = [
        ("", [:]),
        ("a=1&b=2", [:]),
        ("token=", [:]),
        ("token", [:]),
        ("mytoken=tok-new", [:]),
        ("token[]=tok-new", [:]),
        ("", ["X-Listener-Token": ""]),
        ("", ["Authorization": "Basic dG9rLW5ldzo="]),
        ("", ["Authorization": "Bearer "]),
        ("", ["Authorization": "Bearertok-new"]),
        ("", ["X-Token": "tok-new"]),
    ]

    @Test("a missing token is 401", arguments: missingPlaces)
    func missing(query: String, headers: [String: String]) throws {
        let rules = try VerifyFixture.rules(Self.config)
        let failure = try #require(VerifyFixture.failure(rules.verify(VerifyFixture.request(query: query, headers: headers), now: 0)))
        #expect(failure.status == 401)
        #expect(failure.rule == .token)
        #expect(failure.isMissingCredentials)
    }

    /// (query sent, query the pipeline gets): the token goes, everything else stays byte for byte.
    static let strippedQueries: [(String, String)] = [
        ("a=1&token=tok-new&b=2", "a=1&b=2"),
        ("token=tok-new&a=1", "a=1"),
        ("a=1&token=tok-new", "a=1"),
        ("token=tok-new", ""),
        ("token=tok-new&token=tok-old", ""),
        ("mytoken=1&token=tok-new&token_x=2&tokens=3&xtoken", "mytoken=1&token_x=2&tokens=3&xtoken"),
        ("a=%41+b&token=tok-new&c[]=1&&d&e=%zz", "a=%41+b&c[]=1&&d&e=%zz"),
        ("b=2&a=1&token=tok-new&z=%E2%9C%93", "b=2&a=1&z=%E2%9C%93"),
        // The decoded name is what the form decoder would see, so an escaped name is the token too.
        ("tok%65n=tok-new&a=1", "a=1"),
        ("token=tok%2Dnew&a=1", "a=1"),
        ("token[]=1&token=tok-new", "token[]=1"),
        ("&token=tok-new&", "&"),
    ]

    @Test("the token is stripped from the query", arguments: strippedQueries)
    func stripped(query: String, expected: String) throws {
        let rules = try VerifyFixture.rules(Self.config)
        let accepted = try #require(VerifyFixture.accepted(rules.verify(VerifyFixture.request(query: query), now: 0)))
        #expect(accepted.query == expected)
    }

    @Test func queryWithoutTokenIsUntouchedWhenTheHeaderCarriesIt() throws {
        let rules = try VerifyFixture.rules(Self.config)
        let query = "a=1&mytoken=2&&b=%20"
        let request = VerifyFixture.request(query: query, headers: ["X-Listener-Token": "tok-new"])
        #expect(VerifyFixture.accepted(rules.verify(request, now: 0))?.query == query)
    }

    @Test func withoutTokenRuleTheQueryIsLeftAlone() throws {
        let rules = try VerifyFixture.rules("verify: { methods: [POST], allow_from: any }")
        let query = "a=1&token=data&b=2"
        #expect(VerifyFixture.accepted(rules.verify(VerifyFixture.request(query: query), now: 0))?.query == query)
    }

    @Test func percentEncodedTokenIsDecodedBeforeComparing() throws {
        let rules = try VerifyFixture.rules(#"verify: { token: "a+b/c= d" }"#)
        let request = VerifyFixture.request(query: "token=a%2Bb%2Fc%3D+d&x=1")
        #expect(VerifyFixture.accepted(rules.verify(request, now: 0))?.query == "x=1")
        let header = VerifyFixture.request(headers: ["X-Listener-Token": "a+b/c= d"])
        #expect(VerifyFixture.accepted(rules.verify(header, now: 0)) != nil)
    }

    @Test func singleTokenString() throws {
        let rules = try VerifyFixture.rules("verify: { token: only-one }")
        #expect(VerifyFixture.accepted(rules.verify(VerifyFixture.request(query: "token=only-one"), now: 0)) != nil)
        #expect(VerifyFixture.failure(rules.verify(VerifyFixture.request(query: "token=tok-new"), now: 0))?.status == 403)
    }

    @Test(arguments: [
        (Array("abc".utf8), Array("abc".utf8), true),
        (Array("abc".utf8), Array("abd".utf8), false),
        (Array("abc".utf8), Array("ab".utf8), false),
        ([], [], true),
    ])
    func constantTimeEquals(a: [UInt8], b: [UInt8], equal: Bool) {
        #expect(ConstantTime.equals(a, b) == equal)
        #expect(ConstantTime.containsMatch([a], in: [[9], b]) == equal)
    }
}

@Suite("Verification: rules together")
struct VerificationRulesTests {
    /// (REMOTE_ADDR, accepted when no rule says who may send).
    static let loopbackCases: [(String?, Bool)] = [
        ("127.0.0.1", true), ("127.255.0.9", true), ("::1", true), ("::ffff:127.0.0.1", true),
        ("203.0.113.9", false), ("10.0.0.1", false), ("128.0.0.1", false), ("::2", false), ("::", false),
        ("0.0.0.0", false), ("2001:db8::1", false), ("garbage", false), ("", false), (nil, false),
    ]

    @Test("no rule: only loopback clients; the others get 403 naming the fix", arguments: loopbackCases)
    func noRulesMeansLoopbackOnly(remote: String?, accepted: Bool) throws {
        for rules in [VerificationRules.none, try VerifyFixture.rules("verify: {}"), try VerifyFixture.rules("verify: { methods: [POST] }"),
                      try VerifyFixture.rules(#"verify: { trusted_proxies: ["10.0.0.0/8"] }"#)] {
            let outcome = rules.verify(VerifyFixture.request(method: "POST", remote: remote, query: "token=x&a=1"), now: 0)
            if accepted {
                #expect(VerifyFixture.accepted(outcome) == VerifiedRequest(clientAddress: remote, query: "token=x&a=1", webhookID: nil))
            } else {
                let failure = try #require(VerifyFixture.failure(outcome), "\(remote ?? "nil") was accepted")
                #expect(failure.status == 403)
                #expect(failure.description.contains("add verify.token"), "\(failure)")
            }
        }
    }

    @Test func noRulesSaysLoopbackOnlyAndAnyOpensIt() throws {
        #expect(VerificationRules.none.isEmpty)
        #expect(VerificationRules.none.summary.first?.contains("only loopback clients") == true)
        #expect(!VerificationRules.none.isOpenToEveryone)
        let open = try VerifyFixture.rules("verify: { allow_from: any }")
        #expect(open.isOpenToEveryone)
        #expect(open.summary.first?.hasPrefix("OPEN:") == true, "\(open.summary)")
        #expect(VerifyFixture.accepted(open.verify(VerifyFixture.request(remote: "203.0.113.9"), now: 0))?.clientAddress == "203.0.113.9")
        #expect(VerifyFixture.accepted(open.verify(VerifyFixture.request(remote: "2001:db8::1"), now: 0)) != nil)
        let everyCIDR = try VerifyFixture.rules(#"verify: { allow_from: ["0.0.0.0/0", "::/0"] }"#)
        #expect(everyCIDR.isOpenToEveryone)
        // A credential closes it again, whatever allow_from says.
        #expect(!(try VerifyFixture.rules("verify: { allow_from: any, token: t0k }")).isOpenToEveryone)
    }

    @Test func emptyMappingIsNoRules() throws {
        let rules = try VerifyFixture.rules("verify: {}")
        #expect(rules.isEmpty)
    }

    /// (method, accepted methods as YAML, expected status or nil when accepted).
    static let methodCases: [(String, String, Int?)] = [
        ("GET", "[GET, POST]", nil),
        ("POST", "[GET, POST]", nil),
        ("POST", "[POST]", nil),
        ("POST", "post", nil),
        ("GET", "[POST]", 405),
        ("POST", "[get]", 405),
        ("PUT", "[GET, POST]", 405),
        ("post", "[POST]", 405),
        ("", "[POST]", 405),
    ]

    @Test("methods", arguments: methodCases)
    func methods(method: String, allowed: String, status: Int?) throws {
        let rules = try VerifyFixture.rules("verify: { methods: \(allowed), allow_from: any }")
        let outcome = rules.verify(VerifyFixture.request(method: method), now: 0)
        #expect(VerifyFixture.failure(outcome)?.status == status)
        if let failure = VerifyFixture.failure(outcome) {
            #expect(failure.rule == .methods)
        }
    }

    @Test func methodMessageQuotesOnlyPlainMethodNames() throws {
        let rules = try VerifyFixture.rules("verify: { methods: [POST] }")
        let put = try #require(VerifyFixture.failure(rules.verify(VerifyFixture.request(method: "PUT"), now: 0)))
        #expect(put.description == "verify.methods: method PUT is not accepted; send POST")
        let odd = try #require(VerifyFixture.failure(rules.verify(VerifyFixture.request(method: "X\nInjected: 1"), now: 0)))
        #expect(!odd.description.contains("Injected"))
    }

    /// All four rules; the credential-free ones answer first.
    static let allRules = """
        verify:
          token: tok-new
          signature: { scheme: hmac, header: X-Signature, secret: s3cret-hmac }
          allow_from: 203.0.113.0/24
          methods: POST
        """

    /// (method, remote, token header, signature, expected rule and status).
    static let orderCases: [(String, String, String?, String?, VerificationFailure.Rule, Int)] = [
        ("GET", "198.51.100.1", nil, nil, .methods, 405),
        ("POST", "198.51.100.1", nil, nil, .allowFrom, 403),
        ("POST", "203.0.113.1", nil, nil, .token, 401),
        ("POST", "203.0.113.1", "wrong", nil, .token, 403),
        ("POST", "203.0.113.1", "tok-new", nil, .signature, 401),
        ("POST", "203.0.113.1", "tok-new", "00", .signature, 403),
    ]

    @Test("rules answer in order: methods, allow_from, token, signature", arguments: orderCases)
    func order(method: String, remote: String, token: String?, signature: String?, rule: VerificationFailure.Rule, status: Int) throws {
        let rules = try VerifyFixture.rules(Self.allRules)
        var headers: [String: String] = [:]
        if let token { headers["X-Listener-Token"] = token }
        if let signature { headers["X-Signature"] = signature }
        let request = VerifyFixture.request(method: method, remote: remote, headers: headers, body: VerificationSignatureTests.body)
        let failure = try #require(VerifyFixture.failure(rules.verify(request, now: 0)))
        #expect(failure.rule == rule)
        #expect(failure.status == status)
        #expect(throws: failure) { try rules.verify(request, now: 0).get() }
    }

    @Test func allRulesPass() throws {
        let rules = try VerifyFixture.rules(Self.allRules)
        let request = VerifyFixture.request(
            remote: "203.0.113.1", query: "token=tok-new&x=1",
            headers: ["X-Signature": VerificationSignatureTests.hmacSHA256Hex], body: VerificationSignatureTests.body)
        let accepted = try rules.verify(request, now: 0).get()
        #expect(accepted == VerifiedRequest(clientAddress: "203.0.113.1", query: "x=1", webhookID: nil, bodyIsSigned: true))
        #expect(accepted.eventQuery == "", "a signed request's query must not become event data")
        #expect(rules.summary == [
            "methods: POST", "allow_from: 203.0.113.0/24", "token: 1 accepted",
            "signature: hmac sha256 in X-Signature (hex), 1 secret(s)",
        ])
    }
}

@Suite("Verification: configuration")
struct VerificationConfigTests {
    static let whsec = VerificationSignatureTests.secret

    /// (the `verify:` YAML, the key the error must name, a fragment of its reason).
    static let errorCases: [(String, String, String)] = [
        (#"verify: { allow_from: ["203.0.113.0/24", "nope"] }"#, "verify.allow_from[1]", "expected an IP address"),
        (#"verify: { allow_from: "10.1.2.3/8" }"#, "verify.allow_from", "did you mean 10.0.0.0/8?"),
        (#"verify: { allow_from: ["2001:db8::1/32"] }"#, "verify.allow_from[0]", "did you mean 2001:db8::/32?"),
        (#"verify: { allow_from: ["10.0.0.0/33"] }"#, "verify.allow_from[0]", "from 0 to 32"),
        (#"verify: { allow_from: ["2001:db8::/129"] }"#, "verify.allow_from[0]", "from 0 to 128"),
        (#"verify: { allow_from: ["10.0.0.0/"] }"#, "verify.allow_from[0]", "prefix length"),
        (#"verify: { allow_from: ["10.0.0.0/+8"] }"#, "verify.allow_from[0]", "prefix length"),
        (#"verify: { allow_from: ["example.com"] }"#, "verify.allow_from[0]", "expected an IP address"),
        (#"verify: { allow_from: [] }"#, "verify.allow_from", "empty"),
        (#"verify: { allow_from: { a: 1 } }"#, "verify.allow_from", "expected a single value"),
        (#"verify: { trusted_proxies: ["127.0.0.1", "localhost"] }"#, "verify.trusted_proxies[1]", "expected an IP address"),
        (#"verify: { token: "" }"#, "verify.token", "empty"),
        (#"verify: { token: ["ok", ""] }"#, "verify.token[1]", "empty"),
        (#"verify: { token: [] }"#, "verify.token", "empty"),
        (#"verify: { token: " padded" }"#, "verify.token", "whitespace"),
        (#"verify: { signature: { scheme: rsa, secret: x } }"#, "verify.signature.scheme", "unknown scheme"),
        (#"verify: { signature: { secret: x } }"#, "verify.signature", "'scheme' is required"),
        (#"verify: { signature: hmac }"#, "verify.signature", "expected a mapping"),
        (#"verify: { signature: { scheme: hmac, header: X-Sig, algorithm: md5, secret: x } }"#, "verify.signature.algorithm", "unknown algorithm"),
        (#"verify: { signature: { scheme: hmac, header: X-Sig, encoding: base32, secret: x } }"#, "verify.signature.encoding", "unknown encoding"),
        (#"verify: { signature: { scheme: hmac, secret: x } }"#, "verify.signature", "'header' is required"),
        (#"verify: { signature: { scheme: hmac, header: "X Sig", secret: x } }"#, "verify.signature.header", "header name"),
        (#"verify: { signature: { scheme: hmac, header: X-Sig } }"#, "verify.signature", "'secret' is required"),
        (#"verify: { signature: { scheme: hmac, header: X-Sig, secret: "" } }"#, "verify.signature.secret", "empty"),
        (#"verify: { signature: { scheme: hmac, header: X-Sig, secret: x, tolerance_seconds: 5 } }"#, "verify.signature.tolerance_seconds", "unknown key"),
        (#"verify: { signature: { scheme: standard-webhooks, secret: "whsec_not*base64!" } }"#, "verify.signature.secret", "not valid base64"),
        (#"verify: { signature: { scheme: standard-webhooks, secret: "whsec_" } }"#, "verify.signature.secret", "not valid base64"),
        ("verify: { signature: { scheme: standard-webhooks, secret: [\"\(whsec)\", \"whsec_a\"] } }", "verify.signature.secret[1]", "not valid base64"),
        ("verify: { signature: { scheme: standard-webhooks, secret: \"\(whsec)\", header: X-Sig } }", "verify.signature.header", "unknown key"),
        ("verify: { signature: { scheme: standard-webhooks, secret: \"\(whsec)\", tolerance_seconds: -1 } }", "verify.signature.tolerance_seconds", "non-negative"),
        (#"verify: { signature: { scheme: standard-webhooks, secret: "${MISSING_SECRET}" } }"#, "verify.signature.secret", "MISSING_SECRET is not set"),
        (#"verify: { methods: [GET, PUT] }"#, "verify.methods[1]", "unknown method 'PUT'"),
        (#"verify: { methods: [] }"#, "verify.methods", "empty"),
        (#"verify: { colour: red }"#, "verify.colour", "unknown key"),
        (#"verify: [token]"#, "verify", "expected a mapping"),
    ]

    @Test("errors name the key", arguments: errorCases)
    func namesTheKey(yaml: String, key: String, reason: String) throws {
        let error = try #require(try VerifyFixture.configError(yaml))
        #expect(error.key == key)
        #expect(error.reason.contains(reason), "\(error)")
        #expect(error.file == "test.yaml")
        #expect(error.line != nil)
    }

    @Test func secretErrorsDoNotQuoteTheSecret() throws {
        let error = try #require(try VerifyFixture.configError(#"verify: { signature: { scheme: standard-webhooks, secret: "whsec_not*base64!" } }"#))
        #expect(!error.description.contains("not*base64"))
        let token = try #require(try VerifyFixture.configError(#"verify: { token: "  leaky-token" }"#))
        #expect(!token.description.contains("leaky"))
    }

    @Test func theBriefsExampleParses() throws {
        let yaml = """
            verify:
              token: ["tok-old", "tok-new"]
              signature: { scheme: hmac, header: X-Signature, algorithm: sha256, encoding: hex, prefix: "sha256=", secret: "${SIGNING_SECRET}" }
              allow_from: ["203.0.113.0/24", "2001:db8::/32"]
              trusted_proxies: ["127.0.0.1"]
              methods: [GET, POST]
            """
        let rules = try VerifyFixture.rules(yaml, environment: ["SIGNING_SECRET": "s3cret-hmac"])
        #expect(rules.summary == [
            "methods: GET, POST", "allow_from: 203.0.113.0/24, 2001:db8::/32", "trusted_proxies: 127.0.0.1/32",
            "token: 2 accepted", "signature: hmac sha256 in X-Signature (hex, prefix 'sha256='), 1 secret(s)",
        ])
        let request = VerifyFixture.request(
            remote: "127.0.0.1", query: "token=tok-old",
            headers: ["X-Forwarded-For": "2001:db8::7", "X-Signature": "sha256=" + VerificationSignatureTests.hmacSHA256Hex],
            body: VerificationSignatureTests.body)
        #expect(VerifyFixture.accepted(rules.verify(request, now: 0))?.clientAddress == "2001:db8::7")

        let standard = try VerifyFixture.rules("verify: { signature: { scheme: standard-webhooks, secret: \"\(Self.whsec)\" } }")
        #expect(standard.summary == ["signature: standard-webhooks, 1 secret(s), ±300 s"])
    }
}

@Suite("Verification: messages")
struct VerificationMessageTests {
    static let tokens = ["tok-old-SECRET", "tok-new-SECRET"]
    static let hmacSecret = "hmac-SECRET-value"

    /// Every failing request the rules can produce, each carrying credentials in some form.
    @Test func noFailureMessageContainsACredential() throws {
        let signature = VerificationSignatureTests.self
        let tokenRules = try VerifyFixture.rules(#"verify: { token: ["tok-old-SECRET", "tok-new-SECRET"], allow_from: "203.0.113.0/24", methods: POST }"#)
        let hmacRules = try VerifyFixture.rules("verify: { signature: { scheme: hmac, header: X-Signature, secret: \(Self.hmacSecret) } }")
        let webhookRules = try VerifyFixture.rules(
            "verify: { signature: { scheme: standard-webhooks, secret: [\"\(signature.secret)\", \"\(signature.rotatedSecret)\"] } }")
        let sentToken = "sent-TOKEN-guess"
        let cases: [(VerificationRules, Request)] = [
            (tokenRules, VerifyFixture.request(query: "token=\(sentToken)")),
            (tokenRules, VerifyFixture.request(query: "token=tok-new-SECRET", headers: ["X-Listener-Token": sentToken])),
            (tokenRules, VerifyFixture.request(headers: ["Authorization": "Bearer \(sentToken)"])),
            (tokenRules, VerifyFixture.request(remote: "198.51.100.1", query: "token=\(sentToken)")),
            (tokenRules, VerifyFixture.request(remote: sentToken, query: "token=tok-new-SECRET")),
            (tokenRules, VerifyFixture.request(method: sentToken, query: "token=tok-new-SECRET")),
            (hmacRules, VerifyFixture.request(headers: ["X-Signature": sentToken], body: signature.body)),
            (hmacRules, VerifyFixture.request(headers: ["X-Signature": signature.hmacSHA1Hex], body: signature.body)),
            (webhookRules, VerifyFixture.request(headers: signature.headers(signature: sentToken), body: signature.body)),
            (webhookRules, VerifyFixture.request(headers: signature.headers(signature: "v1," + signature.bodySignature), body: "tampered")),
        ]
        var seen = 0
        for (rules, request) in cases {
            let failure = try #require(VerifyFixture.failure(rules.verify(request, now: signature.bodyTimestamp)))
            seen += 1
            let forbidden = Self.tokens + [Self.hmacSecret, sentToken, signature.secret, signature.rotatedSecret,
                                           String(signature.secret.dropFirst(6)), signature.bodySignature]
            for value in forbidden {
                #expect(!failure.description.contains(value), "\(failure.description) quotes \(value)")
            }
            #expect(failure.description.hasPrefix("verify.\(failure.rule.rawValue): "))
        }
        #expect(seen == cases.count)
    }
}
