import Foundation
import Testing
@testable import ContactCore

/// PHP itself (php-cgi, reading a real request body) is the oracle for the shapes of
/// multipart request the platform, browsers and hand-written senders produce: `,` or `;`
/// before `boundary=`, quoted and unquoted boundaries in any case, CRLF, LF and mixed line
/// endings. Whatever PHP decodes, we decode to the same `$_POST`.
@Suite("Multipart decoder vs php-cgi", .enabled(if: PHPCGI.isAvailable, "php-cgi is not installed at /usr/bin/php-cgi"))
struct MultipartPHPTests {
    /// `$_POST` as we make it, rendered as PHP's `json_encode` would, or why we refused.
    static func ours(contentType: String, body: [UInt8]) -> String {
        guard MediaType.of(contentType) == "multipart/form-data" else { return "not multipart: \(MediaType.of(contentType))" }
        guard let boundary = MultipartFormDecoder.boundary(fromContentType: contentType) else { return "no boundary" }
        do {
            return try MultipartFormDecoder(phpNameMangling: true).decode(body, boundary: boundary).phpJSON
        } catch {
            return "threw \(error)"
        }
    }

    /// A body whose lines end with `ending`: two fields, one of them on several lines.
    static func body(_ boundary: String, _ ending: String) -> String {
        "--\(boundary)\(ending)Content-Disposition: form-data; name=\"contact[email]\"\(ending)\(ending)ann@example.com\(ending)"
            + "--\(boundary)\(ending)Content-Disposition: form-data; name=\"fields[0][value]\"\(ending)\(ending)line 1\(ending)line 2\(ending)"
            + "--\(boundary)--\(ending)"
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var contentType: String
        var body: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "semicolon, CRLF", contentType: "multipart/form-data; boundary=AaB03x", body: body("AaB03x", "\r\n")),
        Case(name: "comma, CRLF", contentType: "multipart/form-data, boundary=AaB03x", body: body("AaB03x", "\r\n")),
        Case(name: "comma without space", contentType: "multipart/form-data,boundary=AaB03x", body: body("AaB03x", "\r\n")),
        Case(name: "space and comma, upper-case type", contentType: "Multipart/Form-Data , boundary=AaB03x", body: body("AaB03x", "\r\n")),
        Case(name: "comma, quoted boundary with a space", contentType: "multipart/form-data, boundary=\"Aa B03x\"", body: body("Aa B03x", "\r\n")),
        Case(name: "semicolon, quoted boundary with ; and ,", contentType: "multipart/form-data; boundary=\"a;b,c\"", body: body("a;b,c", "\r\n")),
        Case(name: "a parameter before the boundary", contentType: "multipart/form-data; charset=UTF-8, boundary=XyZ", body: body("XyZ", "\r\n")),
        Case(name: "a parameter after the boundary", contentType: "multipart/form-data, boundary=XyZ; charset=UTF-8", body: body("XyZ", "\r\n")),
        Case(name: "LF only", contentType: "multipart/form-data; boundary=AaB03x", body: body("AaB03x", "\n")),
        Case(name: "comma and LF only", contentType: "multipart/form-data, boundary=AaB03x", body: body("AaB03x", "\n")),
        Case(name: "the boundary's case is its own", contentType: "multipart/form-data; boundary=MiXeD", body: body("MiXeD", "\n")),
        Case(name: "mixed endings", contentType: "multipart/form-data; boundary=XyZ",
             body: "--XyZ\nContent-Disposition: form-data; name=\"a\"\r\n\n1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"b\"\n\r\nx\r\ny\n--XyZ--"),
        Case(name: "one CR before the delimiter belongs to the line break", contentType: "multipart/form-data; boundary=XyZ",
             body: "--XyZ\nContent-Disposition: form-data; name=\"a\"\n\n1\r\r\n--XyZ\nContent-Disposition: form-data; name=\"b\"\n\n2\n\n--XyZ--\n"),
        Case(name: "LF preamble and epilogue", contentType: "multipart/form-data; boundary=XyZ",
             body: "preamble\n\n--XyZ\nContent-Disposition: form-data; name=\"a\"\n\n1\n--XyZ--\nepilogue\n"),
        Case(name: "LF, a file part is skipped", contentType: "multipart/form-data; boundary=XyZ",
             body: "--XyZ\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\nContent-Type: text/plain\n\nfile\n--XyZ\nContent-Disposition: form-data; name=\"a\"\n\n1\n--XyZ--\n"),
        Case(name: "LF, a part without headers is skipped", contentType: "multipart/form-data; boundary=XyZ",
             body: "--XyZ\n\nnothing\n--XyZ\nContent-Disposition: form-data; name=\"a\"\n\n1\n--XyZ--\n"),
        Case(name: "LF, an empty value", contentType: "multipart/form-data; boundary=XyZ",
             body: "--XyZ\nContent-Disposition: form-data; name=\"a\"\n\n\n--XyZ--\n"),
        Case(name: "LF, a line that only starts with the delimiter ends the value", contentType: "multipart/form-data; boundary=XyZ",
             body: "--XyZ\nContent-Disposition: form-data; name=\"a\"\n\n1\n--XyZnot\nmore\n--XyZ\nContent-Disposition: form-data; name=\"b\"\n\n2\n--XyZ--\n"),
        Case(name: "LF, the delimiter right after the blank line is value", contentType: "multipart/form-data; boundary=XyZ",
             body: "--XyZ\nContent-Disposition: form-data; name=\"a\"\n\n--XyZ\nContent-Disposition: form-data; name=\"b\"\n\n2\n--XyZ--\n"),
        Case(name: "LF, folded header lines", contentType: "multipart/form-data; boundary=XyZ",
             body: "--XyZ\nContent-Disposition: form-data;\n name=\"a\"\n\n1\n--XyZ--\n"),
        Case(name: "LF, the platform's nested names", contentType: "multipart/form-data; boundary=XyZ",
             body: "--XyZ\nContent-Disposition: form-data; name=\"fields[0][name]\"\n\nFirst Name\n--XyZ\nContent-Disposition: form-data; name=\"fields[0][value]\"\n\nAnn\n--XyZ\nContent-Disposition: form-data; name=\"lead-status[score]\"\n\n5\n--XyZ--\n"),
        Case(name: "only the closing delimiter", contentType: "multipart/form-data; boundary=XyZ", body: "--XyZ--\n"),
        // What PHP reads that a careful parser might not: each of these once decoded
        // differently here, letting a sender drop or add a field.
        Case(name: "a part after the closing delimiter is read", contentType: "multipart/form-data; boundary=B",
             body: "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B--\r\n--B\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--B--"),
        Case(name: "a closing delimiter in the preamble closes nothing", contentType: "multipart/form-data; boundary=B",
             body: "--B--\r\n--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B--\r\n"),
        Case(name: "a NUL ends a delimiter line's content", contentType: "multipart/form-data; boundary=B",
             body: "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B\u{0}x\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--B--\r\n"),
        Case(name: "a header line starting with NUL ends the headers", contentType: "multipart/form-data; boundary=B",
             body: "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\u{0}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nevil\r\n--B--\r\n"),
        Case(name: "a space after boundary= is part of it", contentType: "multipart/form-data; boundary= B",
             body: "-- B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n-- B--\r\n--B\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--B--\r\n"),
        Case(name: "a space before ; is part of the boundary", contentType: "multipart/form-data; boundary=B ;x=y",
             body: "--B \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B --\r\n--B\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--B--\r\n"),
        Case(name: "the first 'boundary' counts, even inside another parameter", contentType: "multipart/form-data; xboundary=A; boundary=B",
             body: "--A\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--A--\r\n--B\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--B--\r\n"),
        // PHP reads a line without its LF in 5120 bytes in 5120-byte pieces.
        Case(name: "a header padded to 5120 bytes: its rest is a header of its own", contentType: "multipart/form-data; boundary=B",
             body: "--B\r\nContent-Disposition: form-data; name=\"a\"; pad=\"" + String(repeating: "x", count: 5100) + "\r\nFoo: y\"; name=\"email\"\r\n\r\nevil\r\n--B--\r\n"),
        Case(name: "a 5120-byte preamble piece, then a delimiter on the same line", contentType: "multipart/form-data; boundary=B",
             body: String(repeating: "p", count: 5120) + "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B--\r\n"),
        Case(name: "a long preamble line, then a delimiter line", contentType: "multipart/form-data; boundary=B",
             body: String(repeating: "-", count: 12_000) + "\r\n--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B--\r\n"),
        Case(name: "a header line of 5119 bytes before its LF is whole", contentType: "multipart/form-data; boundary=B",
             body: "--B\r\nContent-Disposition: form-data; name=\"a\"; x=\"" + String(repeating: "x", count: 5062) + "\"; name=\"b\"\r\n\r\n1\r\n--B--\r\n"),
        Case(name: "a header line of 5120 bytes before its LF is cut before it", contentType: "multipart/form-data; boundary=B",
             body: "--B\r\nContent-Disposition: form-data; name=\"a\"; x=\"" + String(repeating: "x", count: 5063) + "\"; name=\"b\"\r\n\r\n1\r\n--B--\r\n"),
        Case(name: "a header's second 5120-byte piece is a header of its own", contentType: "multipart/form-data; boundary=B",
             body: "--B\r\nX-Pad: " + String(repeating: "x", count: 5120 - 7) + "Content-Disposition: form-data; name=\"email\"\r\n\r\nann@example.com\r\n--B--\r\n"),
        Case(name: "BOUNDARY when there is no lower-case one", contentType: "multipart/form-data; BOUNDARY=Up",
             body: "--Up\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--Up--\r\n"),
    ]

    @Test(arguments: cases)
    func sameAsPHP(_ testCase: Case) throws {
        let body = Array(testCase.body.utf8)
        let php = try PHPCGI.post(contentType: testCase.contentType, body: body)
        #expect(Self.ours(contentType: testCase.contentType, body: body) == php, "\(testCase.body.debugDescription)")
        #expect(php != "[]" || testCase.name == "only the closing delimiter", "php decoded nothing: the case shows no parity")
    }

    /// Random forms from the multipart generator, their line breaks (in the structure and
    /// in the values) each turned to LF or kept, sent with `;` or `,` before the boundary.
    @Test("random forms with LF and CRLF line breaks", arguments: 0..<2)
    func randomEndings(batch: Int) throws {
        var rng = SeededGenerator(seed: 0x3016_0000 + UInt64(batch))
        var report = MismatchReport("multipart vs php-cgi, batch \(batch)")
        for _ in 0..<40 {
            var pairs: [MultipartDifferentialTests.Pair] = []
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                var name = ""
                for _ in 0..<Int.random(in: 1...4, using: &rng) { name += rng.pick(MultipartDifferentialTests.nameAtoms) }
                var value = ""
                for _ in 0..<Int.random(in: 0...4, using: &rng) { value += rng.pick(MultipartDifferentialTests.valueAtoms) }
                pairs.append(.init(name: Array(name.utf8), value: Array(value.utf8)))
            }
            let boundary = "----x\(rng.next() % 1_000_000_007)"
            let crlf = MultipartDifferentialTests.multipart(pairs, boundary: boundary, rng: &rng)
            var body: [UInt8] = []
            var index = 0
            while index < crlf.count {
                if crlf[index] == UInt8(ascii: "\r"), index + 1 < crlf.count, crlf[index + 1] == UInt8(ascii: "\n"), rng.chance(70) {
                    index += 1  // drop the CR
                    continue
                }
                body.append(crlf[index])
                index += 1
            }
            let contentType = rng.chance(50) ? "multipart/form-data, boundary=\(boundary)" : "multipart/form-data; boundary=\(boundary)"
            let php = try PHPCGI.post(contentType: contentType, body: body)
            report.check(input: "\(contentType)\n\(String(decoding: body, as: UTF8.self))", expected: php, actual: Self.ours(contentType: contentType, body: body))
        }
        report.finish()
    }
}
