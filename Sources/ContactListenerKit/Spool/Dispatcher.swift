import Logging

/// Delivers spooled events to each handler independently: one thread per handler, each
/// claiming due deliveries in batches, recording delivered / failed (retried on the
/// schedule) / dead. A failing handler never holds up another, nor the acknowledgement.
public final class Dispatcher: @unchecked Sendable {
    private let spool: Spool
    private let handlers: [any ContactHandler]
    private let logger: Logger
    private let owner: String
    private let lock = ConditionLock()
    private var stopping = false
    private var wakeups: UInt64 = 0
    private var threads: [WorkerThread] = []
    private var lastPurge: Int64 = 0

    /// A dispatcher for `handlers` over `spool`; `owner` names this process in leases.
    public init(spool: Spool, handlers: [any ContactHandler], logger: Logger, owner: String) {
        self.spool = spool
        self.handlers = handlers
        self.logger = logger
        self.owner = owner
    }

    /// Starts one delivery thread per handler (FastCGI mode); resumes pending work at once.
    public func start() throws {
        for handler in handlers {
            threads.append(try WorkerThread { [self] in run(handler) })
        }
    }

    /// Wakes the delivery threads: new events were stored.
    public func notify() {
        lock.withLock {
            wakeups &+= 1
            lock.broadcast()
        }
    }

    /// Stops the threads after their current batch and waits for them.
    public func stop() {
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
    public func drain(until deadline: UInt64) -> Int {
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
            let nextDue = (try? spool.nextDue(handler: handler.name)) ?? nil
            let now = Clock.milliseconds()
            let waitMilliseconds = max(1, min(1_000, (nextDue ?? now + 1_000) - now))
            lock.withLock {
                if stopping || wakeups != seen { return }
                lock.wait(milliseconds: waitMilliseconds)
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
        do {
            let purged = try spool.purgeDelivered(receivedBefore: now - spool.configuration.retention)
            if purged > 0 { logger.info("purged delivered events past retention", metadata: ["count": .stringConvertible(purged)]) }
        } catch {
            logger.warning("spool purge failed", metadata: ["error": .string("\(error)")])
        }
    }

    /// Claims one batch for `handler`, delivers it and records the outcomes; returns its size.
    private func deliverBatch(to handler: any ContactHandler) -> Int {
        let claims: [Spool.Claim]
        do {
            claims = try spool.claim(handler: handler.name, owner: owner, limit: spool.configuration.batchSize)
        } catch {
            logger.error("spool claim failed", metadata: ["handler": .string(handler.name), "error": .string("\(error)")])
            return 0
        }
        if claims.isEmpty { return 0 }
        var deliveries: [Delivery] = []
        var results: [(eventID: Int64, attempts: Int, result: Spool.AttemptResult)] = []
        var positions: [Int] = []
        for (index, claim) in claims.enumerated() {
            if !handler.needsEvent {
                deliveries.append(Delivery(storedJSON: claim.json, requestID: claim.requestID, inDoubt: claim.inDoubt))
                positions.append(index)
                continue
            }
            do {
                let event = try ContactEvent(storedJSON: claim.json)
                deliveries.append(Delivery(event: event, json: claim.json, inDoubt: claim.inDoubt))
                positions.append(index)
            } catch {
                results.append((claim.eventID, claim.attempts, .failed("stored event can't be read: \(error)", permanent: true)))
            }
        }
        // Keep the lease alive while the handler works through the batch (a slow CRM can
        // take longer than one lease), so no other process claims these meanwhile.
        let heartbeat = LeaseHeartbeat(spool: spool, handler: handler.name, owner: owner, eventIDs: claims.map(\.eventID))
        let outcomes = deliveries.isEmpty ? [] : handler.handle(batch: deliveries)
        heartbeat.stop()
        for (offset, index) in positions.enumerated() {
            let claim = claims[index]
            let outcome = offset < outcomes.count ? outcomes[offset] : .failure(HandlerError(handler: handler.name, reason: "no result"))
            switch outcome {
            case .success:
                results.append((claim.eventID, claim.attempts, .delivered))
            case .failure(let error):
                let handlerError = error as? HandlerError
                let permanent = handlerError?.permanent ?? false
                let dead = permanent || claim.attempts + 1 >= spool.configuration.retry.maxAttempts
                logger.log(level: dead ? .error : .warning, dead ? "delivery failed for good: dead letter" : "delivery failed; will retry", metadata: [
                    "handler": .string(handler.name), "spool_id": .stringConvertible(claim.eventID),
                    "attempt": .stringConvertible(claim.attempts + 1), "error": .string("\(error)"),
                ])
                results.append((claim.eventID, claim.attempts, .failed("\(error)", permanent: permanent, retryAfter: handlerError?.retryAfter)))
            }
        }
        do {
            try spool.complete(handler: handler.name, results: results)
        } catch {
            // The leases expire and the deliveries are retried (in doubt, so idempotent handlers skip them).
            logger.error("spool update failed", metadata: ["handler": .string(handler.name), "error": .string("\(error)")])
        }
        return claims.count
    }
}

/// Renews a batch's lease every third of the lease period until stopped.
private final class LeaseHeartbeat: @unchecked Sendable {
    private let lock = ConditionLock()
    private var done = false
    private var thread: WorkerThread?

    init(spool: Spool, handler: String, owner: String, eventIDs: [Int64]) {
        let interval = max(50, spool.configuration.lease / 3)
        thread = try? WorkerThread(stackBytes: 256 << 10) { [self] in
            while true {
                let finished = lock.withLock { () -> Bool in
                    if !done { lock.wait(milliseconds: interval) }
                    return done
                }
                if finished { return }
                try? spool.renewLease(handler: handler, owner: owner, eventIDs: eventIDs)
            }
        }
    }

    func stop() {
        lock.withLock {
            done = true
            lock.broadcast()
        }
        thread?.join()
    }
}
