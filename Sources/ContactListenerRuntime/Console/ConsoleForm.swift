import ContactListenerKit

/// A console form or query string, decoded by the listener's own PHP-rules decoder with
/// small limits; anything it refuses reads as an empty form (every page then says what is
/// missing).
struct ConsoleForm: Sendable {
    private let form: FormArray

    /// The console's forms have a handful of fields and at most a page of event ids.
    private static let limits = FormLimits(maxBodyBytes: 256 * 1024, maxVars: 400, maxDepth: 2, maxKeyBytes: 256, maxValueBytes: 16 * 1024)

    /// A POST body (`application/x-www-form-urlencoded`).
    init(body: [UInt8]) {
        form = (try? URLEncodedFormDecoder(limits: Self.limits).decode(body)) ?? FormArray()
    }

    /// A query string.
    init(query: String) {
        form = (try? URLEncodedFormDecoder(limits: Self.limits).decode(Array(query.utf8))) ?? FormArray()
    }

    /// The single value of `name`; nil when absent or an array.
    subscript(name: String) -> String? { form[name]?.stringValue }

    /// The values of `name[]`.
    func all(_ name: String) -> [String] {
        form[name]?.arrayValue?.values.compactMap(\.stringValue) ?? []
    }
}
