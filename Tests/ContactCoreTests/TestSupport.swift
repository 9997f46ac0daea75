import Foundation
import Testing
@testable import ContactCore

// Shared helpers for the decoder tests: decoding a string the way the PHP comparisons
// need it, a seeded random generator, and a batch runner for php-cli.

/// Decodes `query` with PHP's top-level name mangling on, so the result compares byte
/// for byte with `json_encode(parse_str(...))`.
func phpDecode(_ query: String, limits: FormLimits = .default) throws(FormError) -> String {
    try URLEncodedFormDecoder(limits: limits, phpNameMangling: true).decode(Array(query.utf8)).phpJSON
}

/// Decodes `query` the way the listener does (names kept as sent).
func listenerDecode(_ query: String, limits: FormLimits = .default) throws(FormError) -> FormArray {
    try URLEncodedFormDecoder(limits: limits).decode(Array(query.utf8))
}

/// SplitMix64: tiny, fast and fully determined by its seed, so a failing random case
/// can be replayed from the seed printed with it (the system generator can't be seeded).
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SeededGenerator {
    /// A random element of a non-empty array (no force-unwrap: an empty pool is a test bug).
    mutating func pick<T>(_ pool: [T]) -> T {
        pool[Int.random(in: 0..<pool.count, using: &self)]
    }

    /// True with probability `percent`/100.
    mutating func chance(_ percent: Int) -> Bool {
        Int.random(in: 0..<100, using: &self) < percent
    }
}

/// Runs php-cli once per batch: the inputs go to a temporary file (one base64 line each,
/// so any byte survives) and the script prints one line per input.
enum PHP {
    static let path = "/usr/bin/php"

    /// Whether php-cli exists; the PHP comparisons are skipped, with this reason, when it doesn't.
    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// The flags the listener's `phpJSON` imitates.
    static let jsonFlags = "JSON_UNESCAPED_SLASHES|JSON_UNESCAPED_UNICODE|JSON_INVALID_UTF8_SUBSTITUTE"

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `body` (PHP code that sees each decoded input as `$in` and must `echo` one
    /// line without a newline) over `inputs`, returning one output line per input.
    ///
    /// The ini settings are pinned to PHP's defaults so a changed php.ini can't move the
    /// goalposts: 1000 variables, 64 nesting levels.
    static func run(_ body: String, inputs: [[UInt8]]) throws -> [String] {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("contact-listener-php-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let inputFile = directory.appendingPathComponent("inputs.txt")
        let scriptFile = directory.appendingPathComponent("script.php")
        let errorFile = directory.appendingPathComponent("stderr.txt")
        // Every line ends in "\n", so a trailing empty input still makes a line for file().
        let lines = inputs.map { Data($0).base64EncodedString() + "\n" }.joined()
        try Data(lines.utf8).write(to: inputFile)
        let script = """
            <?php
            foreach (file($argv[1], FILE_IGNORE_NEW_LINES) as $line) {
                $in = base64_decode($line, true);
                \(body)
                echo "\\n";
            }
            """
        try Data(script.utf8).write(to: scriptFile)
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [
            "-n",  // no php.ini: the compiled-in defaults are PHP's documented ones
            "-d", "max_input_vars=1000", "-d", "max_input_nesting_level=64",
            "-d", "error_reporting=E_ALL", "-d", "display_errors=stderr",
            scriptFile.path, inputFile.path,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorFile)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read to EOF before waiting, so a full pipe can't deadlock the child.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errors = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw Failure(description: "php exited with \(process.terminationStatus): \(errors.prefix(2000))")
        }
        var result = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
        if result.last == "" { result.removeLast() }  // the newline after the last line
        guard result.count == inputs.count else {
            throw Failure(description: "php printed \(result.count) lines for \(inputs.count) inputs: \(errors.prefix(2000))")
        }
        return result
    }
}

/// Collects mismatches of a differential run and reports the first few with their inputs.
struct MismatchReport {
    let name: String
    private(set) var count = 0
    private(set) var failures = 0
    private var shown: [String] = []

    init(_ name: String) { self.name = name }

    /// Records one compared case.
    mutating func check(input: String, expected: String, actual: String) {
        count += 1
        guard expected != actual else { return }
        failures += 1
        if shown.count < 5 {
            shown.append("input:    \(input.debugDescription)\nphp:      \(expected)\nours:     \(actual)")
        }
    }

    /// Fails the current test with the first mismatches, if any.
    func finish(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(count > 0, "\(name): no cases were compared", sourceLocation: sourceLocation)
        if failures > 0 {
            Issue.record(
                "\(name): \(failures) of \(count) cases differ from PHP; first ones:\n\(shown.joined(separator: "\n---\n"))",
                sourceLocation: sourceLocation)
        }
    }
}

/// PHP's own multipart reader as the oracle: `php-cgi` run as a web server runs it, with a
/// CGI environment and the body on stdin, printing `json_encode($_POST)`.
enum PHPCGI {
    static let path = "/usr/bin/php-cgi"

    /// Whether php-cgi exists; the comparisons are skipped, with this reason, when it doesn't.
    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// `$_POST` for one request, rendered as `phpJSON` renders a form. The ini settings are
    /// PHP's compiled-in defaults (`-n`), warnings off the page.
    static func post(contentType: String, body: [UInt8]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("contact-listener-php-cgi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("post.php")
        try Data("<?php echo json_encode($_POST, \(PHP.jsonFlags));".utf8).write(to: script)
        let bodyFile = directory.appendingPathComponent("body")
        try Data(body).write(to: bodyFile)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-n", "-d", "display_errors=0", "-d", "log_errors=0", "-d", "max_input_vars=1000", "-d", "max_input_nesting_level=64"]
        process.environment = [
            "GATEWAY_INTERFACE": "CGI/1.1", "REDIRECT_STATUS": "200", "REQUEST_METHOD": "POST",
            "SCRIPT_FILENAME": script.path, "CONTENT_TYPE": contentType, "CONTENT_LENGTH": String(body.count),
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = try FileHandle(forReadingFrom: bodyFile)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PHP.Failure(description: "php-cgi exited with \(process.terminationStatus)")
        }
        // The CGI answer: headers, an empty line, then the page.
        let bytes = [UInt8](data)
        guard let split = bytes.withUnsafeBufferPointer({ ByteSearch.firstIndex(of: Array("\r\n\r\n".utf8), in: $0, from: 0) }) else {
            throw PHP.Failure(description: "php-cgi printed no header block: \(String(decoding: bytes, as: UTF8.self).prefix(500))")
        }
        return String(decoding: bytes[(split + 4)...], as: UTF8.self)
    }
}
