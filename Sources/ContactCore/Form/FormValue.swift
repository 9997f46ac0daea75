/// A decoded request parameter: a string leaf, or an ordered PHP-style array.
///
/// This is the generic tree that PHP's `$_POST` holds; `ContactEvent` is built from it.
public enum FormValue: Sendable, Equatable {
    /// A leaf: every value the platform sends stays the string that was sent.
    case string(String)
    /// A nested array (`contact[email]`, `fields[0][name]`).
    case array(FormArray)

    /// The leaf string, or nil for an array.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The nested array, or nil for a leaf.
    public var arrayValue: FormArray? {
        if case .array(let array) = self { return array }
        return nil
    }

    /// Merges `other` into `self` as PHP's `php_autoglobal_merge` builds `$_REQUEST`:
    /// where both sides hold an array under a key they merge recursively, otherwise `other` wins.
    public mutating func merge(_ other: FormValue) {
        guard case .array(let source) = other, case .array(var target) = self else {
            self = other
            return
        }
        self = .string("")  // release the payload so `target` stays uniquely referenced
        target.merge(source)
        self = .array(target)
    }
}
