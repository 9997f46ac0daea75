/// The `secret` of a signature scheme: one secret or a list, all accepted, so a sender
/// can switch to a new secret while the old one still verifies.
import ContactListenerKit
enum SigningSecrets {
    /// The secrets under `node`'s `secret` key, each turned into key bytes by `key`, which
    /// returns a reason when a secret is unusable.
    ///
    /// Errors name the element (`verify.signature.secret[1]`) but never quote the value.
    static func read(
        _ node: ConfigNode, key makeKey: (String) -> Result<[UInt8], SecretError>
    ) throws(ConfigurationError) -> [[UInt8]] {
        guard let secretNode = node["secret"] else {
            throw node.error("'secret' is required (write \"${SIGNING_SECRET}\" to take it from the environment)")
        }
        let items = try secretNode.items()
        guard !items.isEmpty else { throw secretNode.error("the list is empty; give at least one secret") }
        var keys: [[UInt8]] = []
        for item in items {
            let text = try item.string()
            guard !text.isEmpty else { throw item.error("the secret is empty") }
            switch makeKey(text) {
            case .success(let key): keys.append(key)
            case .failure(let error): throw item.error(error.reason)
            }
        }
        return keys
    }

    /// Why a secret can't be used; the reason never quotes the secret.
    struct SecretError: Error, Sendable {
        /// What is wrong and what to write instead.
        let reason: String
    }
}
