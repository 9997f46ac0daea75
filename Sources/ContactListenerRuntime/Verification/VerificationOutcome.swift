/// The answer of `VerificationRules.verify`: accepted, with what was decided, or rejected.
import ContactListenerKit
package enum VerificationOutcome: Equatable, Sendable {
    /// Every configured rule passed.
    case accepted(VerifiedRequest)
    /// A rule refused the request; answer with `failure.status` and `failure.description`.
    case rejected(VerificationFailure)

    /// The accepted request, or the failure thrown: for `do`/`catch` style callers.
    package func get() throws(VerificationFailure) -> VerifiedRequest {
        switch self {
        case .accepted(let request): return request
        case .rejected(let failure): throw failure
        }
    }
}
