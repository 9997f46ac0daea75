import ContactListenerKit

/// A handler's `rate:`: at most `count` deliveries per `period`, paced evenly: a token
/// bucket that gains `count` tokens per `period` and holds one, so `190/10s` sends one
/// every 53 ms. A bucket as large as `count` would let 190 go at once and 190 more within
/// the same 10 s, twice what a CRM's window allows; an even pace puts at most `count` in
/// any window of `period`. The bucket lives in the spool (`Spool.claim`), so the FastCGI
/// threads and every CGI process share it.
package struct DeliveryRate: Sendable, Equatable {
    /// Deliveries per period.
    package var count: Int
    /// The period in milliseconds.
    package var period: Int64

    /// A rate of `count` per `period` ms.
    package init(count: Int, period: Int64) {
        self.count = count
        self.period = period
    }

    /// Parses `10/s`, `190/10s`, `300/m`, `5000/1h` (a count, `/`, a duration whose number
    /// may be left out); nil when `text` is none of these.
    package init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let count = Int(parts[0].trimmingCharacters(in: " ")), count > 0, count <= 1_000_000 else { return nil }
        var period = parts[1].trimmingCharacters(in: " ")
        if let first = period.first, first.isLetter { period = "1" + period }
        guard let milliseconds = DurationText.milliseconds(period), milliseconds >= 100, milliseconds <= 86_400_000 else { return nil }
        self.count = count
        self.period = milliseconds
    }

    /// Parses the handler option `node`, naming it in the error.
    package init(node: ConfigNode) throws(ConfigurationError) {
        let text = try node.string()
        guard let rate = DeliveryRate(text) else {
            throw node.error("expected a rate like 10/s, 190/10s or 300/m (at most 1,000,000 per period of 100ms to 1d), got '\(text)'")
        }
        self = rate
    }

    /// The bucket's size: one token, an even pace.
    package static let capacity = 1.0

    /// The bucket's tokens at `now`, from `tokens` at `refilledAt`: refilled at `count` per
    /// `period`, never past `capacity`. A clock that went back refills nothing.
    package func tokens(_ tokens: Double, refilledAt: Int64, now: Int64) -> Double {
        let elapsed = Double(max(0, now - refilledAt))
        return min(Self.capacity, tokens + elapsed * Double(count) / Double(period))
    }

    /// When the bucket, holding `tokens` at `refilledAt`, next holds one whole token.
    package func nextToken(_ tokens: Double, refilledAt: Int64) -> Int64 {
        if tokens >= 1 { return refilledAt }
        return refilledAt + Int64(((1 - tokens) * Double(period) / Double(count)).rounded(.up))
    }
}
