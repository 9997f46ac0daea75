import Foundation
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP

/// The replay guard's states, driven with explicit times: what a second request with the
/// same key is told while the first runs, after it stored, after it failed, and once the
/// window or a stale claim has passed.
@Suite("replay guard (deduplication without a spool)")
struct ReplayGuardTests {
    /// One step: who acts at what time (ms), and what claiming answers (settle steps
    /// answer `.claimed`).
    enum Step {
        case claim(owner: String, at: Int64, expect: ReplayGuard.Claim)
        case stored(owner: String, at: Int64)
        case failed(owner: String, at: Int64)
    }

    static let window: Int64 = 60_000
    static let stale = ReplayGuard.staleClaim

    static let scenarios: [(String, [Step])] = [
        ("a stored key is a duplicate within the window, new after it", [
            .claim(owner: "a", at: 0, expect: .claimed), .stored(owner: "a", at: 10),
            .claim(owner: "b", at: 20, expect: .duplicate), .claim(owner: "c", at: 10 + window, expect: .duplicate),
            .claim(owner: "d", at: 11 + window, expect: .claimed),
        ]),
        ("while the first is in flight the second is told so, not acknowledged", [
            .claim(owner: "a", at: 0, expect: .claimed), .claim(owner: "b", at: 5, expect: .inFlight),
            .stored(owner: "a", at: 10), .claim(owner: "b", at: 15, expect: .duplicate),
        ]),
        ("a failed store releases the key", [
            .claim(owner: "a", at: 0, expect: .claimed), .failed(owner: "a", at: 5),
            .claim(owner: "b", at: 6, expect: .claimed), .stored(owner: "b", at: 7), .claim(owner: "c", at: 8, expect: .duplicate),
        ]),
        ("a claim never settled (the process died) turns stale and is taken over", [
            .claim(owner: "a", at: 0, expect: .claimed), .claim(owner: "b", at: stale, expect: .inFlight),
            .claim(owner: "b", at: stale + 1, expect: .claimed),
            // The dead owner's late settle changes nothing: the key is b's now.
            .failed(owner: "a", at: stale + 2), .claim(owner: "c", at: stale + 3, expect: .inFlight),
            .stored(owner: "b", at: stale + 4), .claim(owner: "c", at: stale + 5, expect: .duplicate),
        ]),
    ]

    @Test("claims and settles", arguments: scenarios)
    func scenario(name: String, steps: [Step]) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let replayGuard = try ReplayGuard(path: "\(folder)/dedup.db", window: Self.window)
        defer { replayGuard.close() }
        for (index, step) in steps.enumerated() {
            switch step {
            case .claim(let owner, let at, let expected):
                let claim = try replayGuard.claim("key-1", owner: owner, now: at)
                #expect(claim == expected, "\(name), step \(index): \(owner) at \(at) got \(claim)")
            case .stored(let owner, let at):
                try replayGuard.settle("key-1", owner: owner, stored: true, now: at)
            case .failed(let owner, let at):
                try replayGuard.settle("key-1", owner: owner, stored: false, now: at)
            }
        }
    }

    @Test("keys are kept in the file: a second guard (another CGI process) sees them")
    func sharedAcrossProcesses() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try ReplayGuard(path: "\(folder)/dedup.db", window: Self.window)
        #expect(try first.claim("k", owner: "a", now: 0) == .claimed)
        try first.settle("k", owner: "a", stored: true, now: 1)
        first.close()
        let second = try ReplayGuard(path: "\(folder)/dedup.db", window: Self.window)
        defer { second.close() }
        #expect(try second.claim("k", owner: "b", now: 2) == .duplicate)
        #expect(try second.claim("other", owner: "b", now: 2) == .claimed)
    }
}

/// A long-lived process (`deferSettles`) writes "stored" in the next transaction instead of
/// one of its own: its own claims must see it at once, another process once it is flushed
/// (within `settleDelay`), a reopened file after `close`; a released key is written at once.
@Suite("replay guard: settles that wait for the next transaction")
struct ReplayGuardDeferredSettleTests {
    enum Case: String, CaseIterable, Sendable {
        case ownClaimSeesIt, otherProcessAfterFlush, closeWritesThem, releaseIsImmediate
    }

    @Test(arguments: Case.allCases)
    func deferred(_ testCase: Case) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = "\(folder)/dedup.db"
        let first = try ReplayGuard(path: path, window: 60_000)
        try first.deferSettles()
        let other = try ReplayGuard(path: path, window: 60_000)
        defer { other.close() }
        #expect(try first.claim("k", owner: "a", now: 0) == .claimed)
        switch testCase {
        case .ownClaimSeesIt:
            try first.settle("k", owner: "a", stored: true, now: 10)
            #expect(try first.claim("k", owner: "b", now: 20) == .duplicate)
            first.close()
        case .otherProcessAfterFlush:
            try first.settle("k", owner: "a", stored: true, now: 10)
            // Until the flush the other process sees a request in flight (409), never a new key.
            var seen = try other.claim("k", owner: "b", now: 20)
            let deadline = Date().addingTimeInterval(5)
            while seen == .inFlight && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.01)
                seen = try other.claim("k", owner: "b", now: 20)
            }
            #expect(seen == .duplicate, "the waiting settle was not flushed: \(seen)")
            first.close()
        case .closeWritesThem:
            try first.settle("k", owner: "a", stored: true, now: 10)
            first.close()
            #expect(try other.claim("k", owner: "b", now: 20) == .duplicate)
        case .releaseIsImmediate:
            try first.settle("k", owner: "a", stored: false, now: 10)
            #expect(try other.claim("k", owner: "b", now: 20) == .claimed)
            first.close()
        }
    }
}
