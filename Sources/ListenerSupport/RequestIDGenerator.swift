import Synchronization

/// Request ids that are unique across processes and cheap: a random per-process prefix
/// plus a counter (CGI mode runs one process per request, FastCGI many requests per process).
package final class RequestIDGenerator: Sendable {
    private let prefix: String
    private let counter = Atomic<UInt64>(0)

    /// A generator with a fresh random prefix.
    package init() {
        var generator = SystemRandomNumberGenerator()
        let random = generator.next() as UInt64
        let text = String(random & 0xFFFF_FFFF_FFFF, radix: 16)
        prefix = String(repeating: "0", count: 12 - text.count) + text
    }

    /// The next id: `<12 hex>-<counter>`.
    package func next() -> String {
        let value = counter.add(1, ordering: .relaxed).newValue
        return "\(prefix)-\(value)"
    }
}
