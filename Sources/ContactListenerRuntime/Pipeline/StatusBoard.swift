import ContactListenerKit
import Metrics
import Prometheus
import Synchronization

/// What the status page shows: uptime, answers by status, requests in flight, recent
/// latencies (for p50/p99) and the last errors. Counters also go to swift-metrics, whose
/// Prometheus backend renders `?prometheus`.
package final class StatusBoard: Sendable {
    /// The Prometheus registry behind `?prometheus`.
    package let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let started = Timestamp.monotonicNanoseconds()
    private let startedAt = Timestamp.now()
    private let inFlight = Atomic<Int>(0)
    private let state = Mutex(State())

    private let duration: Metrics.Timer
    private struct State {
        var byStatus: [Int: Int] = [:]
        /// One swift-metrics counter per status, made once (the factory's lookup takes a lock).
        var counters: [Int: Metrics.Counter] = [:]
        var latencies = [UInt64](repeating: 0, count: 1024)
        var latencyCount = 0
        var errors: [(at: String, status: Int, message: String)] = []
    }

    /// A board with its own registry.
    package init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5),
        ]
        self.factory = factory
        duration = Metrics.Timer(label: "contact_listener_request_duration_seconds", dimensions: [], factory: factory)
    }

    /// Marks a request as started.
    package func begin() { inFlight.add(1, ordering: .relaxed) }

    /// Records a finished request; `error` is its message for a 4xx/5xx.
    package func finish(status: Int, nanoseconds: UInt64, error: String?) {
        inFlight.subtract(1, ordering: .relaxed)
        duration.recordNanoseconds(Int64(nanoseconds))
        let counter = state.withLock { state in
            state.byStatus[status, default: 0] += 1
            state.latencies[state.latencyCount % state.latencies.count] = nanoseconds
            state.latencyCount += 1
            if let error {
                state.errors.append((Timestamp.now(), status, error))
                if state.errors.count > 20 { state.errors.removeFirst() }
            }
            if let counter = state.counters[status] { return counter }
            let counter = Metrics.Counter(label: "contact_listener_requests_total", dimensions: [("status", String(status))], factory: factory)
            state.counters[status] = counter
            return counter
        }
        counter.increment()
    }

    /// A consistent reading of the board.
    package struct Snapshot: Sendable {
        /// When the process started (RFC 3339).
        package var startedAt: String
        /// Seconds since start.
        package var uptimeSeconds: Int
        /// Answers by status code.
        package var byStatus: [(status: Int, count: Int)]
        /// Requests being answered now.
        package var inFlight: Int
        /// Median latency of the recent requests, in milliseconds.
        package var p50: Double
        /// 99th percentile latency of the recent requests, in milliseconds.
        package var p99: Double
        /// The last errors, oldest first.
        package var errors: [(at: String, status: Int, message: String)]
    }

    /// Reads the board.
    package func snapshot() -> Snapshot {
        state.withLock { state in
            let recent = Array(state.latencies.prefix(min(state.latencyCount, state.latencies.count))).sorted()
            func percentile(_ fraction: Double) -> Double {
                guard !recent.isEmpty else { return 0 }
                let index = min(recent.count - 1, Int((Double(recent.count) * fraction).rounded(.up)) - 1)
                return (Double(recent[max(0, index)]) / 10_000).rounded() / 100
            }
            return Snapshot(
                startedAt: startedAt,
                uptimeSeconds: Int((Timestamp.monotonicNanoseconds() - started) / 1_000_000_000),
                byStatus: state.byStatus.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                inFlight: inFlight.load(ordering: .relaxed),
                p50: percentile(0.5), p99: percentile(0.99),
                errors: state.errors)
        }
    }
}
