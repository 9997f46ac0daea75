// The record types of the sections the platform sends ("Synch Contact to Third Party"),
// with the exact key names of its payload.
//
// `keys` are stored once (`nonisolated(unsafe)`: an immutable array of key paths, which
// Swift doesn't mark Sendable); a computed list instantiated its key paths on every use,
// 164 times per request (BENCHMARKS.md).

/// `contact[id|email|phone|profile_url]`: who the event is about.
public struct Contact: SectionRecord {
    public var id: String?
    public var email: String?
    public var phone: String?
    public var profileURL: String?
    public var extra = FormArray()
    public init() {}
    nonisolated(unsafe) public static let keys: [(name: String, path: WritableKeyPath<Contact, String?>)] = [("id", \.id), ("email", \.email), ("phone", \.phone), ("profile_url", \.profileURL)]
}

/// `fields[i][id|name|value]`: a custom field of the contact.
public struct Field: SectionRecord {
    public var id: String?
    public var name: String?
    public var value: String?
    public var extra = FormArray()
    public init() {}
    /// A field with a name and value (GET shortcode parameters become these).
    public init(id: String? = nil, name: String?, value: String?) {
        self.id = id
        self.name = name
        self.value = value
    }
    nonisolated(unsafe) public static let keys: [(name: String, path: WritableKeyPath<Field, String?>)] = [("id", \.id), ("name", \.name), ("value", \.value)]
}

/// `campaigns-opened[i][id|name|open_date]`.
public struct CampaignOpened: SectionRecord {
    public var id: String?
    public var name: String?
    public var openDate: String?
    public var extra = FormArray()
    public init() {}
    nonisolated(unsafe) public static let keys: [(name: String, path: WritableKeyPath<CampaignOpened, String?>)] = [("id", \.id), ("name", \.name), ("open_date", \.openDate)]
}

/// `links-clicked[i][url|clicks]`.
public struct LinkClicked: SectionRecord {
    public var url: String?
    public var clicks: String?
    public var extra = FormArray()
    public init() {}
    nonisolated(unsafe) public static let keys: [(name: String, path: WritableKeyPath<LinkClicked, String?>)] = [("url", \.url), ("clicks", \.clicks)]
}

/// `pages-visited[i][page|visit_date]`.
public struct PageVisited: SectionRecord {
    public var page: String?
    public var visitDate: String?
    public var extra = FormArray()
    public init() {}
    nonisolated(unsafe) public static let keys: [(name: String, path: WritableKeyPath<PageVisited, String?>)] = [("page", \.page), ("visit_date", \.visitDate)]
}

/// `automation-triggered[i]`, `webhooks-triggered[i]`: `[id|name|trigger_date]`.
public struct Triggered: SectionRecord {
    public var id: String?
    public var name: String?
    public var triggerDate: String?
    public var extra = FormArray()
    public init() {}
    nonisolated(unsafe) public static let keys: [(name: String, path: WritableKeyPath<Triggered, String?>)] = [("id", \.id), ("name", \.name), ("trigger_date", \.triggerDate)]
}

/// `goals-reached[i][id|name|reach_date]`.
public struct GoalReached: SectionRecord {
    public var id: String?
    public var name: String?
    public var reachDate: String?
    public var extra = FormArray()
    public init() {}
    nonisolated(unsafe) public static let keys: [(name: String, path: WritableKeyPath<GoalReached, String?>)] = [("id", \.id), ("name", \.name), ("reach_date", \.reachDate)]
}

/// `lead-score[i][id|name|score|score_date]`.
public struct LeadScore: SectionRecord {
    public var id: String?
    public var name: String?
    public var score: String?
    public var scoreDate: String?
    public var extra = FormArray()
    public init() {}
    nonisolated(unsafe) public static let keys: [(name: String, path: WritableKeyPath<LeadScore, String?>)] = [("id", \.id), ("name", \.name), ("score", \.score), ("score_date", \.scoreDate)]
}

/// `lead-status[score|label]` (one object) or `lead-status[i][score|label]`.
public struct LeadStatus: SectionRecord {
    public var score: String?
    public var label: String?
    public var extra = FormArray()
    public init() {}
    nonisolated(unsafe) public static let keys: [(name: String, path: WritableKeyPath<LeadStatus, String?>)] = [("score", \.score), ("label", \.label)]
}
