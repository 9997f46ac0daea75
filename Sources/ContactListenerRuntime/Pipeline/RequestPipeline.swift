import ContactListenerKit
import ListenerSupport
import Logging

/// The one path from a request to an answer: check the method, decode the parameters
/// with PHP's rules, build the contact event, hand it to every handler, answer.
///
/// FastCGI worker threads and the CGI gateway both call `respond(to:)`; it never throws
/// and never crashes on input: every failure becomes a 4xx/503 JSON answer and a log line.
package final class RequestPipeline: Sendable {
    /// The configuration in force.
    package let configuration: ListenerConfiguration
    /// Where accepted events go before the answer.
    package let sink: any EventSink
    /// The numbers behind the status page (the process's, shared across reloads).
    /// Nil in CGI mode and for `drain`: one request per process, nobody to read the page,
    /// and building the Prometheus registry would cost every CGI request.
    package let board: StatusBoard?
    private let spool: Spool?
    /// The operator's console, when configured (it needs the spool).
    private let console: Console?
    private let logger: Logger
    private let requestIDs = RequestIDGenerator()

    /// Creates a pipeline; `spool` feeds the status page's spool section and the console.
    package init(configuration: ListenerConfiguration, sink: any EventSink, logger: Logger, spool: Spool? = nil, board: StatusBoard?) {
        self.configuration = configuration
        self.board = board
        self.sink = sink
        self.logger = logger
        self.spool = spool
        if let settings = configuration.console, let spool {
            console = Console(listener: configuration, console: settings, spool: spool, board: board, logger: logger)
        } else {
            console = nil
        }
    }

    /// The path the request was made to (`REQUEST_URI` without its query).
    static func path(of request: Request) -> String {
        if let uri = request.params["REQUEST_URI"], !uri.isEmpty {
            return String(uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        }
        if let document = request.params["DOCUMENT_URI"] { return document }
        return (request.params["SCRIPT_NAME"] ?? "") + (request.params["PATH_INFO"] ?? "")
    }

    /// The ping and status pages and the console, when the request is for one of them.
    private func servicePage(for request: Request) -> Response? {
        guard configuration.pingPath != nil || configuration.statusPath != nil || console != nil else { return nil }
        let path = Self.path(of: request)
        if let console, console.serves(path) { return console.respond(to: request, path: path) }
        if path == configuration.pingPath {
            return Response(status: 200, body: Array("pong\n".utf8), contentType: "text/plain")
        }
        guard path == configuration.statusPath, let board else { return nil }
        do {
            let verified = try verify(request)
            return StatusPage(
                snapshot: board.snapshot(), threads: configuration.threads,
                spool: try? spool?.status(), prometheus: board.registry.emitToBuffer()
            ).response(query: verified.query)
        } catch {
            return .error(error.status, error.description)
        }
    }

    /// Answers `request`, logging one line.
    package func respond(to request: Request) -> Response {
        if let page = servicePage(for: request) { return page }
        let started = Timestamp.monotonicNanoseconds()
        board?.begin()
        let requestID = requestIDs.next()
        var transactionID: String? = nil
        let response: Response
        var failure: String? = nil
        var duplicate = false
        var clientAddress = request.remoteAddress
        do throws(PipelineError) {
            let verified = try verify(request)
            clientAddress = verified.clientAddress
            let encoded = try encodeEvent(from: request, requestID: requestID, verified: verified)
            transactionID = encoded.transactionID
            let delivery = try delivery(of: encoded, requestID: requestID)
            let acceptance: Acceptance
            do {
                // Replays inside the signature's tolerance are deduplicated on the
                // transaction id, or on webhook-id when there is none (SECURITY.md, "Replays").
                acceptance = try sink.accept(
                    delivery,
                    dedupKey: Spool.dedupKey(encoded.transactionID) ?? verified.webhookID.flatMap { Spool.dedupKey("webhook-id:" + $0) })
            } catch let error as HandlerError {
                throw PipelineError.handler(error)
            } catch let error as ConcurrentDuplicate {
                throw PipelineError.concurrentDuplicate(error)
            } catch {
                throw PipelineError.handler(HandlerError(handler: "sink", reason: "\(error)"))
            }
            response = Self.accepted(transactionID: encoded.transactionID, requestID: requestID, duplicate: acceptance == .duplicate)
            duplicate = acceptance == .duplicate
        } catch {
            response = .error(error.status, error.description)
            failure = error.detail
        }
        log(request.method, clientAddress, response, bodyBytes: request.body.count,
            started: started, requestID: requestID, transactionID: transactionID, failure: failure, duplicate: duplicate)
        return response
    }

    /// Answers a request whose body could not be read (too large, truncated), logging one line.
    package func respond(toUnreadable error: RequestError, params: RequestParameters) -> Response {
        let started = Timestamp.monotonicNanoseconds()
        board?.begin()
        let failure = PipelineError.request(error)
        let response = Response.error(failure.status, failure.description)
        log(params["REQUEST_METHOD"] ?? "-", params["REMOTE_ADDR"], response,
            bodyBytes: Int(params["CONTENT_LENGTH"] ?? "") ?? 0, started: started,
            requestID: requestIDs.next(), transactionID: nil, failure: failure.description, duplicate: false)
        return response
    }

    /// Applies the `verify:` rules; the accepted request carries the token-free query.
    package func verify(_ request: Request) throws(PipelineError) -> VerifiedRequest {
        switch configuration.verify.verify(request, now: Int(Timestamp.unixNanoseconds() / 1_000_000_000)) {
        case .accepted(let verified): return verified
        case .rejected(let failure): throw .verification(failure)
        }
    }

    /// Decodes an accepted request into a contact event's JSON (`decode` passes a local
    /// file's request here without `verify:` rules: it did not come from the network).
    package func encodeEvent(from request: Request, requestID: String, verified: VerifiedRequest) throws(PipelineError) -> EventEncoder.Output {
        if verified.bodyIsSigned && request.method == "GET" { throw .verification(.unsignedQuery) }
        let form = try decodeParameters(request, query: verified.eventQuery)
        let metadata = EventMetadata(
            receivedAt: Timestamp.now(), remoteAddress: verified.clientAddress, requestID: requestID,
            method: request.method, mode: EventEncoder.mode(of: form, method: request.method))
        do {
            return try EventEncoder.encode(form, metadata: metadata)
        } catch {
            throw .event(error)
        }
    }

    /// The delivery for the sink: the JSON alone, or with the typed event read back from it
    /// when a handler reads that before the answer.
    private func delivery(of encoded: EventEncoder.Output, requestID: String) throws(PipelineError) -> Delivery {
        guard sink.needsEvent else {
            return Delivery(
                encodedJSON: encoded.json, requestID: requestID, transactionID: encoded.transactionID,
                contactID: encoded.contactID, contactEmail: encoded.contactEmail)
        }
        do {
            return Delivery(event: try ContactEvent(storedJSON: encoded.json), json: encoded.json)
        } catch {
            // The encoder's JSON always reads back (the fuzzers check it); if it ever did
            // not, the event is not acknowledged rather than handed on half-read.
            throw .handler(HandlerError(handler: "event", reason: "the event's JSON does not read back: \(error)"))
        }
    }

    /// The request's parameters as PHP's `$_REQUEST` would hold them: the query string,
    /// then (for a POST) the body decoded by its Content-Type, the body winning.
    /// `query` replaces `QUERY_STRING` (the verified query has the token taken out).
    package func decodeParameters(_ request: Request, query: String? = nil) throws(PipelineError) -> FormArena {
        let method = request.method
        guard method == "GET" || method == "POST" else { throw .methodNotAllowed(method) }
        let limits = configuration.limits
        let queryText = query ?? request.queryString
        let decoder = URLEncodedFormDecoder(limits: limits)
        var queryForm: FormArena? = nil
        if !queryText.isEmpty || method == "GET" {
            do throws(FormError) {
                queryForm = try decoder.decodeArena(Array(queryText.utf8))
            } catch {
                throw .form(error)
            }
        }
        guard method == "POST" else { return queryForm ?? FormArena() }
        let format = try BodyFormat(of: request)
        do throws(FormError) {
            let body = try request.body.withUnsafeBufferPointer { (bytes) throws(FormError) in try format.decode(bytes, limits: limits) }
            guard let queryForm else { return body }
            // `$_REQUEST` order "GP": the body's parameters win over the query's, merged
            // as PHP merges them (`php_autoglobal_merge`), on trees: a POST with both is rare.
            var merged = queryForm.tree()
            merged.merge(body.tree())
            return FormArena(tree: merged)
        } catch {
            throw .form(error)
        }
    }

    /// How a POST body is decoded, from its Content-Type.
    private enum BodyFormat {
        case empty, urlEncoded, multipart(boundary: String), json

        /// The format of `request`'s body, or why it has none the listener decodes.
        init(of request: Request) throws(PipelineError) {
            guard let contentType = request.contentType else {
                guard request.body.isEmpty else { throw .unsupportedMediaType("(none)") }
                self = .empty
                return
            }
            switch MediaType.of(contentType) {
            case "application/x-www-form-urlencoded":
                self = .urlEncoded
            case "multipart/form-data":
                guard let boundary = MultipartFormDecoder.boundary(fromContentType: contentType) else {
                    throw .form(.invalidMultipart(reason: "Content-Type has no boundary parameter"))
                }
                self = .multipart(boundary: boundary)
            case "application/json", "text/json":
                self = .json
            case let other where other.hasSuffix("+json"):
                self = .json
            case let other:
                throw .unsupportedMediaType(other)
            }
        }

        /// Decodes `body` in this format.
        func decode(_ body: UnsafeBufferPointer<UInt8>, limits: FormLimits) throws(FormError) -> FormArena {
            switch self {
            case .empty: return FormArena()
            case .urlEncoded: return try URLEncodedFormDecoder(limits: limits).decodeArena(body)
            case .multipart(let boundary): return try MultipartFormDecoder(limits: limits).decodeArena(body, boundary: boundary)
            case .json: return FormArena(tree: try JSONFormDecoder(limits: limits).decode(body))
            }
        }
    }

    /// `{"ok":true,"transactionid":"…","request_id":"…"}`, plus `"duplicate":true` for a
    /// transaction the spool already holds.
    static func accepted(transactionID: String?, requestID: String, duplicate: Bool) -> Response {
        var writer = JSONWriter(capacity: 128)
        writer.beginObject()
        writer.key("ok")
        writer.bool(true)
        writer.key("transactionid")
        writer.optionalString(transactionID)
        writer.key("request_id")
        writer.string(requestID)
        if duplicate {
            writer.key("duplicate")
            writer.bool(true)
        }
        writer.endObject()
        writer.bytes.append(UInt8(ascii: "\n"))
        return Response(status: 200, body: writer.bytes)
    }

    private func log(
        _ method: String, _ remoteAddress: String?, _ response: Response, bodyBytes: Int, started: UInt64,
        requestID: String, transactionID: String?, failure: String?, duplicate: Bool
    ) {
        let nanoseconds = Timestamp.monotonicNanoseconds() &- started
        board?.finish(status: response.status, nanoseconds: nanoseconds, error: failure)
        let elapsed = Double(nanoseconds) / 1_000_000
        let milliseconds = (elapsed * 100).rounded() / 100
        var metadata: Logger.Metadata = [
            "method": .string(method),
            "status": .stringConvertible(response.status),
            "bytes": .stringConvertible(bodyBytes),
            "ms": .stringConvertible(milliseconds),
            "request_id": .string(requestID),
            "remote_addr": .string(remoteAddress ?? "-"),
            "transactionid": .string(transactionID ?? "-"),
        ]
        let level: Logger.Level
        switch response.status {
        case 200..<400: level = .info
        case 400..<500: level = .warning
        default: level = .error
        }
        if let failure { metadata["error"] = .string(failure) }
        if duplicate { metadata["duplicate"] = "true" }
        logger.log(level: level, "request", metadata: metadata)
    }
}
