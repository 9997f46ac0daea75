import Foundation
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP

/// What `JSONLinesHandler` does with the file it finds: its first write checks the byte just
/// before it, and when an earlier writer left the file mid-line, writes its line again on a
/// line of its own (the fragment and the glued copy make one line of invalid JSON).
@Suite("JSON lines handler: the file's last line")
struct JSONLinesHandlerTests {
    static let event = #"{"transactionid":"tx-1","meta":{"request_id":"req-1"}}"#

    static let cases: [(name: String, before: String, after: String)] = [
        ("new file", "", event + "\n"),
        ("whole lines before", #"{"a":1}"# + "\n", #"{"a":1}"# + "\n" + event + "\n"),
        ("mid-line before", #"{"transactionid":"tx-0","par"#, #"{"transactionid":"tx-0","par"# + event + "\n" + event + "\n"),
    ]

    @Test(arguments: cases, [false, true])
    func firstWrite(_ example: (name: String, before: String, after: String), fsync: Bool) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jsonl-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/events.jsonl"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if !example.before.isEmpty { try Data(example.before.utf8).write(to: URL(fileURLWithPath: path)) }

        let handler = try JSONLinesHandler(name: "jsonl", path: path, fsync: fsync)
        try handler.handle(Delivery(storedJSON: Array(Self.event.utf8), requestID: "req-1", inDoubt: false))
        try handler.handle(Delivery(storedJSON: Array(Self.event.utf8), requestID: "req-1", inDoubt: false))
        handler.close()

        // The second write is never doubled: only the first checks.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == example.after + Self.event + "\n", "\(example.name), fsync \(fsync)")
        let valid = text.split(separator: "\n").filter { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil }
        #expect(valid.filter { $0 == Self.event }.count == 2, "both events as whole, valid lines")
    }

    /// A batch after a fragment: only its first line is glued, so only that one goes again
    /// (the disk-full test's retried batch: a copy of the others would be a duplicate).
    @Test func batchAfterMidLine() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jsonl-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/events.jsonl"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let fragment = #"{"transactionid":"tx-0","par"#
        try Data(fragment.utf8).write(to: URL(fileURLWithPath: path))
        let lines = (1...3).map { #"{"transactionid":"tx-\#($0)"}"# }
        let handler = try JSONLinesHandler(name: "jsonl", path: path, fsync: true)
        let results = handler.handle(batch: lines.map { Delivery(storedJSON: Array($0.utf8), requestID: $0, inDoubt: false) })
        handler.close()
        #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == fragment + lines.joined(separator: "\n") + "\n" + lines[0] + "\n")
    }

    /// A redelivery in doubt finds the event's line already in the file and adds none, however
    /// deep the event: the line is read as the spool reads its events back, not with a
    /// request's default limits.
    @Test(arguments: [8, 100, FormLimits.depthCeiling])
    func redeliveryOfADeepEvent(levels: Int) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jsonl-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/events.jsonl"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let line = #"{"transactionid":"tx-deep","extra":{"x":"# + String(repeating: "[", count: levels) + String(repeating: "]", count: levels)
            + #"},"meta":{"request_id":"req-deep"}}"#
        let handler = try JSONLinesHandler(name: "jsonl", path: path, fsync: true)
        try handler.handle(Delivery(storedJSON: Array(line.utf8), requestID: "req-deep", inDoubt: false))
        try handler.handle(Delivery(storedJSON: Array(line.utf8), requestID: "req-deep", inDoubt: true))
        handler.close()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == line + "\n")
    }

    /// A batch whose spool lease is lost (this process stalled past it, another took the
    /// deliveries over) adds no line: each delivery fails with the lost lease.
    @Test func lostLeaseWritesNothing() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jsonl-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/events.jsonl"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let lease = BatchLease(handler: "jsonl", count: 2, length: 900, claimedAt: 0, clock: { 10_000 }) { _ in 0 }
        let batch = (1...2).map { index in
            var delivery = Delivery(storedJSON: Array(#"{"n":\#(index)}"#.utf8), requestID: "req-\(index)", inDoubt: false)
            delivery.lease = BatchLease.Ticket(lease: lease, eventID: Int64(index))
            return delivery
        }
        let handler = try JSONLinesHandler(name: "jsonl", path: path, fsync: true)
        let results = handler.handle(batch: batch)
        handler.close()
        #expect(try String(contentsOfFile: path, encoding: .utf8).isEmpty)
        #expect(results.allSatisfy { if case .failure(let error) = $0 { error is BatchLease.Lost } else { false } }, "\(results)")
    }

    /// Another writer's large append in flight while a handler starts: the kernel shows the
    /// file's new size page by page, before the line's last bytes are in. A check of the
    /// file's last byte at open saw a line cut short there and added a stray empty line;
    /// the check of the byte before our own write never does.
    @Test func startsWhileAnotherWriterAppends() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jsonl-race-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/events.jsonl"
        let big = Array(#"{"big":""#.utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20) + Array(#""}"#.utf8)
        let bigLines = 30, starts = 300
        let writer = try JSONLinesHandler(name: "big", path: path, fsync: false)
        async let appends: Void = {
            for _ in 0..<bigLines { try writer.handle(Delivery(storedJSON: big, requestID: "big", inDoubt: false)) }
        }()
        for index in 0..<starts {
            let handler = try JSONLinesHandler(name: "small", path: path, fsync: false)
            try handler.handle(Delivery(storedJSON: Array(#"{"small":\#(index)}"#.utf8), requestID: "s\(index)", inDoubt: false))
            handler.close()
        }
        try await appends
        writer.close()

        let lines = try Data(contentsOf: URL(fileURLWithPath: path)).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == bigLines + starts, "\(lines.filter(\.isEmpty).count) empty lines")
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0))) != nil }, "every line is whole JSON")
    }
}
