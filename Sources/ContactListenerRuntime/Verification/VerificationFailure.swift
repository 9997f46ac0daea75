import ContactListenerKit

/// Why a request failed verification: the rule, the HTTP status, and a one-line message
/// that is safe to send and log.
///
/// The message never quotes a credential: not the token or signature sent, not a secret.
/// It only ever quotes values checked to be harmless (a parsed IP address, a method made
/// of letters), so a client can't inject text into the log either. Each rule's file makes
/// its own failures (`extension VerificationFailure`), so a new rule touches no other file.
package struct VerificationFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// A verification rule, spelled as its key under `verify:`; each rule's file names its own.
    package struct Rule: RawRepresentable, Hashable, Sendable {
        /// The key under `verify:`.
        package let rawValue: String

        /// The rule called `rawValue`.
        package init(rawValue: String) {
            self.rawValue = rawValue
        }
    }

    /// The rule that refused the request.
    package let rule: Rule
    /// The HTTP status: 401 without credentials, 403 with wrong ones or from the wrong
    /// address, 405 for a method that isn't accepted.
    package let status: Int
    /// What went wrong, after the rule's key.
    private let message: String

    /// A failure of `rule`, answered with `status`; `message` must not quote a credential.
    init(_ rule: Rule, status: Int, _ message: String) {
        self.rule = rule
        self.status = status
        self.message = message
    }

    /// Whether credentials were missing altogether (the 401 case), as opposed to wrong.
    package var isMissingCredentials: Bool { status == 401 }

    /// The one-line message for the client and the log, starting with the rule's key.
    package var description: String { "verify.\(rule.rawValue): \(message)" }
}
