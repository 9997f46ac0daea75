/// Byte comparisons whose running time doesn't depend on where two values differ, so a
/// client can't learn a secret a byte at a time by timing the answers.
import ContactListenerKit
enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes.
    ///
    /// Only the lengths may shape the running time: every caller compares fixed-size
    /// values (digests and MACs), whose lengths are public.
    static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices {
            difference |= a[index] ^ b[index]
        }
        return difference == 0
    }

    /// Whether any of `candidates` equals any of `expected`.
    ///
    /// Every pair is compared, even after a match, so the time taken doesn't reveal which
    /// configured secret (old or new, during a rotation) matched, or how early.
    static func containsMatch(_ candidates: [[UInt8]], in expected: [[UInt8]]) -> Bool {
        var matches: UInt8 = 0
        for candidate in candidates {
            for value in expected {
                // Accumulated with `|=` rather than returned at the first match.
                matches |= equals(candidate, value) ? 1 : 0
            }
        }
        return matches != 0
    }
}
