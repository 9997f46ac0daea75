import ContactListenerKit
import ListenerSupport
/// The lease on one claimed batch of deliveries, from its claim until its outcomes are
/// recorded.
///
/// Another process may claim a delivery once its lease has run out, so a heartbeat thread
/// renews the batch's lease every third of the lease period while the handler works. A
/// process can still be stopped past its lease (SIGSTOP, a stall): then another takes the
/// batch over, and this one must hand its handler nothing more of it. `isHeld()` tells,
/// before each delivery is handed over: from the last renewal while that is recent, else
/// (the heartbeat is late: the process was stopped, or the database slow) from a renewal
/// made there and then. A renewal that finds a delivery no longer this claim's, or that
/// fails, loses the lease for good.
final class BatchLease: @unchecked Sendable {
    /// Starts a thread running its closure (`WorkerThread`, or a test's stand-in).
    typealias ThreadStarter = @Sendable (@escaping @Sendable () -> Void) throws(SystemError) -> WorkerThread

    /// A small thread: the heartbeat only sleeps and renews.
    static let heartbeatThread: ThreadStarter = { body throws(SystemError) in try WorkerThread(stackBytes: 256 << 10, body) }

    /// The handler the batch is for.
    let handler: String
    private let length: Int64
    private let count: Int
    private let clock: @Sendable () -> Int64
    private let renewal: @Sendable (Int64) throws -> Int
    // Guards the fields below; the heartbeat sleeps on it.
    private let lock = ConditionLock()
    private var confirmedUntil: Int64
    private var lossReason: String?
    private var stopped = false
    private var thread: WorkerThread?

    /// The lease on `count` deliveries claimed at `claimedAt` for `length` ms; `renewal`
    /// extends it from the lease-clock time it is given and returns how many it renewed.
    init(handler: String, count: Int, length: Int64, claimedAt: Int64,
         clock: @escaping @Sendable () -> Int64 = Clock.leaseMilliseconds, renewal: @escaping @Sendable (Int64) throws -> Int) {
        self.handler = handler
        self.count = count
        self.length = length
        self.clock = clock
        self.renewal = renewal
        confirmedUntil = claimedAt + length
    }

    /// The lease of claim `owner` on `eventIDs` in `spool`, taken at `claimedAt`.
    convenience init(spool: Spool, handler: String, owner: String, eventIDs: [Int64], claimedAt: Int64) {
        self.init(handler: handler, count: eventIDs.count, length: spool.configuration.lease, claimedAt: claimedAt) { now in
            try spool.renewLease(handler: handler, owner: owner, eventIDs: eventIDs, leaseNow: now)
        }
    }

    /// Why the lease was lost, or nil while it is held.
    var lost: String? {
        lock.withLock { lossReason }
    }

    /// True while the lease is this claim's; renews it first when the last renewal is more
    /// than a third of the lease period overdue.
    func isHeld() -> Bool {
        let fresh: Bool? = lock.withLock { lossReason == nil ? clock() < confirmedUntil - length / 3 : nil }
        guard let fresh else { return false }
        return fresh || renew()
    }

    /// Renews the lease now; false, and lost from then on, when it no longer holds every
    /// delivery of the batch or the renewal fails.
    private func renew() -> Bool {
        let now = clock()
        var failure: String?
        do {
            let renewed = try renewal(now)
            if renewed < count { failure = "renewed \(renewed) of \(count) deliveries: another process took the others over" }
        } catch {
            failure = "the renewal failed: \(error)"
        }
        return lock.withLock {
            if lossReason == nil {
                if let failure { lossReason = failure } else { confirmedUntil = max(confirmedUntil, now + length) }
            }
            return lossReason == nil
        }
    }

    /// Starts the heartbeat on a thread from `start`; throws when there is none.
    func startHeartbeat(on start: ThreadStarter) throws(SystemError) {
        let interval = max(10, length / 3)
        thread = try start { [self] in
            while true {
                let finished = lock.withLock { () -> Bool in
                    if !stopped { lock.wait(milliseconds: interval) }
                    return stopped
                }
                if finished || !renew() { return }
            }
        }
    }

    /// Stops the heartbeat and waits for it.
    func stopHeartbeat() {
        lock.withLock {
            stopped = true
            lock.broadcast()
        }
        thread?.join()
        thread = nil
    }

    /// One delivery's share of the lease, carried by its `Delivery`.
    struct Ticket: DeliveryLease {
        /// The batch's lease.
        let lease: BatchLease
        /// The delivery's spool id.
        let eventID: Int64

        /// Throws `Lost` once the lease is no longer held.
        func check() throws(Lost) {
            guard !lease.isHeld() else { return }
            throw Lost(handler: lease.handler, eventID: eventID, reason: lease.lost ?? "")
        }
    }

    /// A delivery not handed to its handler because the lease on it was lost.
    struct Lost: Error, CustomStringConvertible {
        /// The handler.
        let handler: String
        /// The delivery's spool id.
        let eventID: Int64
        /// How the lease was lost.
        let reason: String

        var description: String {
            "handler '\(handler)': spool id \(eventID) not delivered: its lease was lost (\(reason)); the process that took it over delivers it"
        }
    }
}
