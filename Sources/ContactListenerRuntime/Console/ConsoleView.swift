import ContactListenerKit

/// The console's pages as HTML: no script, one stylesheet served by the binary, every
/// value escaped by `HTML` (docs/console.md). This file has the frame every page shares;
/// `ConsoleView+Pages.swift` the pages themselves.
struct ConsoleView: Sendable {
    /// The console's path, which every link starts with.
    let base: String

    /// Rows per page of events or failures.
    static let pageSize = 50
    /// How many of a contact's newest events its page shows.
    static let contactEvents = 200

    /// The logged-in frame: the user name and the token the page's POST forms carry.
    struct Layout: Sendable {
        /// Who is logged in.
        let user: String
        /// The session's CSRF token.
        let csrf: String
    }

    /// A whole page: head, navigation (with the logout form) when logged in, `body`.
    func frame(title: String, layout: Layout?, _ body: HTML) -> HTML {
        var nav = HTML.empty
        if let layout {
            nav = """
                <nav><a href="\(base)/">Overview</a><a href="\(base)/events">Events</a><a href="\(base)/failures">Failures</a>\
                <form method="post" action="\(base)/logout" class="logout"><input type="hidden" name="csrf" value="\(layout.csrf)">\
                <span>\(layout.user)</span> <button type="submit">Log out</button></form></nav>
                """
        }
        return """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">\
            <title>\(title) · contact-listener</title><link rel="stylesheet" href="\(base)/console.css"></head>\
            <body><header><b>contact-listener</b> console</header>\(nav)<main><h1>\(title)</h1>\(body)</main></body></html>

            """
    }

    /// A page with one message (errors, refusals), without navigation.
    static func message(title: String, text: String) -> HTML {
        """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(title) · contact-listener</title></head>\
        <body><h1>\(title)</h1><p>\(text)</p></body></html>

        """
    }

    /// The login form; `nonce` is also in its cookie (login CSRF).
    func login(nonce: String, note: String?) -> HTML {
        let notice: HTML = note.map { "<p class=\"note\" role=\"alert\">\($0)</p>" } ?? .empty
        return frame(title: "Log in", layout: nil, """
            \(notice)<form method="post" action="\(base)/login" class="login">\
            <input type="hidden" name="nonce" value="\(nonce)">\
            <label>User <input name="user" autocomplete="username" required autofocus></label>\
            <label>Password <input name="password" type="password" autocomplete="current-password" required></label>\
            <button type="submit">Log in</button></form>
            """)
    }

    /// A time as `2026-12-03 17:31:31 UTC`.
    static func time(_ milliseconds: Int64) -> String {
        let text = Timestamp.format(milliseconds: milliseconds)
        return String(text.prefix(19)).replacingOccurrences(of: "T", with: " ") + " UTC"
    }

    /// `YYYY-MM-DD` (a date input's value) as Unix ms at 00:00 UTC; nil for anything else.
    static func day(_ text: String) -> Int64? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int64(parts[0]), let month = Int64(parts[1]), let day = Int64(parts[2]),
              (1970...9999).contains(year), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        // Days from the civil date (Howard Hinnant's days_from_civil, proleptic Gregorian).
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return (era * 146_097 + dayOfEra - 719_468) * 86_400_000
    }

    /// A delivery state as a badge.
    static func badge(_ state: DeliveryState) -> HTML {
        "<span class=\"state \(state.rawValue)\">\(state.rawValue)</span>"
    }

    /// The stylesheet (`console.css`): the only asset, served by the binary.
    static let stylesheet = """
        body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2329;background:#f6f7f9}
        header{background:#1d2329;color:#fff;padding:.6em 1.2em}
        nav{display:flex;gap:1.2em;align-items:center;padding:.5em 1.2em;background:#e7eaee}
        nav a{color:#1d4f91;text-decoration:none;font-weight:600}
        nav .logout{margin-left:auto;display:flex;gap:.6em;align-items:center}
        main{padding:1em 1.2em;max-width:1200px}
        h1{font-size:1.4em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.4em 0 .4em}
        table{border-collapse:collapse;background:#fff;width:100%;margin:.4em 0}
        th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e1e4e8;vertical-align:top;overflow-wrap:anywhere}
        th{background:#f0f2f5;font-weight:600;white-space:nowrap}
        pre{background:#fff;border:1px solid #e1e4e8;padding:.8em;white-space:pre-wrap;overflow-wrap:anywhere}
        form.search,form.login{display:flex;gap:.8em;flex-wrap:wrap;align-items:end;margin:.4em 0 1em}
        form.login{flex-direction:column;align-items:start;max-width:20em}
        label{display:flex;flex-direction:column;font-size:.9em;gap:.2em}
        input{font:inherit;padding:.3em .4em}button{font:inherit;padding:.3em .9em;cursor:pointer}
        form.inline{display:inline}
        .state{display:inline-block;padding:0 .5em;border-radius:.6em;font-size:.85em;margin-right:.3em;background:#e1e4e8}
        .state.delivered{background:#d3f0d9}.state.pending{background:#fff1c2}.state.failed{background:#ffdcc2}.state.dead{background:#f6c6c6}
        .note{background:#fff1c2;padding:.5em .8em;border-radius:.3em}
        .muted{color:#68717b}.danger{color:#9b1c1c}
        .pager{margin:1em 0}
        """
}
