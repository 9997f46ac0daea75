import ContactListenerKit
import ListenerSupport
import Logging
import Synchronization

/// Delivers spooled events to each handler independently: one thread per handler, each
/// claiming due deliveries in batches, recording delivered / failed (retried on the
/// schedule) / dead. A failing handler never holds up another, nor the acknowledgement.
package final class Dispatcher: @unchecked Sendable {
    private let spool: Spool
    private let handlers: [any ContactHandler]
    private let logger: Logger
    private let owner: String
    /// Each rate-limited handler's `rate:`, by name.
    private let rates: [String: DeliveryRate]
    /// Claims made so far: numbers each claim's lease name.
    private let claimsMade = Atomic<Int>(0)
    private let heartbeatThread: BatchLease.ThreadStarter
    private let lock = ConditionLock()
    private var stopping = false
    private var wakeups: UInt64 = 0
    private var threads: [WorkerThread] = []
    private var lastPurge: Int64 = 0

    /// A dispatcher for `handlers` over `spool`; `owner` names this process in leases;
    /// `rates` paces the handlers it names.
    package convenience init(spool: Spool, handlers: [any ContactHandler], logger: Logger, owner: String, rates: [String: DeliveryRate] = [:]) {
        self.init(spool: spool, handlers: handlers, logger: logger, owner: owner, rates: rates, heartbeatThread: BatchLease.heartbeatThread)
    }

    /// The same, with the threads of lease heartbeats started by `heartbeatThread`.
    init(
        spool: Spool, handlers: [any ContactHandler], logger: Logger, owner: String, rates: [String: DeliveryRate] = [:],
        heartbeatThread: @escaping BatchLease.ThreadStarter
    ) {
        self.spool = spool
        self.handlers = handlers
        self.logger = logger
        self.owner = owner
        self.rates = rates
        self.heartbeatThread = heartbeatThread
    }

    /// Starts one delivery thread per handler (FastCGI mode); resumes pending work at once.
    package func start() throws {
        wakeParked()
        for handler in handlers {
            threads.append(try WorkerThread { [self] in run(handler) })
        }
    }

    /// Wakes the delivery threads: new events were stored.
    package func notify() {
        lock.withLock {
            wakeups &+= 1
            lock.broadcast()
        }
    }

    /// Stops the threads after their current batch and waits for them.
    package func stop() {
        lock.withLock {
            stopping = true
            lock.broadcast()
        }
        for thread in threads { thread.join() }
        threads.removeAll()
    }

    /// Delivers whatever is due for every handler until nothing is left or `deadline`
    /// (monotonic ns) passes; for CGI mode and `contact-listener drain`. Returns attempts made.
    @discardableResult
    package func drain(until deadline: UInt64) -> Int {
        wakeParked()
        var attempts = 0
        for handler in handlers {
            while Timestamp.monotonicNanoseconds() < deadline {
                let count = deliverBatch(to: handler)
                if count == 0 { break }
                attempts += count
            }
        }
        return attempts
    }

    private func run(_ handler: any ContactHandler) {
        while true {
            let seen = lock.withLock { wakeups }
            if lock.withLock({ stopping }) { return }
            if deliverBatch(to: handler) > 0 { continue }
            purgeIfDue()
            // Nothing due: sleep until the next retry falls due, new events arrive, or a
            // second passes (another process may have queued work).
            let nextDue = (try? spool.nextDue(handler: handler.name, rate: rates[handler.name])) ?? nil
            let now = Clock.milliseconds()
            let waitMilliseconds = max(1, min(1_000, (nextDue ?? now + 1_000) - now))
            lock.withLock {
                if stopping || wakeups != seen { return }
                lock.wait(milliseconds: waitMilliseconds)
            }
        }
    }

    /// Sets due any parked delivery nothing is ahead of any more (`Spool.wakeParked`).
    private func wakeParked() {
        for handler in handlers {
            do {
                let woken = try spool.wakeParked(handler: handler.name)
                if woken > 0 { logger.warning("woke deliveries parked behind none", metadata: ["handler": .string(handler.name), "count": .stringConvertible(woken)]) }
            } catch {
                logger.warning("spool wake-up of parked deliveries failed", metadata: ["handler": .string(handler.name), "error": .string("\(error)")])
            }
        }
    }

    /// Deletes delivered events past `retention`, at most once an hour (any thread may do it).
    private func purgeIfDue() {
        let now = Clock.milliseconds()
        let due = lock.withLock { () -> Bool in
            if now - lastPurge < 3_600_000 { return false }
            lastPurge = now
            return true
        }
        guard due else { return }
        wakeParked()
        do {
            let purged = try spool.purgeDelivered(receivedBefore: now - spool.configuration.retention)
            if purged > 0 { logger.info("purged delivered events past retention", metadata: ["count": .stringConvertible(purged)]) }
        } catch {
            logger.warning("spool purge failed", metadata: ["error": .string("\(error)")])
        }
    }

    /// Claims one batch for `handler`, delivers it and records the outcomes; returns its size.
    private func deliverBatch(to handler: any ContactHandler) -> Int {
        // Each claim leases in a name of its own: only the claim that still holds a lease may
        // record its outcome, even against a later claim of this same process.
        let leaseOwner = "\(owner).\(claimsMade.add(1, ordering: .relaxed).newValue)"
        // Read before the claim (which reads the clock again once it holds the write lock):
        // the lease is believed to end no later than it does.
        let claimedAt = Clock.leaseMilliseconds()
        let claims: [Spool.Claim]
        do {
            claims = try spool.claim(handler: handler.name, owner: leaseOwner, limit: spool.configuration.batchSize, rate: rates[handler.name])
        } catch {
            logger.error("spool claim failed", metadata: ["handler": .string(handler.name), "error": .string("\(error)")])
            return 0
        }
        if claims.isEmpty { return 0 }
        // The heartbeat keeps the lease while the handler works through the batch (a slow CRM
        // can take longer than one lease). Without it the lease would run out mid-batch and
        // another process deliver alongside: then nothing is delivered, and the claims go back.
        let lease = BatchLease(spool: spool, handler: handler.name, owner: leaseOwner, eventIDs: claims.map(\.eventID), claimedAt: claimedAt)
        do {
            try lease.startHeartbeat(on: heartbeatThread)
        } catch {
            logger.error("can't start the lease heartbeat: the batch goes back undelivered", metadata: [
                "handler": .string(handler.name), "count": .stringConvertible(claims.count), "error": .string("\(error)"),
            ])
            release(claims.map(\.eventID), of: handler, owner: leaseOwner)
            return 0
        }
        var deliveries: [Delivery] = []
        var results: [(eventID: Int64, attempts: Int, result: Spool.AttemptResult)] = []
        var positions: [Int] = []
        for (index, claim) in claims.enumerated() {
            var delivery: Delivery
            if handler.needsEvent {
                do {
                    delivery = Delivery(event: try ContactEvent(storedJSON: claim.json), json: claim.json, inDoubt: claim.inDoubt)
                } catch {
                    results.append((claim.eventID, claim.attempts, .failed("stored event can't be read: \(error)", permanent: true)))
                    continue
                }
            } else {
                delivery = Delivery(storedJSON: claim.json, requestID: claim.requestID, inDoubt: claim.inDoubt)
            }
            delivery.lease = BatchLease.Ticket(lease: lease, eventID: claim.eventID)
            deliveries.append(delivery)
            positions.append(index)
        }
        let outcomes = deliveries.isEmpty ? [] : handler.handle(batch: deliveries)
        lease.stopHeartbeat()
        var notHanded: [Int64] = []
        for (offset, index) in positions.enumerated() {
            let claim = claims[index]
            let outcome = offset < outcomes.count ? outcomes[offset] : .failure(HandlerError(handler: handler.name, reason: "no result"))
            switch outcome {
            case .success:
                results.append((claim.eventID, claim.attempts, .delivered))
            case .failure(let error) where error is BatchLease.Lost:
                notHanded.append(claim.eventID)
            case .failure(let error) where error is NotAttempted:
                // Recorded with the outcomes, in the transaction that records the pause: given
                // back earlier, another process could claim it before the pause is written.
                results.append((claim.eventID, claim.attempts, .notAttempted(inDoubt: claim.inDoubt)))
            case .failure(let error):
                let handlerError = error as? HandlerError
                let permanent = handlerError?.isPermanent ?? false
                let dead = permanent || claim.attempts + 1 >= spool.configuration.retry.maxAttempts
                logger.log(level: dead ? .error : .warning, dead ? "delivery failed for good: dead letter" : "delivery failed; will retry", metadata: [
                    "handler": .string(handler.name), "spool_id": .stringConvertible(claim.eventID),
                    "attempt": .stringConvertible(claim.attempts + 1), "error": .string("\(error)"),
                ])
                results.append((claim.eventID, claim.attempts, .failed("\(error)", permanent: permanent, retryAfter: handlerError?.retryAfter)))
            }
        }
        if let reason = lease.lost {
            logger.warning("lease lost mid-batch: the rest of the batch is left to the process that took it over", metadata: [
                "handler": .string(handler.name), "reason": .string(reason),
                "not_delivered": .string(notHanded.map(String.init).joined(separator: ",")),
            ])
            release(notHanded, of: handler, owner: leaseOwner)
        }
        do {
            for eventID in try spool.complete(handler: handler.name, owner: leaseOwner, results: results) {
                logger.warning("lease lost: another process took this delivery over, so this attempt's outcome is not recorded", metadata: [
                    "handler": .string(handler.name), "spool_id": .stringConvertible(eventID),
                ])
            }
        } catch {
            // The leases expire and the deliveries are retried (in doubt, so idempotent handlers skip them).
            logger.error("spool update failed", metadata: ["handler": .string(handler.name), "error": .string("\(error)")])
        }
        return claims.count
    }

    /// Gives back the claim's lease on `eventIDs` (those it still holds) without an attempt.
    private func release(_ eventIDs: [Int64], of handler: any ContactHandler, owner leaseOwner: String) {
        do {
            try spool.release(handler: handler.name, owner: leaseOwner, eventIDs: eventIDs)
        } catch {
            logger.warning("spool release failed: the deliveries wait for their lease to run out", metadata: [
                "handler": .string(handler.name), "error": .string("\(error)"),
            ])
        }
    }
}
