/// What verification decided about an accepted request, for the rest of the pipeline.
import ContactListenerKit
package struct VerifiedRequest: Equatable, Sendable {
    /// The client address it decided on (`REMOTE_ADDR`, or the forwarded client behind a
    /// trusted proxy); nil when the server gave no `REMOTE_ADDR`.
    package var clientAddress: String?
    /// `QUERY_STRING` with every `token=` parameter removed and the rest byte-identical:
    /// decode and log this one, never the original.
    package var query: String
    /// The signature scheme's message id (Standard Webhooks' `webhook-id`), for deduplication.
    package var webhookID: String?
    /// True when a `signature` rule checked the body. The signature covers the body alone,
    /// so then only the body may become event data: the query string could otherwise add
    /// or change any field, `transactionid` (the deduplication key) among them, on a
    /// captured request or on a GET that carries the MAC of an empty body.
    package var bodyIsSigned: Bool

    /// Creates the accepted outcome.
    package init(clientAddress: String?, query: String, webhookID: String?, bodyIsSigned: Bool = false) {
        self.clientAddress = clientAddress
        self.query = query
        self.webhookID = webhookID
        self.bodyIsSigned = bodyIsSigned
    }

    /// The query string that may become event data: the token-free query, or nothing at all
    /// when the signature covers only the body.
    package var eventQuery: String { bodyIsSigned ? "" : query }
}
