/// Why a request failed verification: the rule, the HTTP status, and a one-line message
/// that is safe to send and log.
///
/// The message never quotes a credential: not the token or signature sent, not a secret.
/// It only ever quotes values checked to be harmless (a parsed IP address, a method made
/// of letters), so a client can't inject text into the log either.
import ContactListenerKit
package struct VerificationFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// A verification rule, spelled as its key under `verify:`.
    package enum Rule: String, Sendable, CaseIterable {
        /// `verify.token`: a shared token.
        case token
        /// `verify.signature`: a MAC over the body.
        case signature
        /// `verify.allow_from`: the client address ranges.
        case allowFrom = "allow_from"
        /// `verify.methods`: the accepted HTTP methods.
        case methods
    }

    /// What exactly went wrong; private so the wording stays in one place.
    private enum Code: Equatable, Sendable {
        case missingToken
        case wrongToken
        case missingSignature(headers: [String])
        case malformedSignature(reason: String)
        case staleSignature(skew: Int, tolerance: Int)
        case wrongSignature
        case unknownClient
        case clientNotAnAddress
        case addressNotAllowed(IPAddress)
        case notLoopback(IPAddress?)
        case unsignedQuery
        case methodNotAllowed(method: String, allowed: [String])
    }

    private let code: Code

    private init(_ code: Code) { self.code = code }

    /// The rule that refused the request.
    package var rule: Rule {
        switch code {
        case .missingToken, .wrongToken: return .token
        case .missingSignature, .malformedSignature, .staleSignature, .wrongSignature, .unsignedQuery: return .signature
        case .unknownClient, .clientNotAnAddress, .addressNotAllowed, .notLoopback: return .allowFrom
        case .methodNotAllowed: return .methods
        }
    }

    /// The HTTP status: 401 without credentials, 403 with wrong ones or from the wrong
    /// address, 405 for a method that isn't accepted.
    package var status: Int {
        switch code {
        case .missingToken, .missingSignature, .unsignedQuery: return 401
        case .methodNotAllowed: return 405
        default: return 403
        }
    }

    /// Whether credentials were missing altogether (the 401 case), as opposed to wrong.
    package var isMissingCredentials: Bool { status == 401 }

    /// The one-line message for the client and the log, starting with the rule's key.
    package var description: String {
        let key = "verify.\(rule.rawValue)"
        switch code {
        case .missingToken:
            return "\(key): no token; send it as ?token=, an X-Listener-Token header or Authorization: Bearer"
        case .wrongToken:
            return "\(key): the token is not one of the configured tokens"
        case .missingSignature(let headers):
            return "\(key): the request is not signed; expected the header\(headers.count == 1 ? "" : "s") \(headers.joined(separator: ", "))"
        case .malformedSignature(let reason):
            return "\(key): malformed signature: \(reason)"
        case .staleSignature(let skew, let tolerance):
            return "\(key): stale signature: webhook-timestamp is \(skew) s from the listener's clock, more than the \(tolerance) s allowed"
        case .wrongSignature:
            return "\(key): the signature does not match the body under any configured secret"
        case .unknownClient:
            return "\(key): the client address is unknown (no REMOTE_ADDR)"
        case .clientNotAnAddress:
            return "\(key): the client address is not an IP address"
        case .addressNotAllowed(let address):
            return "\(key): client address \(address) is not in an allowed range"
        case .notLoopback(let address):
            let client = address.map { "client address \($0)" } ?? "a client without an IP address"
            return "\(key): no verify rule is configured, so only this machine (loopback) may send, not \(client); "
                + "add verify.token (and ?token=… to the platform's URL), or verify.allow_from with the platform's addresses (`any` for every address)"
        case .unsignedQuery:
            return "\(key): a GET carries its data in the query string, which the signature does not cover; have the platform POST a signed body"
        case .methodNotAllowed(let method, let allowed):
            // Quote the method only when it is plainly a method name.
            let shown = method.utf8.count <= 16 && method.utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }) && !method.isEmpty
                ? "method \(method)" : "this method"
            return "\(key): \(shown) is not accepted; send \(allowed.joined(separator: " or "))"
        }
    }

    /// No token was sent (401).
    static let missingToken = VerificationFailure(.missingToken)
    /// A token was sent but isn't configured (403).
    static let wrongToken = VerificationFailure(.wrongToken)
    /// The signature didn't match (403).
    static let wrongSignature = VerificationFailure(.wrongSignature)
    /// No `REMOTE_ADDR`, while an allow-list is configured (403).
    static let unknownClient = VerificationFailure(.unknownClient)
    /// The client address isn't an IP address, so no range can admit it (403).
    static let clientNotAnAddress = VerificationFailure(.clientNotAnAddress)

    /// The signature headers `headers` were missing (401).
    static func missingSignature(headers: [String]) -> VerificationFailure {
        VerificationFailure(.missingSignature(headers: headers))
    }

    /// The signature header couldn't be read (403); `reason` must not quote the header.
    static func malformedSignature(_ reason: String) -> VerificationFailure {
        VerificationFailure(.malformedSignature(reason: reason))
    }

    /// The signed timestamp is `skew` seconds off, beyond `tolerance` (403).
    static func staleSignature(skew: Int, tolerance: Int) -> VerificationFailure {
        VerificationFailure(.staleSignature(skew: skew, tolerance: tolerance))
    }

    /// The client `address` is outside every allowed range (403).
    static func addressNotAllowed(_ address: IPAddress) -> VerificationFailure {
        VerificationFailure(.addressNotAllowed(address))
    }

    /// No rule says who may send and the client is not on loopback (403).
    static func notLoopback(_ address: IPAddress?) -> VerificationFailure {
        VerificationFailure(.notLoopback(address))
    }

    /// A GET under a signature rule: its data would be unsigned (401).
    static let unsignedQuery = VerificationFailure(.unsignedQuery)

    /// `method` isn't among `allowed` (405).
    static func methodNotAllowed(_ method: String, allowed: [String]) -> VerificationFailure {
        VerificationFailure(.methodNotAllowed(method: method, allowed: allowed))
    }
}
