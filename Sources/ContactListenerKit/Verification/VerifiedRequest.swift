/// What verification decided about an accepted request, for the rest of the pipeline.
public struct VerifiedRequest: Equatable, Sendable {
    /// The client address it decided on (`REMOTE_ADDR`, or the forwarded client behind a
    /// trusted proxy); nil when the server gave no `REMOTE_ADDR`.
    public var clientAddress: String?
    /// `QUERY_STRING` with every `token=` parameter removed and the rest byte-identical:
    /// decode and log this one, never the original.
    public var query: String
    /// The signature scheme's message id (Standard Webhooks' `webhook-id`), for deduplication.
    public var webhookID: String?

    /// Creates the accepted outcome.
    public init(clientAddress: String?, query: String, webhookID: String?) {
        self.clientAddress = clientAddress
        self.query = query
        self.webhookID = webhookID
    }
}
