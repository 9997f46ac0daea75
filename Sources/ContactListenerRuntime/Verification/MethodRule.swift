import ContactListenerKit

/// The `verify.methods` rule: which of GET and POST the listener accepts.
struct MethodRule: VerificationRule, Equatable {
    static let key = "methods"
    static let identifiesSender = false

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

    /// Nil when the method is allowed, else the 405 failure.
    func check(_ request: Request, verdict: inout Verdict) -> VerificationFailure? {
        // HTTP methods are case-sensitive: `post` is not POST.
        allowed.contains(request.method) ? nil : .methodNotAllowed(request.method, allowed: allowed)
    }

    var summary: [String] { ["methods: \(allowed.joined(separator: ", "))"] }
}

extension VerificationFailure.Rule {
    /// `verify.methods`.
    static let methods = Self(rawValue: MethodRule.key)
}

extension VerificationFailure {
    /// `method` isn't among `allowed` (405).
    static func methodNotAllowed(_ method: String, allowed: [String]) -> VerificationFailure {
        // Quote the method only when it is plainly a method name.
        let shown = method.utf8.count <= 16 && method.utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }) && !method.isEmpty
            ? "method \(method)" : "this method"
        return VerificationFailure(.methods, status: 405, "\(shown) is not accepted; send \(allowed.joined(separator: " or "))")
    }
}
