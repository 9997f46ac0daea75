import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP

// Signature rules against vectors computed independently of the code under test, with
// python3's hmac, hashlib and base64 modules, and pasted here as literals:
//
//   key = base64.b64decode(secret[len("whsec_"):])
//   base64.b64encode(hmac.new(key, f"{id}.{ts}.".encode() + body, hashlib.sha256).digest())
//   hmac.new(b"s3cret-hmac", body, hashlib.sha1 / sha256 / sha512).digest().hex()  (and b64encode)
//
// The first Standard Webhooks vector is also the example in Svix's documentation.

@Suite("Verification: signature")
struct VerificationSignatureTests {
    /// Svix's documented example secret, message id, timestamp, body and signature.
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let svixID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    static let svixTimestamp = 1_614_265_330
    static let svixBody = #"{"test": 2432232314}"#
    static let svixSignature = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    /// A form body like the platform's, signed as `msg_2Lq7` at 1700000000 under both secrets.
    static let body = "contact[email]=a%40example.com&transactionid=t-1"
    static let bodyID = "msg_2Lq7"
    static let bodyTimestamp = 1_700_000_000
    static let bodySignature = "528v9DQ4RaHUYU4KGj5JrRO8h4p3ZebJJC6y9N6go0I="
    /// `whsec_` + base64("rotated-secret-key-0123456789abc").
    static let rotatedSecret = "whsec_cm90YXRlZC1zZWNyZXQta2V5LTAxMjM0NTY3ODlhYmM="
    static let rotatedSignature = "FF4LE03Q3fmgFZpboisc0G7bvK3oDb79Ctdg/Dizq0w="

    /// HMACs of `body` under the raw secret `s3cret-hmac`.
    static let hmacSHA1Hex = "310c4c7c2ff9492d367a131f802c22405b0d5300"
    static let hmacSHA1Base64 = "MQxMfC/5SS02ehMfgCwiQFsNUwA="
    static let hmacSHA256Hex = "7a65167d710c2810aeae8898c905ac8299281c0c6bfc219fcfc6e75a15687cab"
    static let hmacSHA256Base64 = "emUWfXEMKBCuroiYyQWsgpkoHAxr/CGfz8bnWhVofKs="
    static let hmacSHA512Hex = "5458ece2fc2a4d8f653c531688d6159fa00d502819ae042870cafae6f3709f29f42ded9f1c0bd7fc489f255416248e38c9f2bf55d18f7b38150e81af5a78bf81"
    static let hmacSHA512Base64 = "VFjs4vwqTY9lPFMWiNYVn6ANUCgZrgQocMr65vNwnyn0Le2fHAvX/EifJVQWJI44yfK/VdGPezgVDoGvWni/gQ=="

    /// Standard Webhooks headers for the form body.
    static func headers(id: String = bodyID, timestamp: String = String(bodyTimestamp), signature: String) -> [String: String] {
        ["webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": signature]
    }

    static func standardRules(_ secrets: String = "\"\(secret)\"", extra: String = "") throws -> VerificationRules {
        try VerifyFixture.rules("verify: { signature: { scheme: standard-webhooks, secret: \(secrets)\(extra) } }")
    }

    // MARK: Standard Webhooks

    @Test func svixDocumentationVector() throws {
        let rules = try Self.standardRules()
        let request = VerifyFixture.request(
            headers: Self.headers(id: Self.svixID, timestamp: String(Self.svixTimestamp), signature: "v1," + Self.svixSignature),
            body: Self.svixBody)
        let accepted = try rules.verify(request, now: Self.svixTimestamp).get()
        #expect(accepted.webhookID == Self.svixID)
    }

