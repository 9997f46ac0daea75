import ContactListenerKit
import Logging

/// Without a spool: the handlers take each event before the answer (`DirectSink`), and a
/// `ReplayGuard` keeps a replay of a stored event (same transaction id or `webhook-id`
/// within the window) from reaching them twice.
struct GuardedSink: EventSink {
    /// The handlers.
    let direct: DirectSink
    /// The keys already stored.
    let replayGuard: ReplayGuard
    /// Where a guard that fails after the handlers took the event is reported.
    let logger: Logger

    /// The handlers' need.
    var needsEvent: Bool { direct.needsEvent }

    /// Claims the key, runs the handlers, then settles the claim.
    func accept(_ delivery: Delivery, dedupKey: @autoclosure () -> String?) throws -> Acceptance {
        guard let key = dedupKey() else { return try direct.accept(delivery, dedupKey: nil) }
        let owner = delivery.event.metadata.requestID
        let claim: ReplayGuard.Claim
        do {
            claim = try replayGuard.claim(key, owner: owner)
        } catch {
            throw HandlerError(handler: "dedup", reason: "\(error)")
        }
        switch claim {
        case .duplicate: return .duplicate
        case .inFlight: throw ConcurrentDuplicate()
        case .claimed: break
        }
        let acceptance: Acceptance
        do {
            acceptance = try direct.accept(delivery, dedupKey: nil)
        } catch {
            try? replayGuard.settle(key, owner: owner, stored: false)
            throw error
        }
        do {
            try replayGuard.settle(key, owner: owner, stored: true)
        } catch {
            // The handlers have the event: the answer stays 200. The claim stays pending and
            // turns stale, after which a replay would be taken again.
            logger.warning("dedup: can't mark the event stored", metadata: ["request_id": .string(owner), "error": .string("\(error)")])
        }
        return acceptance
    }
}

/// Another request holding the same transaction id (or `webhook-id`) is being stored at
/// this moment; this one is not acknowledged (409).
package struct ConcurrentDuplicate: Error, Sendable, CustomStringConvertible {
    /// Creates the error.
    package init() {}

    /// The reason.
    package var description: String {
        "another request with the same transaction id is being stored right now; this one was not stored (send it again if that one failed)"
    }
}
