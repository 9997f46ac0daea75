import ContactListenerKit
import ContactListenerHTTP

/// The console's pages (docs/console.md, "Pages"). Values go into `HTML` interpolations
/// only, so each is escaped; URLs of handlers and errors pass `ConsoleHandler.redact` first.
extension ConsoleView {
    /// The overview: the status page's figures and each handler's queue.
    func overview(
        _ layout: Layout, status: SpoolCounts, pauses: [String: Int64], handlers: [ConsoleHandler],
        events: (total: Int, recent: Int), board: StatusBoard.Snapshot?, threads: Int
    ) -> HTML {
        var listener: HTML
        if let board {
            let answered = board.byStatus.map { "\($0.status): \($0.count)" }.joined(separator: ", ")
            listener = """
                <tr><th>Running since</th><td>\(board.startedAt) (\(board.uptimeSeconds) s)</td></tr>\
                <tr><th>Requests answered</th><td>\(answered.isEmpty ? "none yet" : answered)</td></tr>\
                <tr><th>Busy threads</th><td>\(min(threads, board.inFlight)) of \(threads)</td></tr>\
                <tr><th>Latency p50 / p99</th><td>\(String(board.p50)) ms / \(String(board.p99)) ms</td></tr>
                """
        } else {
            listener = "<tr><th>Mode</th><td>CGI: every request is its own process, so request counters are not kept.</td></tr>"
        }
        listener += "<tr><th>Events in the spool</th><td>\(events.total) (\(events.recent) in the last 24 hours)</td></tr>"
        let rows = HTML.join(handlers) { handler -> HTML in
            let paused: HTML = pauses[handler.name].map { "<br><span class=\"danger\">paused until \(ConsoleView.time($0)) (the backend asked)</span>" } ?? .empty
            return """
                <tr><td>\(handler.name)</td><td>\(handler.type)</td><td>\(handler.target)\(paused)</td><td>\(handler.rate)</td>\
                <td>\(status.count(handler.name, .pending))</td><td>\(status.count(handler.name, .delivered))</td>\
                <td><a href="\(base)/failures?handler=\(query: handler.name)&amp;state=failed">\(status.count(handler.name, .failed))</a></td>\
                <td><a href="\(base)/failures?handler=\(query: handler.name)&amp;state=dead">\(status.count(handler.name, .dead))</a></td></tr>
                """
        }
        var errors = HTML.empty
        if let board, !board.errors.isEmpty {
            errors = "<h2>Last errors</h2><table><tr><th>At</th><th>Status</th><th>Error</th></tr>"
                + HTML.join(board.errors.reversed()) { "<tr><td>\($0.at)</td><td>\($0.status)</td><td>\(ConsoleHandler.redact(text: $0.message))</td></tr>" }
                + "</table>"
        }
        return frame(title: "Overview", layout: layout, """
            <table>\(listener)</table><h2>Handlers</h2>\
            <table><tr><th>Handler</th><th>Type</th><th>Delivers to</th><th>Rate</th><th>Pending</th><th>Delivered</th><th>Failing</th><th>Dead</th></tr>\(rows)</table>\(errors)
            """)
    }

    /// The events page: the search form, a page of events, the link to older ones.
    func events(_ layout: Layout, events: [Spool.ConsoleEvent], query: ConsoleForm) -> HTML {
        let email = query["email"] ?? "", tx = query["tx"] ?? "", from = query["from"] ?? "", to = query["to"] ?? ""
        var pager = HTML.empty
        if events.count == Self.pageSize, let last = events.last {
            pager = """
                <p class="pager"><a href="\(base)/events?email=\(query: email)&amp;tx=\(query: tx)&amp;from=\(query: from)&amp;to=\(query: to)&amp;before=\(query: Spool.Cursor(after: last).text)">Older events →</a></p>
                """
        }
        let list: HTML = events.isEmpty ? "<p class=\"muted\">No event matches.</p>" : eventTable(events)
        return frame(title: "Events", layout: layout, """
            <form method="get" action="\(base)/events" class="search">\
            <label>Email <input name="email" type="search" value="\(email)"></label>\
            <label>Transaction id <input name="tx" type="search" value="\(tx)"></label>\
            <label>From <input name="from" type="date" value="\(from)"></label>\
            <label>To <input name="to" type="date" value="\(to)"></label>\
            <button type="submit">Search</button></form>\(list)\(pager)
            """)
    }

    /// A table of events, newest first, each linking to its page and its contact's.
    func eventTable(_ events: [Spool.ConsoleEvent]) -> HTML {
        let rows = HTML.join(events) { event -> HTML in
            let contact: HTML = event.contactKey.map { "<a href=\"\(base)/contact?key=\(query: $0)\">\(event.email ?? "contact")</a>" } ?? "\(event.email)"
            let states = HTML.join(event.states) { "\($0.handler) \(ConsoleView.badge($0.state))" }
            return """
                <tr><td><a href="\(base)/events/\(event.id)">#\(event.id)</a></td><td>\(ConsoleView.time(event.receivedAt))</td>\
                <td>\(event.transactionID)</td><td>\(contact)</td><td>\(states)</td></tr>
                """
        }
        return "<table><tr><th>Event</th><th>Received</th><th>Transaction id</th><th>Contact</th><th>Deliveries</th></tr>\(rows)</table>"
    }