    @Test func formBodyVectorExposesTheWebhookID() throws {
        let rules = try Self.standardRules()
        let request = VerifyFixture.request(query: "a=1", headers: Self.headers(signature: "v1," + Self.bodySignature), body: Self.body)
        #expect(try rules.verify(request, now: Self.bodyTimestamp).get()
            == VerifiedRequest(clientAddress: "203.0.113.9", query: "a=1", webhookID: Self.bodyID, bodyIsSigned: true))
    }

    /// (seconds the listener's clock is ahead of the timestamp, accepted?).
    @Test("clock skew of ±300 s is accepted, ±301 s is stale", arguments: [
        (0, true), (300, true), (-300, true), (299, true), (-299, true),
        (301, false), (-301, false), (86_400, false), (-1_700_000_000, false),
    ])
    func clockSkew(skew: Int, accepted: Bool) throws {
        let rules = try Self.standardRules()
        let request = VerifyFixture.request(headers: Self.headers(signature: "v1," + Self.bodySignature), body: Self.body)
        let outcome = rules.verify(request, now: Self.bodyTimestamp + skew)
        if accepted {
            #expect(VerifyFixture.accepted(outcome) != nil)
        } else {
            let failure = try #require(VerifyFixture.failure(outcome))
            #expect(failure.status == 403)
            #expect(failure.rule == .signature)
            #expect(failure.description.contains("stale"))
        }
    }

    @Test func configurableTolerance() throws {
        let rules = try Self.standardRules(extra: ", tolerance_seconds: 10")
        let request = VerifyFixture.request(headers: Self.headers(signature: "v1," + Self.bodySignature), body: Self.body)
        #expect(VerifyFixture.accepted(rules.verify(request, now: Self.bodyTimestamp + 10)) != nil)
        #expect(VerifyFixture.failure(rules.verify(request, now: Self.bodyTimestamp - 11))?.status == 403)
    }

    @Test func staleIsCheckedEvenWhenTheSignatureIsRight() throws {
        // A correctly signed message replayed later must not pass.
        let rules = try Self.standardRules()
        let request = VerifyFixture.request(headers: Self.headers(signature: "v1," + Self.bodySignature), body: Self.body)
        let failure = VerifyFixture.failure(rules.verify(request, now: Self.bodyTimestamp + 3600))
        #expect(failure?.description.contains("stale") == true)
    }

    /// (configured secrets, signature header, accepted?).
    static let rotationCases: [(String, String, Bool)] = [
        ("[\"\(secret)\", \"\(rotatedSecret)\"]", "v1," + bodySignature, true),
        ("[\"\(secret)\", \"\(rotatedSecret)\"]", "v1," + rotatedSignature, true),
        ("[\"\(rotatedSecret)\", \"\(secret)\"]", "v1," + bodySignature, true),
        ("\"\(rotatedSecret)\"", "v1," + rotatedSignature, true),
        ("\"\(rotatedSecret)\"", "v1," + bodySignature, false),
        // The bare base64 part, as the specification's libraries also take it.
        ("\"\(secret.dropFirst(6))\"", "v1," + bodySignature, true),
    ]

    @Test("rotated secrets", arguments: rotationCases)
    func rotation(secrets: String, header: String, accepted: Bool) throws {
        let rules = try Self.standardRules(secrets)
        let request = VerifyFixture.request(headers: Self.headers(signature: header), body: Self.body)
        let outcome = rules.verify(request, now: Self.bodyTimestamp)
        #expect((VerifyFixture.accepted(outcome) != nil) == accepted)
        if !accepted { #expect(VerifyFixture.failure(outcome) == .wrongSignature) }
    }

    /// Signature headers with several entries, any one of which may match.
    @Test("several signatures in one header", arguments: [
        "v1,\(rotatedSignature) v1,\(bodySignature)",
        "v1,\(bodySignature) v1,\(rotatedSignature)",
        "v1a,\(rotatedSignature) v1,\(bodySignature)",
        "v2,abc  v1,\(bodySignature) ",
        "v1,!!! v1,\(bodySignature)",
        "v1,\(bodySignature.dropLast())",  // unpadded base64 is read too
    ])
    func multipleSignatures(header: String) throws {
        let rules = try Self.standardRules()
        let request = VerifyFixture.request(headers: Self.headers(signature: header), body: Self.body)
        #expect(VerifyFixture.accepted(rules.verify(request, now: Self.bodyTimestamp)) != nil)
    }

    /// Malformed headers: 403, and no crash.
    static let malformedCases: [(String, String)] = [
        (String(bodyTimestamp), "garbage"),
        (String(bodyTimestamp), "v1,"),
        (String(bodyTimestamp), "v1,!!!"),
        (String(bodyTimestamp), "v1 \(bodySignature)"),
        (String(bodyTimestamp), bodySignature),
        (String(bodyTimestamp), "v1,AAAA"),
        (String(bodyTimestamp), "v1a,\(bodySignature)"),
        (String(bodyTimestamp), "v1,\(bodySignature)="),
        ("abc", "v1,\(bodySignature)"),
        ("-1700000000", "v1,\(bodySignature)"),
        ("+1700000000", "v1,\(bodySignature)"),
        ("1700000000.0", "v1,\(bodySignature)"),
        ("99999999999999999999999", "v1,\(bodySignature)"),
    ]

    @Test("malformed headers are 403", arguments: malformedCases)
    func malformed(timestamp: String, header: String) throws {
        let rules = try Self.standardRules()
        let request = VerifyFixture.request(headers: Self.headers(timestamp: timestamp, signature: header), body: Self.body)
        let failure = try #require(VerifyFixture.failure(rules.verify(request, now: Self.bodyTimestamp)))
        #expect(failure.status == 403)
        #expect(failure.rule == .signature)
        #expect(failure.description.contains("malformed"))
    }

    /// Each of the three headers missing (or empty): 401.
    @Test("missing headers are 401", arguments: ["webhook-id", "webhook-timestamp", "webhook-signature", "all"])
    func missingHeader(name: String) throws {
        let rules = try Self.standardRules()
        var headers = Self.headers(signature: "v1," + Self.bodySignature)
        if name == "all" { headers = [:] } else { headers[name] = nil }
        let failure = try #require(VerifyFixture.failure(rules.verify(VerifyFixture.request(headers: headers, body: Self.body), now: Self.bodyTimestamp)))
        #expect(failure.status == 401)
        #expect(failure.rule == .signature)
        headers[name] = ""
        #expect(VerifyFixture.failure(rules.verify(VerifyFixture.request(headers: headers, body: Self.body), now: Self.bodyTimestamp))?.status == 401)
    }

    /// Anything signed but changed is 403: the body, the id, the timestamp.
    @Test("tampering is 403", arguments: [
        (bodyID, String(bodyTimestamp), body + "&x=1"),
        ("msg_other", String(bodyTimestamp), body),
        (bodyID, String(bodyTimestamp + 1), body),
        (bodyID, String(bodyTimestamp), ""),
    ])
    func tampering(id: String, timestamp: String, body: String) throws {
        let rules = try Self.standardRules()
        let request = VerifyFixture.request(headers: Self.headers(id: id, timestamp: timestamp, signature: "v1," + Self.bodySignature), body: body)
        #expect(VerifyFixture.failure(rules.verify(request, now: Self.bodyTimestamp)) == .wrongSignature)
        #expect(VerificationFailure.wrongSignature.status == 403)
    }

    // MARK: Plain header HMAC

    /// (algorithm, encoding, prefix, header value): each accepted.
    static let hmacCases: [(String, String, String, String)] = [
        ("sha1", "hex", "", hmacSHA1Hex),
        ("sha1", "base64", "", hmacSHA1Base64),
        ("sha1", "hex", "sha1=", "sha1=" + hmacSHA1Hex),
        ("sha256", "hex", "", hmacSHA256Hex),
        ("sha256", "hex", "", hmacSHA256Hex.uppercased()),
        ("sha256", "hex", "sha256=", "sha256=" + hmacSHA256Hex),
        ("sha256", "hex", "sha256=", "SHA256=" + hmacSHA256Hex),
        ("sha256", "base64", "", hmacSHA256Base64),
        ("sha256", "base64", "sha256=", "sha256=" + hmacSHA256Base64),
        ("sha512", "hex", "", hmacSHA512Hex),
        ("sha512", "base64", "", hmacSHA512Base64),
        ("SHA512", "BASE64", "v0:", "v0:" + hmacSHA512Base64),
    ]

    @Test("hmac scheme: each algorithm, encoding and prefix", arguments: hmacCases)
    func hmac(algorithm: String, encoding: String, prefix: String, value: String) throws {
        let rules = try VerifyFixture.rules("""
            verify:
              signature: { scheme: hmac, header: X-Hub-Signature, algorithm: \(algorithm), encoding: \(encoding), prefix: "\(prefix)", secret: s3cret-hmac }
            """)
        let request = VerifyFixture.request(headers: ["X-Hub-Signature": value], body: Self.body)
        let accepted = try rules.verify(request, now: 0).get()
        #expect(accepted.webhookID == nil)
        // The same header over another body is refused.
        let tampered = VerifyFixture.request(headers: ["X-Hub-Signature": value], body: Self.body + " ")
        #expect(VerifyFixture.failure(rules.verify(tampered, now: 0)) == .wrongSignature)
    }

    /// (header value or nil, expected status): refusals of the default sha256/hex scheme with a `sha256=` prefix.
    static let hmacRefusals: [(String?, Int, String)] = [
        (nil, 401, "not signed"),
        ("", 401, "not signed"),
        (hmacSHA256Hex, 403, "prefix"),
        ("sha1=" + hmacSHA256Hex, 403, "prefix"),
        ("sha256=" + hmacSHA1Hex, 403, "malformed"),
        ("sha256=" + hmacSHA256Base64, 403, "malformed"),
        ("sha256=" + hmacSHA256Hex + "0", 403, "malformed"),
        ("sha256=zz" + hmacSHA256Hex.dropFirst(2), 403, "malformed"),
        ("sha256=" + String(repeating: "0", count: 64), 403, "does not match"),
        ("sha256=" + hmacSHA256Hex.dropLast(2) + "00", 403, "does not match"),
    ]

    @Test("hmac scheme refusals", arguments: hmacRefusals)
    func hmacRefused(value: String?, status: Int, message: String) throws {
        let rules = try VerifyFixture.rules("""
            verify: { signature: { scheme: hmac, header: X-Signature, prefix: "sha256=", secret: s3cret-hmac } }
            """)
        var headers: [String: String] = [:]
        if let value { headers["X-Signature"] = value }
        let failure = try #require(VerifyFixture.failure(rules.verify(VerifyFixture.request(headers: headers, body: Self.body), now: 0)))
        #expect(failure.status == status)
        #expect(failure.rule == .signature)
        #expect(failure.description.contains(message), "\(failure)")
    }

    @Test func hmacSecretRotationAndEnvironment() throws {
        let yaml = #"verify: { signature: { scheme: hmac, header: X-Signature, secret: ["old-secret", "${SIGNING_SECRET}"] } }"#
        let rules = try VerifyFixture.rules(yaml, environment: ["SIGNING_SECRET": "s3cret-hmac"])
        let request = VerifyFixture.request(headers: ["X-Signature": Self.hmacSHA256Hex], body: Self.body)
        #expect(VerifyFixture.accepted(rules.verify(request, now: 0)) != nil)
    }

    // MARK: Encodings

    @Test(arguments: [
        ("", [UInt8]()), ("Zg==", Array("f".utf8)), ("Zm8=", Array("fo".utf8)), ("Zm9v", Array("foo".utf8)),
        ("Zg", Array("f".utf8)), ("Zm8", Array("fo".utf8)), ("-_8=", [0xfb, 0xff]), ("+/8=", [0xfb, 0xff]),
    ])
    func base64Decodes(text: String, bytes: [UInt8]) {
        #expect(Base64.decode(text) == bytes)
    }

    @Test(arguments: ["Z", "Zg=", "Zg===", "Z===", "Zm9v ", " Zm9v", "Zm=9", "Zm\u{0}v", "é", "Zg==Zg=="])
    func base64Rejects(text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test(arguments: [("", [UInt8]()), ("00ff", [0, 255]), ("ABcd", [0xab, 0xcd])])
    func hexDecodes(text: String, bytes: [UInt8]) {
        #expect(Hex.decode(text) == bytes)
    }

    @Test(arguments: ["0", "0g", "0x00", " 00", "ü0"])
    func hexRejects(text: String) {
        #expect(Hex.decode(text) == nil)
    }
}
