/// The address a request came from: `REMOTE_ADDR`, or behind a trusted proxy the
/// right-most address in `X-Forwarded-For` that no trusted proxy added.
import ContactListenerKit
struct ClientAddress: Sendable, Equatable {
    /// The address as sent (trimmed, without a port), for the outcome and the log.
    let text: String
    /// The parsed address, or nil when `text` isn't an IP address (such a client matches no range).
    let address: IPAddress?

    /// Wraps `text`, parsing it when it is an IP address.
    init(_ text: String) {
        self.text = text
        self.address = IPAddress(text)
    }

    /// Decides the client address of `request`, or nil when `REMOTE_ADDR` is absent
    /// (a CGI run by hand).
    ///
    /// `X-Forwarded-For` is read only when `REMOTE_ADDR` is a trusted proxy: anyone can
    /// send the header, so from any other peer it is a spoofing attempt and ignored. Each
    /// proxy appends the address it received from, so the list is walked from the right,
    /// past trusted hops, and the first untrusted (or unparseable) entry is the client. When
    /// every entry is trusted, the left-most one is the best there is.
    static func resolve(_ request: Request, trustedProxies: [AddressRange]) -> ClientAddress? {
        guard let remote = request.remoteAddress?.trimmingCharacters(in: " \t"), !remote.isEmpty else { return nil }
        let peer = ClientAddress(remote)
        guard peer.isTrusted(by: trustedProxies), let forwarded = request.header("X-Forwarded-For") else {
            return peer
        }
        var client = peer
        for hop in forwarded.split(separator: ",").reversed() {
            let text = hostPart(of: hop.trimmingCharacters(in: " \t"))
            if text.isEmpty { continue }
            client = ClientAddress(text)
            if !client.isTrusted(by: trustedProxies) { break }
        }
        return client
    }

    /// Whether this address is inside one of `ranges`.
    func isTrusted(by ranges: [AddressRange]) -> Bool {
        guard let address else { return false }
        return ranges.contains { $0.contains(address) }
    }

    /// `entry` without a port: some proxies write `192.0.2.1:5678` or `[2001:db8::1]:443`.
    private static func hostPart(of entry: String) -> String {
        if entry.hasPrefix("["), let close = entry.firstIndex(of: "]") {
            return String(entry[entry.index(after: entry.startIndex)..<close])
        }
        // One colon means IPv4 with a port; an IPv6 address has at least two.
        let colons = entry.utf8.filter { $0 == UInt8(ascii: ":") }.count
        if colons == 1, let colon = entry.firstIndex(of: ":") {
            return String(entry[..<colon])
        }
        return entry
    }
}
