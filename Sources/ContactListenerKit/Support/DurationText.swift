/// Durations as people write them in configs and options: `250ms`, `5s`, `5m`, `2h`, `7d`.
package enum DurationText {
    /// The duration in milliseconds, or nil when `text` isn't one (plain numbers are milliseconds).
    package static func milliseconds(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            // Finite and within Int64 (about 292 million years): `1e20ms` and `infs` are no duration.
            if let value = Double(number), value >= 0, value * Double(factor) < 9.2e18 { return Int64(value * Double(factor)) }
        }
        if let value = Int64(text), value >= 0 { return value }
        return nil
    }
}

extension ConfigNode {
    /// This scalar as a duration in milliseconds, within `range` when given.
    public func duration(in range: ClosedRange<Int64>? = nil) throws(ConfigurationError) -> Int64 {
        let text = try string()
        guard let value = DurationText.milliseconds(text) else {
            throw error("expected a duration like 250ms, 10s, 5m, 2h or 7d, got '\(text)'")
        }
        if let range, !range.contains(value) {
            throw error("must be between \(range.lowerBound) ms and \(range.upperBound) ms, got '\(text)'")
        }
        return value
    }
}
