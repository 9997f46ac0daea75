/// One activity section of an event (campaigns opened, links clicked, …) and the table it
/// lands in: one row per record, keyed on the event and the record's position in it, so a
/// row is written exactly once with its event and is never merged with another.
import ContactListenerKit
struct SQLActivityTable: Sendable {
    /// The table's name.
    var name: String
    /// The section's own columns (after the shared `event_key, position, contact_key, received_at`).
    var columns: [SQLColumn]
    /// The section's records as rows of values, in `columns` order.
    var rows: @Sendable (ContactEvent) -> [[SQLValue]]

    /// The columns every activity table starts with.
    static let sharedColumns: [SQLColumn] = [
        SQLColumn(name: "event_key", kind: .key, nullable: false),
        SQLColumn(name: "position", kind: .integer, nullable: false),
        SQLColumn(name: "contact_key", kind: .key),
        SQLColumn(name: "received_at", kind: .stamp, nullable: false),
    ]

    /// The table definition.
    var table: SQLTable {
        SQLTable(name: name, columns: Self.sharedColumns + columns, primaryKey: ["event_key", "position"],
                 indexes: [("\(name)_contact", ["contact_key"])])
    }

    /// Every activity section, in the platform's order.
    static let all: [SQLActivityTable] = [
        SQLActivityTable(name: "campaigns_opened", columns: texts("campaign_id", "campaign_name", "opened_at")) { event in
            event.campaignsOpened.map { [.optional($0.id), .optional($0.name), .optional($0.openDate)] }
        },
        SQLActivityTable(
            name: "links_clicked",
            columns: [SQLColumn(name: "url", kind: .text), SQLColumn(name: "clicks", kind: .integer)]
        ) { event in
            event.linksClicked.map { [.optional($0.url), clickCount($0.clicks)] }
        },
        SQLActivityTable(name: "pages_visited", columns: texts("page", "visited_at")) { event in
            event.pagesVisited.map { [.optional($0.page), .optional($0.visitDate)] }
        },
        SQLActivityTable(name: "automations_triggered", columns: texts("automation_id", "automation_name", "triggered_at")) { event in
            event.automationTriggered.map { [.optional($0.id), .optional($0.name), .optional($0.triggerDate)] }
        },
        SQLActivityTable(name: "goals_reached", columns: texts("goal_id", "goal_name", "reached_at")) { event in
            event.goalsReached.map { [.optional($0.id), .optional($0.name), .optional($0.reachDate)] }
        },
        SQLActivityTable(name: "webhooks_triggered", columns: texts("webhook_id", "webhook_name", "triggered_at")) { event in
            event.webhooksTriggered.map { [.optional($0.id), .optional($0.name), .optional($0.triggerDate)] }
        },
        SQLActivityTable(name: "lead_scores", columns: texts("score_id", "score_name", "score", "scored_at")) { event in
            event.leadScore.map { [.optional($0.id), .optional($0.name), .optional($0.score), .optional($0.scoreDate)] }
        },
        SQLActivityTable(name: "lead_statuses", columns: texts("score", "label")) { event in
            event.leadStatus.map { [.optional($0.score), .optional($0.label)] }
        },
    ]

    /// Nullable text columns: the platform's values (ids and dates included) are free text
    /// of any length.
    private static func texts(_ names: String...) -> [SQLColumn] {
        names.map { SQLColumn(name: $0, kind: .text) }
    }

    /// `clicks` as a number; anything else (absent, empty, not a whole number) is NULL, and
    /// the value as sent stays in `events.json`.
    private static func clickCount(_ text: String?) -> SQLValue {
        guard let text, let count = Int64(SQLKey.trimmed(text)) else { return .null }
        return .integer(count)
    }
}
