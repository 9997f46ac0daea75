/// The `verify.methods` rule: which of GET and POST the listener accepts.
import ContactListenerKit
struct MethodRule: Sendable, Equatable {
    /// The methods accepted, upper-case.
    let allowed: [String]

    /// The methods the listener can serve at all; anything else is a configuration error.
    static let known = ["GET", "POST"]

    /// Reads `verify.methods`: one method or a list, each GET or POST (any case).
    init(node: ConfigNode) throws(ConfigurationError) {
        let items = try node.items()
        guard !items.isEmpty else {
            throw node.error("the list is empty, which would refuse every request; list GET and/or POST, or leave the key out")
        }
        var allowed: [String] = []
        for item in items {
            let method = try item.string().uppercased()
            guard Self.known.contains(method) else {
                throw item.error("unknown method '\(method.prefix(16))'; the listener serves GET and POST")
            }
            if !allowed.contains(method) { allowed.append(method) }
        }
        self.allowed = allowed
    }

    /// Nil when `method` is allowed, else the 405 failure.
    func check(_ method: String) -> VerificationFailure? {
        // HTTP methods are case-sensitive: `post` is not POST.
        allowed.contains(method) ? nil : .methodNotAllowed(method, allowed: allowed)
    }
}
