// The record types of the sections the platform sends ("Synch Contact to Third Party"),
// with the exact key names of its payload.
//
// `names` are stored once; `subscript(slot:)` follows their order.

/// `contact[id|email|phone|profile_url]`: who the event is about.
public struct Contact: SectionRecord {
    /// `id` as sent, or nil when it was not.
    public var id: String?
    /// `email` as sent, or nil when it was not.
    public var email: String?
    /// `phone` as sent, or nil when it was not.
    public var phone: String?
    /// `profile_url` as sent, or nil when it was not.
    public var profileURL: String?
    /// Keys the platform sent in this record that the model does not know, as sent.
    public var extra = FormArray()
    /// An empty record: nothing sent.
    public init() {}
    /// The known keys, in the platform's order.
    public static let names = ["id", "email", "phone", "profile_url"]
    /// The value of `names[slot]`.
    public subscript(slot slot: Int) -> String? {
        get {
            switch slot {
            case 0: return id
            case 1: return email
            case 2: return phone
            case 3: return profileURL
            default: return nil
            }
        }
        set {
            switch slot {
            case 0: id = newValue
            case 1: email = newValue
            case 2: phone = newValue
            case 3: profileURL = newValue
            default: break
            }
        }
    }
}

/// `fields[i][id|name|value]`: a custom field of the contact.
public struct Field: SectionRecord {
    /// `id` as sent, or nil when it was not.
    public var id: String?
    /// `name` as sent, or nil when it was not.
    public var name: String?
    /// `value` as sent, or nil when it was not.
    public var value: String?
    /// Keys the platform sent in this record that the model does not know, as sent.
    public var extra = FormArray()
    /// An empty record: nothing sent.
    public init() {}
    /// A field with a name and value (GET shortcode parameters become these).
    public init(id: String? = nil, name: String?, value: String?) {
        self.id = id
        self.name = name
        self.value = value
    }
    /// The known keys, in the platform's order.
    public static let names = ["id", "name", "value"]
    /// The value of `names[slot]`.
    public subscript(slot slot: Int) -> String? {
        get {
            switch slot {
            case 0: return id
            case 1: return name
            case 2: return value
            default: return nil
            }
        }
        set {
            switch slot {
            case 0: id = newValue
            case 1: name = newValue
            case 2: value = newValue
            default: break
            }
        }
    }
}

/// `campaigns-opened[i][id|name|open_date]`.
public struct CampaignOpened: SectionRecord {
    /// `id` as sent, or nil when it was not.
    public var id: String?
    /// `name` as sent, or nil when it was not.
    public var name: String?
    /// `open_date` as sent, or nil when it was not.
    public var openDate: String?
    /// Keys the platform sent in this record that the model does not know, as sent.
    public var extra = FormArray()
    /// An empty record: nothing sent.
    public init() {}
    /// The known keys, in the platform's order.
    public static let names = ["id", "name", "open_date"]
    /// The value of `names[slot]`.
    public subscript(slot slot: Int) -> String? {
        get {
            switch slot {
            case 0: return id
            case 1: return name
            case 2: return openDate
            default: return nil
            }
        }
        set {
            switch slot {
            case 0: id = newValue
            case 1: name = newValue
            case 2: openDate = newValue
            default: break
            }
        }
    }
}

/// `links-clicked[i][url|clicks]`.
public struct LinkClicked: SectionRecord {
    /// `url` as sent, or nil when it was not.
    public var url: String?
    /// `clicks` as sent, or nil when it was not.
    public var clicks: String?
    /// Keys the platform sent in this record that the model does not know, as sent.
    public var extra = FormArray()
    /// An empty record: nothing sent.
    public init() {}
    /// The known keys, in the platform's order.
    public static let names = ["url", "clicks"]
    /// The value of `names[slot]`.
    public subscript(slot slot: Int) -> String? {
        get {
            switch slot {
            case 0: return url
            case 1: return clicks
            default: return nil
            }
        }
        set {
            switch slot {
            case 0: url = newValue
            case 1: clicks = newValue
            default: break
            }
        }
    }
}

