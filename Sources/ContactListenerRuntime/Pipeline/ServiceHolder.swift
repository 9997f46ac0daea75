import ContactListenerKit
import ListenerSupport
/// The listener service in force, swappable while requests are in flight: SIGHUP builds a
/// new service from the re-read configuration, new requests take it at once, and the old
/// one is shut down only after its last request is answered (graceful reload).
package final class ServiceHolder: @unchecked Sendable {
    private let lock = ConditionLock()
    private var current: ListenerService
    private var generation = 0
    private var users: [Int: Int] = [:]

    /// Holds `service`.
    package init(_ service: ListenerService) {
        current = service
    }

    /// The service in force now (for reading its configuration).
    package var service: ListenerService { lock.withLock { current } }

    /// Runs `body` with the current pipeline; a reload waits for it to return.
    package func withPipeline<Result>(_ body: (RequestPipeline) -> Result) -> Result {
        let (service, mine) = lock.withLock { () -> (ListenerService, Int) in
            users[generation, default: 0] += 1
            return (current, generation)
        }
        defer {
            lock.withLock {
                users[mine, default: 1] -= 1
                if users[mine] == 0 { users[mine] = nil }
                lock.broadcast()
            }
        }
        return body(service.pipeline)
    }

    /// Puts `service` in force and returns the previous one once no request uses it.
    package func replace(with service: ListenerService) -> ListenerService {
        lock.withLock {
            let previous = current
            let previousGeneration = generation
            current = service
            generation += 1
            while users[previousGeneration] != nil { lock.wait() }
            return previous
        }
    }
}
