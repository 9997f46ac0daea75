/// Why the pipeline could not accept a request, and the status that says so.
import ContactListenerKit
package enum PipelineError: Error, Sendable, CustomStringConvertible {
    /// A method other than GET or POST.
    case methodNotAllowed(String)
    /// A `verify:` rule refused the request (401, 403 or 405).
    case verification(VerificationFailure)
    /// A body type the listener doesn't decode.
    case unsupportedMediaType(String)
    /// The request could not be read.
    case request(RequestError)
    /// The parameters could not be decoded.
    case form(FormError)
    /// The parameters don't form a contact event.
    case event(EventError)
    /// A handler could not store the event.
    case handler(HandlerError)
    /// The same transaction is being stored by a concurrent request (no spool).
    case concurrentDuplicate(ConcurrentDuplicate)

    /// The one-line message sent to the client. A storage failure says only that it
    /// happened: a handler's error can name a CRM's URL or quote its answer, which are the
    /// operator's business, not the caller's (`detail` has them, for the log).
    package var description: String {
        switch self {
        case .methodNotAllowed(let method):
            return "method \(method.prefix(16)) is not allowed; send GET or POST"
        case .unsupportedMediaType(let type):
            return "Content-Type '\(type.prefix(64))' is not supported; send application/x-www-form-urlencoded, multipart/form-data or application/json"
        case .verification(let failure): return failure.description
        case .request(let error): return error.description
        case .form(let error): return error.description
        case .event(let error): return error.description
        case .handler: return "the event could not be stored; nothing was acknowledged, send it again later (the listener's log says why)"
        case .concurrentDuplicate(let error): return error.description
        }
    }

    /// The message for the log and the status page: `description`, with the handler's own
    /// error for a storage failure.
    package var detail: String {
        if case .handler(let error) = self {
            return "the event could not be stored (\(error)); nothing was acknowledged"
        }
        return description
    }

    /// The HTTP status: 4xx for the client's faults, 503 when storage failed.
    package var status: Int {
        switch self {
        case .methodNotAllowed: return 405
        case .verification(let failure): return failure.status
        case .unsupportedMediaType: return 415
        case .request(.bodyTooLarge): return 413
        case .request(.headersTooLarge): return 431
        case .request(.readFailed): return 400
        case .request: return 400
        case .form(let error): return error.isSizeLimit ? 413 : 400
        case .event: return 400
        case .handler: return 503
        case .concurrentDuplicate: return 409
        }
    }
}

extension Error {
    /// The status for any error reaching the top of the pipeline.
    var status: Int { (self as? PipelineError)?.status ?? 503 }
}
