/// Renders the status page, like PHP-FPM's: `?json` (default), `?html` or `?prometheus`.
import ContactListenerKit
struct StatusPage {
    let snapshot: StatusBoard.Snapshot
    let threads: Int
    let spool: SpoolCounts?
    let prometheus: [UInt8]

    /// The response for the query string's format.
    func response(query: String) -> Response {
        let format = query.split(separator: "&").first.map(String.init) ?? "json"
        switch format {
        case "html": return Response(status: 200, body: Array(html.utf8), contentType: "text/html; charset=utf-8")
        case "prometheus", "openmetrics": return Response(status: 200, body: prometheusText, contentType: "text/plain; version=0.0.4")
        default: return Response(status: 200, body: Array((json + "\n").utf8))
        }
    }

    var json: String {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("started_at"); writer.string(snapshot.startedAt)
        writer.key("uptime_seconds"); writer.int(snapshot.uptimeSeconds)
        writer.key("requests"); writer.beginObject()
        for (status, count) in snapshot.byStatus { writer.key(String(status)); writer.int(count) }
        writer.endObject()
        writer.key("accepted_requests"); writer.int(snapshot.byStatus.reduce(0) { $0 + $1.count })
        writer.key("in_flight"); writer.int(snapshot.inFlight)
        writer.key("threads"); writer.beginObject()
        writer.key("total"); writer.int(threads)
        writer.key("busy"); writer.int(min(threads, snapshot.inFlight))
        writer.key("idle"); writer.int(max(0, threads - snapshot.inFlight))
        writer.endObject()
        writer.key("latency_ms"); writer.beginObject()
        writer.key("p50"); writer.raw(String(snapshot.p50))
        writer.key("p99"); writer.raw(String(snapshot.p99))
        writer.endObject()
        writer.key("spool")
        if let spool {
            spool.write(to: &writer)
        } else {
            writer.raw("null")
        }
        writer.key("last_errors"); writer.beginArray()
        for error in snapshot.errors {
            writer.beginObject()
            writer.key("at"); writer.string(error.at)
            writer.key("status"); writer.int(error.status)
            writer.key("error"); writer.string(error.message)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.string
    }

    var html: String {
        func escape(_ text: String) -> String {
            var output = ""
            HTML.escape(text, into: &output)
            return output
        }
        var rows = [
            ("started", snapshot.startedAt), ("uptime", "\(snapshot.uptimeSeconds) s"),
            ("in flight", "\(snapshot.inFlight) of \(threads) threads busy"),
            ("latency p50 / p99", "\(snapshot.p50) ms / \(snapshot.p99) ms"),
        ]
        rows += snapshot.byStatus.map { ("answered \($0.status)", String($0.count)) }
        for entry in spool?.entries ?? [] where entry.count > 0 {
            rows.append(("spool \(entry.handler) \(entry.state.rawValue)", String(entry.count)))
        }
        var page = "<!doctype html><meta charset=utf-8><title>contact-listener status</title>"
        page += "<style>body{font:14px system-ui;margin:2em}td{padding:2px 12px}</style><h1>contact-listener</h1><table>"
        for (name, value) in rows { page += "<tr><td>\(escape(name))</td><td>\(escape(value))</td></tr>" }
        page += "</table><h2>Last errors</h2><table>"
        for error in snapshot.errors.reversed() {
            page += "<tr><td>\(escape(error.at))</td><td>\(error.status)</td><td>\(escape(error.message))</td></tr>"
        }
        return page + "</table>\n"
    }

    /// swift-prometheus's text format, plus the gauges only this page knows.
    var prometheusText: [UInt8] {
        var text = "# TYPE contact_listener_in_flight gauge\ncontact_listener_in_flight \(snapshot.inFlight)\n"
        text += "# TYPE contact_listener_threads gauge\ncontact_listener_threads \(threads)\n"
        text += "# TYPE contact_listener_uptime_seconds gauge\ncontact_listener_uptime_seconds \(snapshot.uptimeSeconds)\n"
        if let spool {
            text += "# TYPE contact_listener_spool_deliveries gauge\n"
            for entry in spool.entries {
                text += "contact_listener_spool_deliveries{handler=\"\(entry.handler)\",state=\"\(entry.state.rawValue)\"} \(entry.count)\n"
            }
        }
        return prometheus + Array(text.utf8)
    }
}
