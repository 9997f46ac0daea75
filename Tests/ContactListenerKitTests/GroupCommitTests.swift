import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP
@testable import ListenerSupport

/// `GroupCommit` hands each submitter the outcome of its own item, commits every item once,
/// and fails exactly the items of a failed batch (and wakes by two conditions).
@Suite("Group commit")
struct GroupCommitTests {
    /// What the commit function saw, from any thread.
    final class Recorder: @unchecked Sendable {
        private let lock = ConditionLock()
        private var batches: [[Int]] = []
        private var outcomes: [Int: Result<Int, GroupFailure>] = [:]

        func record(batch: [Int]) { lock.withLock { batches.append(batch) } }
        func record(item: Int, _ outcome: Result<Int, GroupFailure>) { lock.withLock { outcomes[item] = outcome } }
        var allBatches: [[Int]] { lock.withLock { batches } }
        var allOutcomes: [Int: Result<Int, GroupFailure>] { lock.withLock { outcomes } }
    }

    struct GroupFailure: Error, Equatable {}

    /// Runs `threads` submitters of `perThread` items each; items are `thread * 10_000 + i`.
    static func run(threads: Int, perThread: Int, failWhen: @escaping @Sendable ([Int]) -> Bool) throws -> Recorder {
        let recorder = Recorder()
        let group = GroupCommit<Int, Int> { batch in
            recorder.record(batch: batch)
            return batch.map { failWhen(batch) ? .failure(GroupFailure()) : .success($0 * 2) }
        }
        var workers: [WorkerThread] = []
        for thread in 0..<threads {
            workers.append(try WorkerThread {
                for index in 0..<perThread {
                    let item = thread * 10_000 + index
                    recorder.record(item: item, group.submit(item).mapError { _ in GroupFailure() })
                }
            })
        }
        for worker in workers { worker.join() }
        return recorder
    }

    @Test(arguments: [1, 4, 16])
    func everyItemIsCommittedOnceWithItsOwnOutcome(threads: Int) throws {
        let recorder = try Self.run(threads: threads, perThread: 300) { _ in false }
        let expected = (0..<threads).flatMap { thread in (0..<300).map { thread * 10_000 + $0 } }
        #expect(recorder.allBatches.flatMap { $0 }.sorted() == expected.sorted())
        let outcomes = recorder.allOutcomes
        #expect(outcomes.count == expected.count)
        for item in expected { #expect(outcomes[item] == .success(item * 2)) }
    }

    @Test(arguments: [1, 8])
    func aFailedBatchFailsExactlyItsItems(threads: Int) throws {
        // A batch fails when it holds a multiple of 7; its other items fail with it.
        let recorder = try Self.run(threads: threads, perThread: 200) { batch in batch.contains { $0 % 7 == 0 } }
        let outcomes = recorder.allOutcomes
        for batch in recorder.allBatches {
            let failed = batch.contains { $0 % 7 == 0 }
            for item in batch { #expect(outcomes[item] == (failed ? .failure(GroupFailure()) : .success(item * 2))) }
        }
        #expect(recorder.allBatches.flatMap { $0 }.count == threads * 200)
    }
}
