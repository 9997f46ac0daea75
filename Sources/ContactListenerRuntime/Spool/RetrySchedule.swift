/// When failed deliveries are tried again: a list of delays after the first attempt, with
/// jitter so that a backlog doesn't hit a recovering backend all at once.
import ContactListenerKit
package struct RetrySchedule: Sendable, Equatable {
    /// Delays in milliseconds: retry i waits `delays[i-1]` after the i-th failure.
    package var delays: [Int64]
    /// The fraction by which each delay may vary either way (0.1 = ±10%).
    package var jitter: Double

    /// Svix's schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts in all).
    package static let `default` = RetrySchedule(
        delays: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000], jitter: 0.1)

    /// Creates a schedule.
    package init(delays: [Int64], jitter: Double) {
        self.delays = delays
        self.jitter = jitter
    }

    /// All attempts, the first included.
    package var maxAttempts: Int { delays.count + 1 }

    /// The delay before the next attempt after `attempts` failed ones, or nil when the
    /// delivery is now a dead letter.
    package func delay(afterAttempts attempts: Int) -> Int64? {
        guard attempts >= 1, attempts <= delays.count else { return nil }
        let base = Double(delays[attempts - 1])
        let factor = jitter > 0 ? Double.random(in: (1 - jitter)...(1 + jitter)) : 1
        return Int64(base * factor)
    }
}