/// `pages-visited[i][page|visit_date]`.
public struct PageVisited: SectionRecord {
    /// `page` as sent, or nil when it was not.
    public var page: String?
    /// `visit_date` as sent, or nil when it was not.
    public var visitDate: String?
    /// Keys the platform sent in this record that the model does not know, as sent.
    public var extra = FormArray()
    /// An empty record: nothing sent.
    public init() {}
    /// The known keys, in the platform's order.
    public static let names = ["page", "visit_date"]
    /// The value of `names[slot]`.
    public subscript(slot slot: Int) -> String? {
        get {
            switch slot {
            case 0: return page
            case 1: return visitDate
            default: return nil
            }
        }
        set {
            switch slot {
            case 0: page = newValue
            case 1: visitDate = newValue
            default: break
            }
        }
    }
}

/// `automation-triggered[i]`, `webhooks-triggered[i]`: `[id|name|trigger_date]`.
public struct Triggered: SectionRecord {
    /// `id` as sent, or nil when it was not.
    public var id: String?
    /// `name` as sent, or nil when it was not.
    public var name: String?
    /// `trigger_date` as sent, or nil when it was not.
    public var triggerDate: String?
    /// Keys the platform sent in this record that the model does not know, as sent.
    public var extra = FormArray()
    /// An empty record: nothing sent.
    public init() {}
    /// The known keys, in the platform's order.
    public static let names = ["id", "name", "trigger_date"]
    /// The value of `names[slot]`.
    public subscript(slot slot: Int) -> String? {
        get {
            switch slot {
            case 0: return id
            case 1: return name
            case 2: return triggerDate
            default: return nil
            }
        }
        set {
            switch slot {
            case 0: id = newValue
            case 1: name = newValue
            case 2: triggerDate = newValue
            default: break
            }
        }
    }
}

/// `goals-reached[i][id|name|reach_date]`.
public struct GoalReached: SectionRecord {
    /// `id` as sent, or nil when it was not.
    public var id: String?
    /// `name` as sent, or nil when it was not.
    public var name: String?
    /// `reach_date` as sent, or nil when it was not.
    public var reachDate: String?
    /// Keys the platform sent in this record that the model does not know, as sent.
    public var extra = FormArray()
    /// An empty record: nothing sent.
    public init() {}
    /// The known keys, in the platform's order.
    public static let names = ["id", "name", "reach_date"]
    /// The value of `names[slot]`.
    public subscript(slot slot: Int) -> String? {
        get {
            switch slot {
            case 0: return id
            case 1: return name
            case 2: return reachDate
            default: return nil
            }
        }
        set {
            switch slot {
            case 0: id = newValue
            case 1: name = newValue
            case 2: reachDate = newValue
            default: break
            }
        }
    }
}

/// `lead-score[i][id|name|score|score_date]`.
public struct LeadScore: SectionRecord {
    /// `id` as sent, or nil when it was not.
    public var id: String?
    /// `name` as sent, or nil when it was not.
    public var name: String?
    /// `score` as sent, or nil when it was not.
    public var score: String?
    /// `score_date` as sent, or nil when it was not.
    public var scoreDate: String?
    /// Keys the platform sent in this record that the model does not know, as sent.
    public var extra = FormArray()
    /// An empty record: nothing sent.
    public init() {}
    /// The known keys, in the platform's order.
    public static let names = ["id", "name", "score", "score_date"]
    /// The value of `names[slot]`.
    public subscript(slot slot: Int) -> String? {
        get {
            switch slot {
            case 0: return id
            case 1: return name
            case 2: return score
            case 3: return scoreDate
            default: return nil
            }
        }
        set {
            switch slot {
            case 0: id = newValue
            case 1: name = newValue
            case 2: score = newValue
            case 3: scoreDate = newValue
            default: break
            }
        }
    }
}

/// `lead-status[score|label]` (one object) or `lead-status[i][score|label]`.
public struct LeadStatus: SectionRecord {
    /// `score` as sent, or nil when it was not.
    public var score: String?
    /// `label` as sent, or nil when it was not.
    public var label: String?
    /// Keys the platform sent in this record that the model does not know, as sent.
    public var extra = FormArray()
    /// An empty record: nothing sent.
    public init() {}
    /// The known keys, in the platform's order.
    public static let names = ["score", "label"]
    /// The value of `names[slot]`.
    public subscript(slot slot: Int) -> String? {
        get {
            switch slot {
            case 0: return score
            case 1: return label
            default: return nil
            }
        }
        set {
            switch slot {
            case 0: score = newValue
            case 1: label = newValue
            default: break
            }
        }
    }
}
