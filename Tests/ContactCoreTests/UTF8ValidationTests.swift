import Testing
@testable import ContactCore

/// `UTF8Validation.isValid` must accept exactly the bytes `String(decoding:as:)` keeps as
/// they are: the arena stores valid bytes unchanged and repairs only the rest.
@Suite("UTF-8 validation")
struct UTF8ValidationTests {
    static func kept(_ bytes: [UInt8]) -> Bool { Array(String(decoding: bytes, as: UTF8.self).utf8) == bytes }

    @Test(arguments: [
        ([], true), ([0x41], true), ([0xC3, 0xA9], true), ([0xE2, 0x80, 0xA8], true), ([0xF0, 0x9F, 0x98, 0x80], true),
        ([0xF4, 0x8F, 0xBF, 0xBF], true), ([0xEF, 0xBF, 0xBD], true), ([0xED, 0x9F, 0xBF], true),
        ([0xC0, 0x80], false), ([0xC1, 0xBF], false), ([0xE0, 0x80, 0x80], false), ([0xE0, 0x9F, 0xBF], false),
        ([0xED, 0xA0, 0x80], false), ([0xF0, 0x8F, 0xBF, 0xBF], false), ([0xF4, 0x90, 0x80, 0x80], false),
        ([0xF5, 0x80, 0x80, 0x80], false), ([0xFF], false), ([0x80], false), ([0xC3], false), ([0xE2, 0x80], false),
        ([0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0xC3], false), ([0xC3, 0x41], false),
    ] as [([UInt8], Bool)])
    func table(bytes: [UInt8], valid: Bool) {
        #expect(Self.kept(bytes) == valid)
        #expect(bytes.withUnsafeBufferPointer { UTF8Validation.isValid($0) } == valid)
    }

    @Test("random bytes", arguments: 0..<4)
    func random(batch: Int) {
        var rng = SeededGenerator(seed: 0x07F8_0000 + UInt64(batch))
        let pieces: [[UInt8]] = [[0x41], [0x20, 0x7E], [0xC3, 0xA9], [0xE2, 0x80, 0xA8], [0xF0, 0x9F, 0x98, 0x80], [0x80], [0xBF],
                                 [0xC0], [0xC2], [0xE0], [0xED], [0xEF], [0xF0], [0xF4], [0xF5], [0xFF], [0x90], [0xA0]]
        for _ in 0..<5000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &rng) { bytes += rng.pick(pieces) }
            #expect(bytes.withUnsafeBufferPointer { UTF8Validation.isValid($0) } == Self.kept(bytes), "\(bytes)")
        }
    }
}
