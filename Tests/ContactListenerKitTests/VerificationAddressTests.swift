import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP

@Suite("Verification: allow_from and trusted proxies")
struct VerificationAddressTests {
    /// (allow_from as YAML, REMOTE_ADDR, accepted?).
    static let allowCases: [(String, String, Bool)] = [
        ("[203.0.113.7/32]", "203.0.113.7", true),
        ("[203.0.113.7/32]", "203.0.113.8", false),
        ("[203.0.113.7]", "203.0.113.7", true),
        ("[203.0.113.7]", "203.0.113.6", false),
        ("[203.0.113.0/24]", "203.0.113.0", true),
        ("[203.0.113.0/24]", "203.0.113.255", true),
        ("[203.0.113.0/24]", "203.0.114.0", false),
        ("[203.0.113.0/24]", "203.0.112.255", false),
        ("[0.0.0.0/0]", "198.51.100.1", true),
        ("[0.0.0.0/0]", "255.255.255.255", true),
        ("[0.0.0.0/0]", "2001:db8::1", false),
        ("[2001:db8::/32]", "2001:db8::1", true),
        ("[2001:db8::/32]", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("[2001:db8::/32]", "2001:db9::1", false),
        ("[2001:db8::/32]", "203.0.113.7", false),
        ("[2001:db8::1/128]", "2001:db8::1", true),
        ("[2001:db8::1/128]", "2001:0DB8:0000:0000:0000:0000:0000:0001", true),
        ("[2001:db8::1/128]", "2001:db8::2", false),
        ("[\"2001:db8:0:0:8000::/65\"]", "2001:db8::8000:0:0:1", true),
        ("[\"2001:db8:0:0:8000::/65\"]", "2001:db8::7fff:0:0:1", false),
        ("[\"::/0\"]", "2001:db8::1", true),
        ("[\"::/0\"]", "203.0.113.7", true),
        // IPv4-mapped IPv6 clients match IPv4 ranges, and IPv4-mapped ranges match IPv4 clients.
        ("[203.0.113.0/24]", "::ffff:203.0.113.9", true),
        ("[203.0.113.0/24]", "::FFFF:cb00:7109", true),
        ("[203.0.113.0/24]", "::ffff:203.0.114.9", false),
        ("[\"::ffff:203.0.113.0/120\"]", "203.0.113.9", true),
        ("[\"::ffff:0:0/96\"]", "198.51.100.1", true),
        ("[\"::ffff:0:0/96\"]", "2001:db8::1", false),
        // IPv4-compatible (::a.b.c.d) is not IPv4-mapped.
        ("[203.0.113.0/24]", "::203.0.113.9", false),
        ("[10.0.0.0/8, \"2001:db8::/32\", 203.0.113.7]", "203.0.113.7", true),
        ("[10.0.0.0/8, \"2001:db8::/32\", 203.0.113.7]", "10.255.0.1", true),
        ("[10.0.0.0/8, \"2001:db8::/32\", 203.0.113.7]", "11.0.0.1", false),
        ("203.0.113.0/24", "203.0.113.1", true),
        ("[\" 203.0.113.0/24 \"]", " 203.0.113.1 ", true),
    ]

    @Test("allow_from ranges", arguments: allowCases)
    func allowFrom(ranges: String, remote: String, accepted: Bool) throws {
        let rules = try VerifyFixture.rules("verify: { allow_from: \(ranges) }")
        let outcome = rules.verify(VerifyFixture.request(remote: remote), now: 0)
        if accepted {
            #expect(VerifyFixture.accepted(outcome)?.clientAddress == remote.trimmingCharacters(in: " "))
        } else {
            let failure = try #require(VerifyFixture.failure(outcome))
            #expect(failure.status == 403)
            #expect(failure.rule == .allowFrom)
        }
    }

    /// REMOTE_ADDR values that are no IP address: refused, never a crash or a match.
    static let garbage: [String?] = [
        nil, "", "   ", "not-an-ip", "203.0.113.7\u{0}", "203.0.113.7\u{0}junk", "203.0.113.7:80", "[203.0.113.7]",
        "203.0.113", "203.0.113.7.1", "999.0.113.7", "0203.0.113.7", "203.0.113.7/32", "fe80::1%eth0",
        "2001:db8:::1", "::ffff:203.0.113", "é", String(repeating: "1", count: 10_000),
        String(repeating: "2001:db8::", count: 1000), "\u{FFFD}203.0.113.7",
    ]

    @Test("garbage REMOTE_ADDR is refused", arguments: garbage)
    func garbageRemote(remote: String?) throws {
        let rules = try VerifyFixture.rules(#"verify: { allow_from: ["0.0.0.0/0", "::/0"] }"#)
        let failure = try #require(VerifyFixture.failure(rules.verify(VerifyFixture.request(remote: remote), now: 0)))
        #expect(failure.status == 403)
        #expect(failure.rule == .allowFrom)
        #expect(!failure.description.contains("junk"))
    }

    @Test("allow_from: any admits every address, and still no garbage", arguments: ["203.0.113.9", "10.0.0.1", "::1", "2001:db8::7", "::ffff:192.0.2.1", "0.0.0.0"])
    func allowFromAnyAcceptsEveryAddress(remote: String) throws {
        let rules = try VerifyFixture.rules("verify: { methods: [POST], allow_from: any }")
        #expect(VerifyFixture.accepted(rules.verify(VerifyFixture.request(remote: remote), now: 0))?.clientAddress == remote)
        #expect(VerifyFixture.failure(rules.verify(VerifyFixture.request(remote: "garbage"), now: 0))?.status == 403)
    }

    @Test func spoofedForwardedForFromAnUntrustedPeerIsIgnored() throws {
        let rules = try VerifyFixture.rules(#"verify: { allow_from: 203.0.113.0/24, trusted_proxies: [127.0.0.1] }"#)
        let request = VerifyFixture.request(remote: "198.51.100.1", headers: ["X-Forwarded-For": "203.0.113.7"])
        let failure = try #require(VerifyFixture.failure(rules.verify(request, now: 0)))
        #expect(failure.description == "verify.allow_from: client address 198.51.100.1 is not in an allowed range")
        // Without trusted proxies at all, the header means nothing either.
        let noProxies = try VerifyFixture.rules(#"verify: { allow_from: 203.0.113.0/24 }"#)
        #expect(VerifyFixture.failure(noProxies.verify(request, now: 0))?.status == 403)
        // And an allowed peer stays the client whatever the header claims.
        let allowedPeer = VerifyFixture.request(remote: "203.0.113.1", headers: ["X-Forwarded-For": "198.51.100.1"])
        #expect(VerifyFixture.accepted(rules.verify(allowedPeer, now: 0))?.clientAddress == "203.0.113.1")
    }

    /// (REMOTE_ADDR, X-Forwarded-For or nil, the client address decided on).
    static let proxyCases: [(String, String?, String)] = [
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
        ("127.0.0.1", "198.51.100.9, 203.0.113.7", "203.0.113.7"),
        // Trusted hops are skipped from the right.
        ("127.0.0.1", "198.51.100.9, 203.0.113.7, 10.1.2.3", "203.0.113.7"),
        ("127.0.0.1", "198.51.100.9,203.0.113.7,10.1.2.3,10.0.0.1", "203.0.113.7"),
        ("10.9.9.9", "203.0.113.7, 10.1.2.3", "203.0.113.7"),
        ("::1", "2001:db8::7", "2001:db8::7"),
        // A client-supplied left part can't hide the real right-most client.
        ("127.0.0.1", "203.0.113.7, 198.51.100.66", "198.51.100.66"),
        // All trusted: the left-most is the furthest known.
        ("127.0.0.1", "10.0.0.1, 10.0.0.2", "10.0.0.1"),
        // No or empty header: the proxy itself.
        ("127.0.0.1", nil, "127.0.0.1"),
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", " , ", "127.0.0.1"),
        // Ports written by some proxies are dropped.
        ("127.0.0.1", "203.0.113.7:5678", "203.0.113.7"),
        ("127.0.0.1", "[2001:db8::7]:443", "2001:db8::7"),
        ("127.0.0.1", "[2001:db8::7]", "2001:db8::7"),
        // An unparseable hop is the client (and matches no range).
        ("127.0.0.1", "203.0.113.7, unknown", "unknown"),
        ("127.0.0.1", "203.0.113.7, unknown, 10.0.0.1", "unknown"),
        // The peer address itself, IPv4-mapped, is trusted too.
        ("::ffff:127.0.0.1", "203.0.113.7", "203.0.113.7"),
    ]

    @Test("behind a trusted proxy the right-most untrusted hop is the client", arguments: proxyCases)
    func trustedProxy(remote: String, forwarded: String?, client: String) throws {
        // A token, not an allow-list, admits the request, so any resolved client (even one
        // that is not an address) shows in the outcome.
        let rules = try VerifyFixture.rules(#"verify: { trusted_proxies: ["127.0.0.1", "10.0.0.0/8", "::1"], token: t0k }"#)
        var headers: [String: String] = ["X-Listener-Token": "t0k"]
        if let forwarded { headers["X-Forwarded-For"] = forwarded }
        let accepted = try rules.verify(VerifyFixture.request(remote: remote, headers: headers), now: 0).get()
        #expect(accepted.clientAddress == client)
    }

    /// The resolved client is what allow_from checks.
    @Test(arguments: [
        ("203.0.113.7, 10.1.2.3", true),
        ("203.0.113.7, 198.51.100.66", false),
        ("203.0.113.7, unknown", false),
        ("10.0.0.1", false),
    ])
    func allowFromUsesTheForwardedClient(forwarded: String, accepted: Bool) throws {
        let rules = try VerifyFixture.rules(#"verify: { allow_from: 203.0.113.0/24, trusted_proxies: ["127.0.0.1", "10.0.0.0/8"] }"#)
        let outcome = rules.verify(VerifyFixture.request(remote: "127.0.0.1", headers: ["X-Forwarded-For": forwarded]), now: 0)
        #expect((VerifyFixture.accepted(outcome) != nil) == accepted)
    }

    @Test(arguments: [
        ("203.0.113.0/24", "203.0.113.0/24"), ("203.0.113.7", "203.0.113.7/32"), ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:DB8::/32", "2001:db8::/32"), ("::1", "::1/128"), ("::/0", "::/0"), ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
    ])
    func rangeDescription(text: String, description: String) throws {
        #expect(try AddressRange(text).description == description)
    }

    @Test(arguments: ["0.0.0.0", "255.255.255.255", "203.0.113.7", "::", "::1", "2001:db8::7", "fe80::1:2:3:4"])
    func addressRoundTrips(text: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == text)
    }
}
