import ContactListenerKit

/// What stands in for `allow_from` when no configured rule says who may send (no token,
/// signature or `allow_from`): only this machine, 127.0.0.0/8 and ::1. A public URL with a
/// forgotten `verify:` takes nothing from the internet (fail closed, SECURITY.md).
struct LoopbackRule: Sendable {
    func check(_ verdict: Verdict) -> VerificationFailure? {
        guard let address = verdict.client?.address, AddressRange.loopback.contains(where: { $0.contains(address) }) else {
            return .notLoopback(verdict.client?.address)
        }
        return nil
    }

    var summary: [String] {
        ["no rule: only loopback clients (127.0.0.0/8, ::1) are accepted, others get 403; add token, signature or allow_from"]
    }
}

extension VerificationFailure {
    /// No rule says who may send and the client is not on loopback (403).
    static func notLoopback(_ address: IPAddress?) -> VerificationFailure {
        let client = address.map { "client address \($0)" } ?? "a client without an IP address"
        return VerificationFailure(.allowFrom, status: 403, "no verify rule is configured, so only this machine (loopback) may send, not \(client); "
            + "add verify.token (and ?token=… to the platform's URL), or verify.allow_from with the platform's addresses (`any` for every address)")
    }
}
