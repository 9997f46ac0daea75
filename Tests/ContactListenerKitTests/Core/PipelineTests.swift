import Foundation
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime

/// The request pipeline in process, against a recording sink: one table of requests and
/// what each must answer and hand on. No web server, no spool, no files.
@Suite("core: the pipeline with a recording sink")
struct PipelineTests {
    /// One row: a request, its status, and the transaction id that must reach the sink
    /// (nil: nothing may), or the words the error must contain.
    struct Row: Sendable, CustomStringConvertible {
        var name: String
        var request: Request
        var status: Int
        var stored: String?
        var error: String?
        var description: String { name }
    }

    static let rows: [Row] = [
        Row(name: "form POST", request: CoreFixture.request(body: "transactionid=t-1&contact%5Bemail%5D=a%40b.c"), status: 200, stored: "t-1"),
        Row(name: "GET shortcodes", request: CoreFixture.request(method: "GET", query: "transactionid=t-2&email=a%40b.c", contentType: nil),
            status: 200, stored: "t-2"),
        Row(name: "JSON body", request: CoreFixture.request(contentType: "application/json", body: #"{"transactionid":"t-3","contact":{"email":"a@b.c"}}"#),
            status: 200, stored: "t-3"),
        Row(name: "body wins over query", request: CoreFixture.request(query: "transactionid=from-query", body: "transactionid=from-body"),
            status: 200, stored: "from-body"),
        Row(name: "PUT", request: CoreFixture.request(method: "PUT", body: "transactionid=t-4"), status: 405, error: "method PUT"),
        Row(name: "unknown media type", request: CoreFixture.request(contentType: "text/csv", body: "a,b"), status: 415, error: "text/csv"),
        Row(name: "multipart without boundary", request: CoreFixture.request(contentType: "multipart/form-data", body: "x"),
            status: 400, error: "boundary"),
        Row(name: "multipart, a comma before the boundary, LF line ends",
            request: CoreFixture.request(contentType: "multipart/form-data, boundary=AaB03x",
                                         body: "--AaB03x\nContent-Disposition: form-data; name=\"transactionid\"\n\nt-mp\n--AaB03x--\n"),
            status: 200, stored: "t-mp"),
        Row(name: "multipart, a boundary over 70 characters",
            request: CoreFixture.request(contentType: "multipart/form-data; boundary=\(String(repeating: "b", count: 71))", body: "x"),
            status: 400, error: "1 to 70"),
        Row(name: "multipart, an empty boundary", request: CoreFixture.request(contentType: "multipart/form-data, boundary=", body: "x"),
            status: 400, error: "boundary"),
        Row(name: "an unknown media type with a comma is named without its parameters",
            request: CoreFixture.request(contentType: "Text/CSV, boundary=AaB03x", body: "a,b"), status: 415, error: "'text/csv' is not supported"),
        Row(name: "fields as a string", request: CoreFixture.request(body: "transactionid=t-5&fields=oops"), status: 400, error: "'fields'"),
        Row(name: "from off this machine, no verify rule", request: CoreFixture.request(body: "transactionid=t-6", remote: "203.0.113.9"),
            status: 403, error: "loopback"),
    ]

    @Test("requests, answers and what reaches the sink", arguments: rows)
    func row(_ row: Row) throws {
        let sink = RecordingSink()
        let pipeline = RequestPipeline(configuration: try CoreFixture.configuration(""), sink: sink, logger: CoreFixture.quietLogger, board: nil)
        let response = pipeline.respond(to: row.request)
        #expect(response.status == row.status, "\(row.name): \(String(decoding: response.body, as: UTF8.self))")
        #expect(sink.stored.map { $0.event.transactionID } == (row.stored.map { [$0] } ?? []), "\(row.name)")
        if let words = row.error {
            #expect((CoreFixture.json(response)["error"] as? String)?.contains(words) == true, "\(row.name): \(String(decoding: response.body, as: UTF8.self))")
        }
    }

    @Test("a transaction the sink already holds answers duplicate, and is handed on once")
    func duplicate() throws {
        let sink = RecordingSink()
        let pipeline = RequestPipeline(configuration: try CoreFixture.configuration(""), sink: sink, logger: CoreFixture.quietLogger, board: nil)
        let first = pipeline.respond(to: CoreFixture.request(body: "transactionid=dup"))
        let second = pipeline.respond(to: CoreFixture.request(body: "transactionid=dup&contact%5Bphone%5D=2"))
        #expect(CoreFixture.json(first)["duplicate"] == nil)
        #expect(CoreFixture.json(second)["duplicate"] as? Bool == true)
        #expect(sink.stored.count == 1)
    }

    @Test("the status page counts the answers, and stays behind the verify rules")
    func statusPage() throws {
        let board = StatusBoard()
        let configuration = try CoreFixture.configuration("status_path: /status\nverify: { token: t0k-status }\n")
        let pipeline = RequestPipeline(configuration: configuration, sink: RecordingSink(), logger: CoreFixture.quietLogger, board: board)
        _ = pipeline.respond(to: CoreFixture.request(query: "token=t0k-status", body: "transactionid=s-1"))
        _ = pipeline.respond(to: CoreFixture.request(body: "transactionid=s-2"))  // no token: 401
        let refused = pipeline.respond(to: CoreFixture.request(method: "GET", query: "json", contentType: nil, path: "/status"))
        #expect(refused.status == 401)
        let page = pipeline.respond(to: CoreFixture.request(method: "GET", query: "json&token=t0k-status", contentType: nil, path: "/status"))
        #expect(page.status == 200)
        let requests = CoreFixture.json(page)["requests"] as? [String: Any]
        #expect(requests?["200"] as? Int == 1 && requests?["401"] as? Int == 1, "\(String(decoding: page.body, as: UTF8.self))")
        let html = pipeline.respond(to: CoreFixture.request(method: "GET", query: "html&token=t0k-status", contentType: nil, path: "/status"))
        #expect(html.contentType.hasPrefix("text/html") && String(decoding: html.body, as: UTF8.self).contains("answered 200"))
    }
}
