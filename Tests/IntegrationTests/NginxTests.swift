import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// nginx → contact-listener (`serve`), over a unix socket and over loopback TCP: the
/// request table, what is stored, what is refused, and the log.
@Suite("nginx → listener")
struct NginxTests {
    @Test("over a unix socket (0660, group nogroup): the request table")
    func unixSocketTable() async throws {
        let directory = try TestDirectory("nginx-unix")
        defer { directory.remove() }
        let listener = try await ListenerProcess.serve(
            in: directory, config: ListenerConfig(maxBodyBytes: Fixtures.tableMaxBodyBytes))
        defer { listener.process.stop() }

        // The socket is what nginx's `nobody` worker connects to: 0660, group nogroup.
        guard case .unix(let socketPath) = listener.endpoint else { Issue.record("not a unix socket"); return }
        let attributes = try FileManager.default.attributesOfItem(atPath: socketPath)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o660)
        #expect(attributes[.type] as? FileAttributeType == .typeSocket)
        if Network.isRoot { #expect(attributes[.groupOwnerAccountName] as? String == "nogroup") }

        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }
        try await runTable(nginx: nginx, listener: listener, directory: directory)

        let exit = try await listener.stop()
        #expect(exit == .exited(0), "\(listener.process.diagnostics())")
        #expect(!pathExists(socketPath), "the listener left its socket file behind")
    }

    @Test("over TCP on 127.0.0.1: the request table")
    func tcpTable() async throws {
        let directory = try TestDirectory("nginx-tcp")
        defer { directory.remove() }
        let listener = try await ListenerProcess.serve(
            in: directory, config: ListenerConfig(maxBodyBytes: Fixtures.tableMaxBodyBytes), tcp: true)
        defer { listener.process.stop() }
        #expect(listener.log.contains("on=\(listener.endpoint.listen)"), "the log names the address: \(listener.log)")
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }
        try await runTable(nginx: nginx, listener: listener, directory: directory)
        let exit = try await listener.stop()
        #expect(exit == .exited(0), "\(listener.process.diagnostics())")
    }
}

/// Sends every row of `Fixtures.table` in order and checks answers, stored lines and log.
func runTable(nginx: Nginx, listener: ListenerProcess, directory: TestDirectory) async throws {
    let client = try CurlClient(port: nginx.port, directory: directory)
    var requestIDs: [String: String] = [:]  // case name → request_id of a 200
    for row in Fixtures.table {
        let response = try await client.send(row.request)
        #expect(response.status == row.status, "\(row.name): \(response)\n\(nginx.diagnostics())")
        #expect(response.headers["content-type"] == "application/json", "\(row.name): \(response.headers)")
        let body = try response.json()
        switch row.expected {
        case .stored(let transactionID, _, _):
            #expect(body["ok"] as? Bool == true, "\(row.name): \(response)")
            if let transactionID {
                #expect(body["transactionid"] as? String == transactionID, "\(row.name): \(response)")
            } else {
                #expect(body["transactionid"] is NSNull, "\(row.name): \(response)")
            }
            let requestID = try #require(body["request_id"] as? String, "\(row.name): no request_id in \(response)")
            requestIDs[row.name] = requestID
        case .rejected(_, let mentioning):
            #expect(body["ok"] as? Bool == false, "\(row.name): \(response)")
            let error = body["error"] as? String ?? ""
            #expect(error.contains(mentioning), "\(row.name): the error should name \(mentioning): \(error)")
        }
    }

    // Exactly one line per accepted request, in order; nothing for the refused ones.
    let lines = listener.storedLines
    let accepted = Fixtures.table.filter { $0.status == 200 }
    try #require(lines.count == accepted.count, "stored \(lines.count) lines, expected \(accepted.count):\n\(lines.joined(separator: "\n"))")
    for (row, line) in zip(accepted, lines) {
        guard case .stored(_, let event, let mode) = row.expected else { continue }
        try expectStoredLine(line, equals: event, requestID: requestIDs[row.name], method: row.request.method,
                             mode: mode, remoteAddress: "127.0.0.1")
    }
    for refused in ["tx-put", "tx-text", "tx-malformed", "tx-too-large"] {
        #expect(!lines.contains { $0.contains(refused) }, "refused request \(refused) was stored")
    }

    // One log line per request, with its status, in order.
    let log = listener.requestLog
    #expect(log.map(\.status) == Fixtures.table.map(\.status), "request log:\n\(log.map(\.line).joined(separator: "\n"))")
    #expect(log.map(\.method) == Fixtures.table.map(\.request.method))
    for (name, requestID) in requestIDs {
        #expect(log.contains { $0.requestID == requestID && $0.status == 200 }, "\(name): request_id \(requestID) not in the log")
    }
}
