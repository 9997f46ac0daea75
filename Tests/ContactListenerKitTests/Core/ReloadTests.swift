import Foundation
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ListenerSupport

/// A reload in process: `ServiceHolder.replace` waits for the requests in flight on the old
/// service, new requests take the new one at once.
@Suite("core: reload")
struct ReloadTests {
    static func service(_ folder: String, _ name: String) throws -> ListenerService {
        let configuration = try CoreFixture.configuration("handlers:\n  - type: jsonl\n    path: \(name).jsonl\n    fsync: false\n", directory: folder)
        return try ListenerService(configuration: configuration, registry: HandlerRegistry(), logger: CoreFixture.quietLogger, board: nil)
    }

    @Test("the old service is handed back only after its last request, and new requests use the new one")
    func replaceWaitsForRequestsInFlight() throws {
        let folder = try CoreFixture.folder("reload")
        let holder = ServiceHolder(try Self.service(folder, "old"))
        let state = ReloadState()
        // A request that stays inside the old pipeline until told to finish.
        let request = try WorkerThread {
            holder.withPipeline { pipeline in
                state.set(\.entered)
                state.wait(for: \.release)
                _ = pipeline.respond(to: CoreFixture.request(body: "transactionid=in-flight"))
            }
        }
        state.wait(for: \.entered)
        let fresh = try Self.service(folder, "new")
        let swapper = try WorkerThread {
            let previous = holder.replace(with: fresh)
            state.set(\.replaced)
            previous.shutdown()
        }
        // The swap is in force once the holder hands out the new service (replace itself
        // still waits for the request in flight).
        while holder.service !== fresh { usleep(1_000) }
        // A new request goes to the new service while the old one still works.
        holder.withPipeline { _ = $0.respond(to: CoreFixture.request(body: "transactionid=after-reload")) }
        #expect(!state.get(\.replaced), "replace returned while a request was in flight on the old service")
        state.set(\.release)
        request.join()
        swapper.join()
        #expect(state.get(\.replaced))
        let old = (try? String(contentsOfFile: "\(folder)/old.jsonl", encoding: .utf8)) ?? ""
        let new = (try? String(contentsOfFile: "\(folder)/new.jsonl", encoding: .utf8)) ?? ""
        #expect(old.contains("in-flight") && !old.contains("after-reload"), "old: \(old)")
        #expect(new.contains("after-reload") && !new.contains("in-flight"), "new: \(new)")
        holder.service.shutdown()
    }
}

/// Flags the test's threads set and wait for.
final class ReloadState: @unchecked Sendable {
    struct Flags { var entered = false, release = false, replaced = false }
    private let lock = ConditionLock()
    private var flags = Flags()

    func set(_ flag: WritableKeyPath<Flags, Bool>) { lock.withLock { flags[keyPath: flag] = true; lock.broadcast() } }
    func get(_ flag: KeyPath<Flags, Bool>) -> Bool { lock.withLock { flags[keyPath: flag] } }
    func wait(for flag: KeyPath<Flags, Bool>) { lock.withLock { while !flags[keyPath: flag] { lock.wait() } } }
}
