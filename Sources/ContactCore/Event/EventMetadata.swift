/// What the listener itself knows about a request, kept apart from what the platform sent.
public struct EventMetadata: Sendable, Equatable {
    /// When the request arrived, as RFC 3339 UTC with milliseconds.
    public var receivedAt: String
    /// The client's address (`REMOTE_ADDR`).
    public var remoteAddress: String?
    /// The listener's id for this request, also in the log line and the answer.
    public var requestID: String
    /// `GET` or `POST`.
    public var method: String
    /// How the parameters were read.
    public var mode: EventMode

    /// Creates metadata.
    public init(receivedAt: String, remoteAddress: String?, requestID: String, method: String, mode: EventMode) {
        self.receivedAt = receivedAt
        self.remoteAddress = remoteAddress
        self.requestID = requestID
        self.method = method
        self.mode = mode
    }
}

/// How a request's parameters were mapped to an event.
public enum EventMode: String, Sendable {
    /// The platform's structured POST (`contact[email]`, `fields[0][name]`, …).
    case structured
    /// A GET, or a request without structured sections: flat shortcode parameters.
    case shortcode
}
