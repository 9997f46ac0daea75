import Testing
@testable import ContactCore

/// `Timestamp.format` writes its 24 bytes in place; these pin the output,
/// including padding and the fallback for a year beyond 9999.
@Suite("Timestamps")
struct TimestampTests {
    static let cases: [(seconds: Int, milliseconds: Int, expected: String)] = [
        (0, 0, "1970-01-01T00:00:00.000Z"),
        (951_782_400, 5, "2000-02-29T00:00:00.005Z"),
        (1_795_000_000, 70, "2026-11-18T11:06:40.070Z"),
        (253_402_300_799, 999, "9999-12-31T23:59:59.999Z"),
        (253_402_300_800, 1, "10000-01-01T00:00:00.001Z"),
    ]

    @Test(arguments: cases)
    func formats(_ example: (seconds: Int, milliseconds: Int, expected: String)) {
        #expect(Timestamp.format(seconds: example.seconds, milliseconds: example.milliseconds) == example.expected)
    }

    @Test func formatsMillisecondsSinceTheEpoch() {
        #expect(Timestamp.format(milliseconds: 1_795_000_000_123) == "2026-11-18T11:06:40.123Z")
    }
}