    /// One event: its contact and sections as tables, each handler's delivery, the JSON.
    func event(_ layout: Layout, event: Spool.ConsoleEvent, json: String, deliveries: [(delivery: Spool.Entry, heldBy: Int64?)]) -> HTML {
        var sections = HTML.empty
        if let decoded = try? ContactEvent(storedJSON: Array(json.utf8)) {
            for section in EventSection.all {
                let records = section.values(decoded).filter { $0.contains { $0 != nil } }
                guard !records.isEmpty else { continue }
                let head = HTML.join(section.keys) { "<th>\($0)</th>" }
                let rows = HTML.join(records) { record in "<tr>" + HTML.join(record) { "<td>\($0)</td>" } + "</tr>" }
                sections += "<h2>\(section.name)</h2><table><tr>\(head)</tr>\(rows)</table>"
            }
        } else {
            sections = "<p class=\"note\">The stored JSON does not read back as an event; it is shown below as stored.</p>"
        }
        let rows = HTML.join(deliveries) { item -> HTML in
            let delivery = item.delivery
            var next: HTML
            switch delivery.state {
            case .delivered: next = "–"
            case .dead: next = "<span class=\"muted\">never: later events of this contact went on without it</span>"
            case .pending, .failed:
                if let held = item.heldBy {
                    next = "waiting for <a href=\"\(base)/events/\(held)\">#\(held)</a> of the same contact"
                } else {
                    next = "\(ConsoleView.time(delivery.nextAttemptAt))"
                }
            }
            var actions = HTML.empty
            if delivery.state == .dead || delivery.state == .failed {
                actions += actionForm("retry", "Retry", handler: delivery.handler, ids: [delivery.eventID], from: .event, layout: layout)
            }
            if delivery.state == .dead {
                actions += actionForm("purge", "Purge", handler: delivery.handler, ids: [delivery.eventID], from: .event, layout: layout)
            }
            return """
                <tr><td>\(delivery.handler)</td><td>\(ConsoleView.badge(delivery.state))</td><td>\(delivery.attempts)</td><td>\(next)</td>\
                <td>\(delivery.lastError.map(ConsoleHandler.redact(text:)))</td><td>\(actions)</td></tr>
                """
        }
        let contact: HTML = event.contactKey.map { "<p><a href=\"\(base)/contact?key=\(query: $0)\">All events of this contact →</a></p>" } ?? .empty
        return frame(title: "Event #\(event.id)", layout: layout, """
            <table><tr><th>Received</th><td>\(ConsoleView.time(event.receivedAt))</td></tr>\
            <tr><th>Transaction id</th><td>\(event.transactionID)</td></tr></table>\(contact)\
            <h2>Deliveries</h2><table><tr><th>Handler</th><th>State</th><th>Attempts</th><th>Next attempt</th><th>Last error</th><th></th></tr>\(rows)</table>\
            \(sections)<h2>Stored JSON</h2><pre>\(json)</pre>
            """)
    }

    /// The page a retry or purge returns to, named by a word in the form: the URL is
    /// rebuilt from it (`url`), so a form can never send the browser anywhere else.
    enum ReturnPage: String, Sendable {
        /// The event's page.
        case event
        /// The handler's dead letters.
        case dead
        /// The handler's failing deliveries.
        case failed
    }

    /// The URL of `page` for `handler` and `event`.
    func url(of page: ReturnPage, handler: String, event: Int64) -> String {
        switch page {
        case .event: return "\(base)/events/\(event)"
        case .dead, .failed: return "\(base)/failures?handler=\(BodyTemplate.percentEncode(handler))&state=\(page.rawValue)"
        }
    }

    /// A small POST form (retry or purge) for `ids` of `handler`; it leads to `confirm`.
    func actionForm(_ action: String, _ label: String, handler: String, ids: [Int64], from: ReturnPage, layout: Layout) -> HTML {
        let events = HTML.join(ids) { "<input type=\"hidden\" name=\"event[]\" value=\"\($0)\">" }
        return """
            <form method="post" action="\(base)/\(action)" class="inline"><input type="hidden" name="csrf" value="\(layout.csrf)">\
            <input type="hidden" name="handler" value="\(handler)"><input type="hidden" name="from" value="\(from.rawValue)">\(events)\
            <button type="submit">\(label)</button></form>
            """
    }

