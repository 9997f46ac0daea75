import ContactListenerKit
import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// `type: http`: forwards each event to a CRM's API (or any URL), as the event's JSON or
/// through a body template. Every 2xx is success; 429 and 5xx are retried (honouring
/// `Retry-After`); another 4xx is a permanent failure, logged with the start of the answer.
/// A redirect is never followed (see `redirectFailure`). Errors name the URL redacted
/// (`RedactedURL`), and the answer is read only up to `answerLimit` bytes.
/// Every attempt for one event carries the same `Idempotency-Key` (the event's request id),
/// so an API that honours the header stores a retried event once even when an attempt timed
/// out after the API had stored it (draft-ietf-httpapi-idempotency-key-header).
package final class HTTPForwardHandler: ContactHandler {
    /// The handler's configured name.
    package let name: String
    private let url: String
    /// `url` when it has placeholders, built for each event.
    private let urlTemplate: URLTemplate?
    private let shownURL: RedactedURL
    private let method: HTTPMethod
    private let headers: [(String, String)]
    private let body: BodyTemplate
    private let contentType: String
    private let idempotencyHeader: String?
    private let timeout: Int64
    private let client: HTTPClient
    /// The URL's hidden parts and the header values, scrubbed from an answer quoted in an
    /// error: an API that echoes the request must not put our key into the log.
    private let secrets: [String]

    /// How much of an answer's body is read: enough for an error message, and a bound on
    /// what a misbehaving CRM can make us hold.
    static let answerLimit = 2048

    /// Creates a handler; `timeout` is in milliseconds; `idempotencyHeader` (nil: none)
    /// carries the event's request id.
    package init(
        name: String, url: String, method: HTTPMethod, headers: [(String, String)], body: BodyTemplate, contentType: String,
        idempotencyHeader: String? = "Idempotency-Key", timeout: Int64, urlTemplate: URLTemplate? = nil
    ) {
        self.name = name
        self.url = url
        self.urlTemplate = urlTemplate
        shownURL = RedactedURL(url)
        self.method = method
        self.headers = headers
        self.body = body
        self.contentType = contentType
        self.idempotencyHeader = idempotencyHeader
        self.timeout = timeout
        // A header value whole and its last word (the token after `Bearer`); each hidden URL
        // part as written and percent-decoded. Short ones would scrub ordinary words.
        let fromHeaders = headers.flatMap { [$0.1, String($0.1.split(separator: " ").last ?? "")] }
        let fromURL = shownURL.hidden.flatMap { part in
            [part, Array(part.utf8).withUnsafeBufferPointer { URLEncodedFormDecoder.percentDecodedString($0) }]
        }
        // Longest first, so a secret containing a shorter one is scrubbed whole.
        secrets = Set((fromHeaders + fromURL).filter { $0.count >= 6 }).sorted { $0.count > $1.count }
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .milliseconds(min(timeout, 10_000)), read: .milliseconds(timeout))
        // RFC 9110 §15.4: following a 301/302/303 turns the POST into a GET (the event is
        // lost while the GET's 200 reads as delivered), and following any redirect may carry
        // the configured credentials to another origin or down from https to http.
        configuration.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Sends one request and waits for the answer (on a dispatcher thread, never an event loop).
    package func handle(_ delivery: Delivery) throws {
        var request: HTTPClient.Request
        var target = url
        if let urlTemplate {
            switch urlTemplate.render(delivery) {
            case .success(let built): target = built
            case .failure(let error): throw HandlerError.permanent(handler: name, reason: "\(error) \(shownURL)")
            }
        }
        do {
            request = try HTTPClient.Request(url: target, method: method)
        } catch {
            throw HandlerError.permanent(handler: name, reason: "bad url \(shownURL): \(error)")
        }
        request.headers.add(name: "Content-Type", value: contentType)
        request.headers.add(name: "User-Agent", value: "contact-listener/\(ListenerVersion.number)")
        if let idempotencyHeader { request.headers.add(name: idempotencyHeader, value: delivery.event.metadata.requestID) }
        for (header, value) in headers { request.headers.replaceOrAdd(name: header, value: value) }
        request.body = .bytes(body.render(delivery))
        let reader = BoundedResponseReader(limit: Self.answerLimit)
        let answer: BoundedResponseReader.Answer
        do {
            answer = try client.execute(request: request, delegate: reader, deadline: .now() + .milliseconds(timeout)).wait()
        } catch {
            // The reader ends a long answer by failing the request; what it read is the answer.
            guard error is BoundedResponseReader.LimitReached, let read = reader.answer else {
                throw HandlerError(handler: name, reason: "\(method) \(shownURL): \(error)")
            }
            answer = read
        }
        let status = Int(answer.head.status.code)
        if (200..<300).contains(status) { return }
        if (300..<400).contains(status) { throw redirectFailure(status: status, location: answer.head.headers.first(name: "Location")) }
        let reason = "\(method) \(shownURL) answered \(status): \(excerpt(answer.body))"
        if status == 429 || status >= 500 {
            let headers = answer.head.headers
            var wait = Self.retryAfter(headers.first(name: "Retry-After"))
            if status == 429 {
                // A 429 always slows the whole handler: at least a second, however it is worded.
                let reset = wait ?? Self.rateLimitReset(headers.first(name: "X-RateLimit-Reset") ?? headers.first(name: "x-sib-ratelimit-reset"))
                wait = max(reset ?? 0, Self.minimumPause)
            }
            throw HandlerError(handler: name, reason: reason, kind: .transient(retryAfter: wait))
        }
        throw HandlerError.permanent(handler: name, reason: reason)
    }

    /// The failure for a 3xx answer, naming where it pointed (redacted) so the operator can
    /// fix `url:`. Never followed: following would have to keep the method (RFC 9110 §15.4)
    /// and keep the credentials on their origin, and a wrong `url:` is better fixed than
    /// chased on every event.
    ///
    /// 301 and 308 say the URL is wrong for good (RFC 9110 §15.4.2, §15.4.9): a dead letter
    /// at once, which `spool retry` resends once the URL is fixed. 303 (§15.4.4) points at a
    /// result to fetch, so the CRM may or may not have acted on the request: a dead letter
    /// for the operator to judge rather than blind resends. 302 and 307 say the resource is
    /// elsewhere for now and that clients keep using the URL (§15.4.3, §15.4.8): retried on
    /// the schedule, like a 503. Other 3xx mean nothing for a POST: dead letters.
    private func redirectFailure(status: Int, location: String?) -> HandlerError {
        let target = location.map { "Location \(RedactedURL($0))" } ?? "no Location"
        return HandlerError(
            handler: name,
            reason: "\(method) \(shownURL) answered \(status) with \(target); redirects are not followed (one may change "
                + "the method or carry the credentials elsewhere): if the CRM moved, set url: to its new address",
            kind: status == 302 || status == 307 ? .transient(retryAfter: nil) : .permanent)
    }

    /// The start of an answer's body as text, the handler's secrets replaced by `[hidden]`.
    private func excerpt(_ body: [UInt8]) -> String {
        var text = String(decoding: body, as: UTF8.self)
        for secret in secrets where text.contains(secret) {
            text = text.replacing(secret, with: "[hidden]")
        }
        return text
    }

    /// Shuts the client down.
    package func close() {
        try? client.syncShutdown()
    }

    /// One request per delivery, in order, each while its lease holds. Once the backend asks
    /// to wait (a 429 or 503 with `Retry-After` or a rate-limit reset), the rest of the batch
    /// is not sent: the spool pauses the whole handler and gives them back untried.
    package func handle(batch: [Delivery]) -> [Result<Void, any Error>] {
        var results: [Result<Void, any Error>] = []
        results.reserveCapacity(batch.count)
        var waitAsked = false
        for delivery in batch {
            if waitAsked {
                results.append(.failure(NotAttempted(handler: name, reason: "the backend asked to wait after an earlier event of this batch")))
                continue
            }
            let result = Result<Void, any Error> {
                try delivery.checkLease()
                try handle(delivery)
            }
            if case .failure(let error) = result, ((error as? HandlerError)?.retryAfter ?? 0) > 0 { waitAsked = true }
            results.append(result)
        }
        return results
    }

    /// `Retry-After` in seconds, as milliseconds (an HTTP date falls back to the schedule).
    /// The spool pauses the whole handler that long, so a backend can ask for an hour at most.
    static func retryAfter(_ value: String?) -> Int64? {
        guard let value, let seconds = Int64(value.trimmingCharacters(in: " ")), seconds >= 0 else { return nil }
        return min(seconds, maxWaitSeconds) * 1_000
    }

    /// The longest wait a backend can ask for (an hour): a bad header must not stop a handler for days.
    static let maxWaitSeconds: Int64 = 3_600

    /// The shortest pause a 429 causes, in milliseconds.
    static let minimumPause: Int64 = 1_000

    /// A 429's rate-limit reset header, as milliseconds to wait: `X-RateLimit-Reset` is seconds
    /// to wait, or a Unix time when it is that large (in seconds, GitHub's style, or in
    /// milliseconds); Brevo's `x-sib-ratelimit-reset` is seconds to wait.
    static func rateLimitReset(_ value: String?, now: Int64 = Int64(Timestamp.unixNanoseconds() / 1_000_000)) -> Int64? {
        guard let value, let number = Int64(value.trimmingCharacters(in: " ")), number >= 0 else { return nil }
        let milliseconds: Int64
        if number > 100_000_000_000 {
            milliseconds = max(0, number - now)             // a Unix time in milliseconds
        } else if number > 1_000_000_000 {
            milliseconds = max(0, number * 1_000 - now)     // a Unix time in seconds
        } else {
            milliseconds = number * 1_000                   // seconds to wait
        }
        return min(milliseconds, maxWaitSeconds * 1_000)
    }

    /// `type: http`.
    package enum Factory: ContactHandlerFactory {
        package static let type = "http"
        package static let summary = "send each event to a CRM's API or any URL (JSON, or a template)"
        package static let options: [(name: String, help: String)] = [
            ("url", "where to send (required); ${ENV} works, e.g. https://api.example.com/contacts?key=${CRM_KEY}; {{…}} in the path or query, e.g. /members/{{md5:lowercase:trim:contact.email}}"),
            ("method", "POST (default), PUT or PATCH"),
            ("headers", "a mapping of header names to values, e.g. Authorization: \"Bearer ${CRM_TOKEN}\""),
            ("body", "omit to send the event's JSON; a mapping is a JSON template with {{contact.email}}, {{field:First Name}}, …; a string is a text template, values encoded for content_type"),
            ("content_type", "default application/json"),
            ("idempotency_header", "the header carrying the event's request id, the same on every retry (default Idempotency-Key; \"\" sends none)"),
            ("timeout", "per attempt, e.g. 10s (default)"),
        ]

        package static func make(_ configuration: HandlerConfiguration) throws(ConfigurationError) -> any ContactHandler {
            try checkKeys(configuration)
            let options = configuration.options
            guard let urlNode = options["url"] else { throw options.error("an http handler needs 'url'") }
            let url = try urlNode.string()
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw urlNode.error("expected an http:// or https:// URL, got '\(RedactedURL(url))'")
            }
            let urlTemplate = try URLTemplate.compile(url, at: urlNode)
            do {
                _ = try HTTPClient.Request(url: urlTemplate?.sample ?? url)
            } catch {
                throw urlNode.error("'\(RedactedURL(url))' is not a URL the client can send to (\(error)); percent-encode "
                    + "reserved characters such as @ : / ? # in the user name and password")
            }
            let methodText = try options["method"]?.string().uppercased() ?? "POST"
            guard ["POST", "PUT", "PATCH"].contains(methodText) else { throw options.error("method must be POST, PUT or PATCH") }
            var headers: [(String, String)] = []
            if let headerNode = options["headers"] {
                try headerNode.requireMapping(allowed: headerNode.keys)
                for key in headerNode.keys {
                    try requireHeaderName(key, at: headerNode[key] ?? headerNode)
                    headers.append((key, try headerNode[key]?.string() ?? ""))
                }
            }
            let contentType = try options["content_type"]?.string() ?? "application/json"
            var idempotencyHeader: String? = "Idempotency-Key"
            if let node = options["idempotency_header"] {
                let value = try node.string()
                if !value.isEmpty { try requireHeaderName(value, at: node) }
                idempotencyHeader = value.isEmpty ? nil : value
            }
            let timeout = try options["timeout"]?.duration(in: 1...3_600_000) ?? 10_000
            let body = try BodyTemplate.compile(options["body"], contentType: contentType)
            if body == .eventJSON, BodyEncoding(contentType: contentType) != .json, let node = options["content_type"] {
                throw node.error("without body the event's JSON is sent, so content_type must be application/json (or …+json), "
                    + "not '\(contentType)'; for a form body write a text template like \"email={{contact.email}}\"")
            }
            return HTTPForwardHandler(
                name: configuration.name, url: url, method: HTTPMethod(rawValue: methodText), headers: headers,
                body: body, contentType: contentType, idempotencyHeader: idempotencyHeader, timeout: timeout, urlTemplate: urlTemplate)
        }

        /// Throws at `node` unless `name` is a header name: RFC 9110 §5.6.2, a non-empty
        /// `token` of `tchar`s (AsyncHTTPClient would refuse it on every attempt instead).
        static func requireHeaderName(_ name: String, at node: ConfigNode) throws(ConfigurationError) {
            let valid = !name.isEmpty && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"):
                    return true
                default:
                    return "!#$%&'*+-.^_`|~".utf8.contains(byte)
                }
            }
            guard valid else { throw node.error("'\(name)' is not a header name (RFC 9110 allows letters, digits and !#$%&'*+-.^_`|~)") }
        }
    }
}
