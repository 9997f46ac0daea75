/// A contact event: what the platform's "Synch Contact to Third Party" action sent,
/// typed, with every leaf kept as the string that was sent.
public struct ContactEvent: Sendable, Equatable {
    /// `transactionid`: the platform's id for this delivery (nil if not sent).
    public var transactionID: String?
    /// `contact[…]`.
    public var contact = Contact()
    /// `fields[…]`: custom fields (and, in shortcode mode, every other flat parameter).
    public var fields: [Field] = []
    /// `campaigns-opened[…]`.
    public var campaignsOpened: [CampaignOpened] = []
    /// `links-clicked[…]`.
    public var linksClicked: [LinkClicked] = []
    /// `pages-visited[…]`.
    public var pagesVisited: [PageVisited] = []
    /// `automation-triggered[…]`.
    public var automationTriggered: [Triggered] = []
    /// `goals-reached[…]`.
    public var goalsReached: [GoalReached] = []
    /// `webhooks-triggered[…]`.
    public var webhooksTriggered: [Triggered] = []
    /// `lead-score[…]`.
    public var leadScore: [LeadScore] = []
    /// `lead-status`, always a list (one `{score,label}` object becomes one element).
    public var leadStatus: [LeadStatus] = []
    /// Top-level parameters the platform sent that are not part of the model.
    public var extra = FormArray()
    /// What the listener recorded about the request.
    public var metadata: EventMetadata

    /// An empty event with the given metadata.
    public init(metadata: EventMetadata) {
        self.metadata = metadata
    }
}