    /// Dead letters (or failing deliveries) of one handler, with retry and purge.
    func failures(_ layout: Layout, handler: String, handlers: [String], state: DeliveryState, rows: [Spool.Entry]) -> HTML {
        let from: ReturnPage = state == .dead ? .dead : .failed
        let tabs = HTML.join(handlers) { name -> HTML in
            name == handler ? "<b>\(name)</b> " : "<a href=\"\(base)/failures?handler=\(query: name)&amp;state=\(state.rawValue)\">\(name)</a> "
        }
        let other: DeliveryState = state == .dead ? .failed : .dead
        let table = HTML.join(rows) { delivery -> HTML in
            var actions = actionForm("retry", "Retry", handler: handler, ids: [delivery.eventID], from: from, layout: layout)
            if state == .dead { actions += actionForm("purge", "Purge", handler: handler, ids: [delivery.eventID], from: from, layout: layout) }
            return """
                <tr><td><a href="\(base)/events/\(delivery.eventID)">#\(delivery.eventID)</a></td><td>\(ConsoleView.time(delivery.receivedAt))</td>\
                <td>\(delivery.transactionID)</td><td>\(delivery.email)</td><td>\(delivery.attempts)</td>\
                <td>\(delivery.lastError.map(ConsoleHandler.redact(text:)))</td><td>\(actions)</td></tr>
                """
        }
        var body: HTML = """
            <p>Handler: \(tabs)· showing <b>\(state == .dead ? "dead letters" : "failing deliveries")</b> · \
            <a href="\(base)/failures?handler=\(query: handler)&amp;state=\(other.rawValue)">show \(other == .dead ? "dead letters" : "failing deliveries")</a></p>
            """
        if state == .dead {
            body += "<p class=\"muted\">A dead letter holds nothing up: the next event of its contact goes to the handler as soon as it dies.</p>"
        }
        if rows.isEmpty {
            body += "<p class=\"muted\">None.</p>"
        } else {
            let ids = rows.map(\.eventID)
            body += "<table><tr><th>Event</th><th>Received</th><th>Transaction id</th><th>Email</th><th>Attempts</th><th>Last error</th><th></th></tr>\(table)</table>"
            body += "<p>" + actionForm("retry", "Retry all \(ids.count) shown", handler: handler, ids: ids, from: from, layout: layout)
            if state == .dead { body += " " + actionForm("purge", "Purge all \(ids.count) shown", handler: handler, ids: ids, from: from, layout: layout) }
            body += "</p>"
            if rows.count == Self.pageSize, let last = ids.last {
                body += "<p class=\"pager\"><a href=\"\(base)/failures?handler=\(query: handler)&amp;state=\(state.rawValue)&amp;before=\(last)\">Older →</a></p>"
            }
        }
        return frame(title: "Failures", layout: layout, body)
    }

    /// "Are you sure?" for a retry or purge: the same form again, with `confirm=yes`.
    func confirm(_ layout: Layout, purge: Bool, handler: String, ids: [Int64], from: ReturnPage) -> HTML {
        let events = HTML.join(ids) { "<input type=\"hidden\" name=\"event[]\" value=\"\($0)\">" }
        let what = purge
            ? "Purge \(ids.count) dead \(ids.count == 1 ? "delivery" : "deliveries") of handler \(handler)? They are deleted and never delivered."
            : "Retry \(ids.count) \(ids.count == 1 ? "delivery" : "deliveries") of handler \(handler) now?"
        return frame(title: purge ? "Purge" : "Retry", layout: layout, """
            <p>\(what)</p><p class="muted">Events: \(ids.map { "#\($0)" }.joined(separator: ", "))</p>\
            <form method="post" action="\(base)/\(purge ? "purge" : "retry")"><input type="hidden" name="csrf" value="\(layout.csrf)">\
            <input type="hidden" name="handler" value="\(handler)"><input type="hidden" name="from" value="\(from.rawValue)">\
            <input type="hidden" name="confirm" value="yes">\(events)\
            <button type="submit">Yes, \(purge ? "purge" : "retry")</button> <a href="\(url(of: from, handler: handler, event: ids[0]))">Cancel</a></form>
            """)
    }

    /// One contact: its events over time and how its fields changed.
    func contact(_ layout: Layout, key: String, events: [Spool.ConsoleEvent], history: ConsoleFieldHistory) -> HTML {
        let email = events.first?.email ?? "contact"
        let rows = HTML.join(history.changes) { change -> HTML in
            let event: HTML = change.eventID.map { "<a href=\"\(base)/events/\($0)\">#\($0)</a>" } ?? .empty
            return "<tr><td>\(change.field)</td><td>\(change.old)</td><td>\(change.new)</td><td>\(change.at) \(event)</td></tr>"
        }
        let list: HTML = events.isEmpty ? "<p class=\"muted\">No event of this contact is in the spool.</p>" : eventTable(events)
        return frame(title: email, layout: layout, """
            <p class="muted">Contact key \(key) · the newest \(Self.contactEvents) events in the spool.</p>\
            <h2>Events</h2>\(list)<h2>Fields over time</h2><p class="muted">From \(history.source), newest first.</p>\
            <table><tr><th>Field</th><th>Was</th><th>Became</th><th>When</th></tr>\(rows)</table>
            """)
    }
}
