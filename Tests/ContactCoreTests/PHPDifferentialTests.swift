import Foundation
import Testing
@testable import ContactCore

// Differential tests: the same inputs go through PHP 8.2 (one php-cli process per batch)
// and through our decoders, and the json_encode renderings must be equal byte for byte.
// Every generator is seeded, so a failure names the batch and the input that reproduce it.

// MARK: - Generators

/// Random PHP arrays, written as JSON objects with every key explicit, so that
/// `json_decode($s, true)` rebuilds exactly that PHP array (numeric keys become integer
/// keys, as PHP's symbol tables make them) for `http_build_query` to send.
struct RandomArrays {
    var rng: SeededGenerator

    /// Pieces of string keys: the characters http_build_query must escape and parse_str
    /// must then read back as syntax (`[`, `]`, `%`, `&`, `=`, `+`, `.`, space), and unicode.
    static let keyAtoms = [
        "a", "b", "contact", "email", "fields", "x", "Z", "é", "日本", "😀", "\u{2028}", " ", "  ", ".", "[", "]", "[]",
        "[0]", "%", "%41", "%zz", "&", "=", "+", "#", "?", "/", "\"", "\\", "'", "_", "-", "\t", "\n", "\r", "\u{B}", "\u{C}",
        "\u{0}", "0", "1", "007",
    ]
    /// Keys PHP stores as integers, or that look like it and are not.
    static let numericKeys = [
        "0", "1", "2", "3", "7", "10", "-1", "-5", "42", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "-9223372036854775809", "12345678901234567890", "1234567890123456789",
        "-0", "00", "01", " 1", "1 ", "1.5", "1e3",
    ]
    static let valueAtoms = [
        "", "x", "Ann", "a@b.c", "0", "-1", " ", "+", "%", "%20", "&", "=", "[]", ".", "é", "😀", "\u{2028}\u{2029}",
        "\u{0}", "\r\n", "\t", "\"", "\\", "/", "http://x.y/p?q=1&r=2#f", "\u{7F}", "\u{1F}",
    ]

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    mutating func key() -> String {
        if rng.chance(40) { return rng.pick(Self.numericKeys) }
        var key = ""
        for _ in 0..<Int.random(in: 0...4, using: &rng) { key += rng.pick(Self.keyAtoms) }
        return key
    }

    mutating func value() -> String {
        var value = ""
        for _ in 0..<Int.random(in: 0...4, using: &rng) { value += rng.pick(Self.valueAtoms) }
        return value
    }

    /// A random array as a JSON object (or, sometimes, a JSON list: a PHP list), with
    /// empty arrays included: http_build_query leaves them out, as the platform does.
    mutating func write(depth: Int, to writer: inout JSONWriter) {
        let count = Int.random(in: 0...(depth == 0 ? 6 : 4), using: &rng)
        let asList = depth > 0 && rng.chance(20)
        if asList { writer.beginArray() } else { writer.beginObject() }
        for index in 0..<count {
            if !asList {
                // Sometimes a run of 0..n-1 keys, so some arrays are PHP lists.
                writer.key(rng.chance(25) ? String(index) : key())
            }
            if depth < 4, rng.chance(depth == 0 ? 60 : 30) {
                write(depth: depth + 1, to: &writer)
            } else {
                writer.string(value())
            }
        }
        if asList { writer.endArray() } else { writer.endObject() }
    }

    mutating func json() -> [UInt8] {
        var writer = JSONWriter()
        write(depth: 0, to: &writer)
        return writer.bytes
    }
}

/// Random raw query strings from a grammar of the tokens that stress parse_str.
struct RandomQueries {
    var rng: SeededGenerator

    static let tokens = [
        "a", "b", "c", "x", "é", "😀", "\u{2028}", "0", "1", "5", "07", "-", "-1",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "[", "]", "[]", "[x]", "[0]", "[-1]", "[ ]", "][", "[[", "]]",
        "%", "%2", "%zz", "%5B", "%5D", "%5b", "%5d", "%26", "%3D", "%2B", "%20", "%2E", "%2e", "%00", "%41",
        "%C3%A9", "%e2%80%a8", "%25", "%09", "%0A", "%0B", "%0C", "%0D",
        "+", "=", "&", "&&", " ", "\t", ".", "..", "_", "\"", "\\", "/", "#", "?",
    ]

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    /// A query whose percent-decoding is valid UTF-8: PHP and Swift replace invalid
    /// sequences with different numbers of U+FFFD, which the hand-written tests cover.
    mutating func next() -> [UInt8] {
        while true {
            var query = ""
            // Bias towards a name at the start, so most pairs are not dropped as nameless.
            if rng.chance(70) { query += rng.pick(["a", "b", "x", "contact", " a", "a.b"]) }
            for _ in 0..<Int.random(in: 1...24, using: &rng) { query += rng.pick(Self.tokens) }
            let bytes = Array(query.utf8)
            if String(validating: Self.percentDecoded(bytes), as: UTF8.self) != nil { return bytes }
        }
    }

    /// `%XX` → byte and `+` → space over the whole string (the same bytes as decoding each
    /// name and value, since neither `&` nor `=` is a hex digit). Written independently of
    /// the decoder under test.
    static func percentDecoded(_ bytes: [UInt8]) -> [UInt8] {
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: return byte - 0x30
            case 0x41...0x46: return byte - 0x41 + 10
            case 0x61...0x66: return byte - 0x61 + 10
            default: return nil
            }
        }
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(bytes[index] == UInt8(ascii: "+") ? UInt8(ascii: " ") : bytes[index])
                index += 1
            }
        }
        return output
    }
}

// MARK: - URL-encoded: PHP's http_build_query and raw strings through parse_str

@Suite("URL-encoded decoder vs PHP parse_str", .enabled(if: PHP.isAvailable, "php-cli is not installed at /usr/bin/php"))
struct URLEncodedDifferentialTests {
    static let casesPerBatch = 500

    /// PHP builds the query from a random array (alternating RFC 1738 `+` and RFC 3986 `%20`
    /// spaces) and decodes it; we decode PHP's query and must print the same JSON.
    @Test("http_build_query output", arguments: 0..<8)
    func httpBuildQuery(batch: Int) throws {
        var generator = RandomArrays(seed: 0x5EED_0000 + UInt64(batch))
        let inputs = (0..<Self.casesPerBatch).map { _ in generator.json() }
        let lines = try PHP.run("""
            $array = json_decode($in, true, 512, JSON_THROW_ON_ERROR);
            $n = ($n ?? 0) + 1;
            $query = http_build_query($array, '', '&', $n % 2 ? PHP_QUERY_RFC1738 : PHP_QUERY_RFC3986);
            parse_str($query, $out);
            echo $query, "\\t", json_encode($out, \(PHP.jsonFlags));
            """, inputs: inputs)
        var report = MismatchReport("http_build_query batch \(batch)")
        for line in lines {
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                Issue.record("unexpected PHP line: \(line)")
                continue
            }
            let query = String(parts[0])
            report.check(input: query, expected: String(parts[1]), actual: Self.ours(Array(query.utf8)))
        }
        report.finish()
        #expect(report.count == Self.casesPerBatch)
        print("differential: http_build_query batch \(batch): \(report.count) cases")
    }

    /// Raw strings from a grammar of nasty tokens, straight into parse_str.
    @Test("raw query strings", arguments: 0..<8)
    func rawQueries(batch: Int) throws {
        var generator = RandomQueries(seed: 0xBAD_0000 + UInt64(batch))
        let inputs = (0..<Self.casesPerBatch).map { _ in generator.next() }
        let count = try Self.compareWithParseStr(inputs, name: "raw query batch \(batch)")
        #expect(count == Self.casesPerBatch)
        print("differential: raw query batch \(batch): \(count) cases")
    }

    /// Runs `inputs` through php's parse_str and ours; returns how many were compared.
    static func compareWithParseStr(_ inputs: [[UInt8]], name: String) throws -> Int {
        let lines = try PHP.run("parse_str($in, $out); echo json_encode($out, \(PHP.jsonFlags));", inputs: inputs)
        var report = MismatchReport(name)
        for (input, expected) in zip(inputs, lines) {
            report.check(input: String(decoding: input, as: UTF8.self), expected: expected, actual: Self.ours(input))
        }
        report.finish()
        return report.count
    }

    /// The hand-written table of FormDecoderTests still matches the PHP installed here
    /// (the literals there were pasted from PHP 8.2).
    @Test func handWrittenTableMatchesInstalledPHP() throws {
        let cases = FormDecoderTests.phpCases
        let lines = try PHP.run("parse_str($in, $out); echo json_encode($out, \(PHP.jsonFlags));",
                                inputs: cases.map { Array($0.0.utf8) })
        var report = MismatchReport("FormDecoderTests.phpCases")
        for ((query, pasted), php) in zip(cases, lines) {
            report.check(input: query, expected: php, actual: pasted)
        }
        report.finish()
    }

    /// max_input_nesting_level (64): PHP keeps 64 levels and drops the variable at 65,
    /// which we refuse with a typed error instead.
    @Test func nestingLimitAgreesWithPHP() throws {
        let inputs = [64, 65].map { Array(("b=2&a" + String(repeating: "[x]", count: $0) + "=1").utf8) }
        let lines = try PHP.run("parse_str($in, $out); echo json_encode($out, \(PHP.jsonFlags));", inputs: inputs)
        #expect(lines.first == Self.ours(inputs[0]))
        #expect(lines.last == #"{"b":"2"}"#)
        #expect(throws: FormError.tooDeep(name: "a", limit: 64)) {
            try URLEncodedFormDecoder(phpNameMangling: true).decode(inputs[1])
        }
    }

    /// Wide arrays: many variables into a few arrays, so arrays outgrow the arena's linear
    /// search and are found through its index (or, for a list, by position), with updates,
    /// appends and a leaf replacing an array (and back) at every level. Half the cases start
    /// with a list of 9 to 20 records sent in order, as a contact's `fields` are.
    @Test("wide arrays", arguments: 0..<4)
    func wideArrays(batch: Int) throws {
        var rng = SeededGenerator(seed: 0x31DE_0000 + UInt64(batch))
        let keys = (0..<14).map(String.init) + ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "01", "-3", "%C3%A9"]
        let inputs: [[UInt8]] = (0..<300).map { _ in
            var pairs: [String] = []
            if rng.chance(50) {
                for index in 0..<Int.random(in: 9...20, using: &rng) {
                    pairs.append(rng.chance(20) ? "a[]=v\(pairs.count)" : "a[\(index)][name]=v\(pairs.count)")
                }
            }
            for _ in 0..<Int.random(in: 20...90, using: &rng) {
                var name = rng.pick(["a", "a", "a", "b"])
                for _ in 0..<rng.pick([0, 1, 1, 1, 2, 2, 3]) {
                    name += rng.chance(12) ? "[]" : "[\(rng.pick(keys))]"
                }
                pairs.append("\(name)=v\(pairs.count)")
            }
            return Array(pairs.joined(separator: "&").utf8)
        }
        #expect(try Self.compareWithParseStr(inputs, name: "wide arrays batch \(batch)") == inputs.count)
    }

    /// Ours, written from the arena as the request path writes it; the `FormArray` tree
    /// made from the same arena must print the same.
    static func ours(_ input: [UInt8]) -> String {
        do {
            let arena = try URLEncodedFormDecoder(phpNameMangling: true).decodeArena(input)
            let direct = arena.phpJSON
            let tree = arena.tree().phpJSON
            return direct == tree ? direct : "arena \(direct) but tree \(tree)"
        } catch {
            return "threw \(error)"
        }
    }
}

// MARK: - JSON: JSONFormDecoder vs json_decode($s, true)

@Suite("JSON decoder vs PHP json_decode", .enabled(if: PHP.isAvailable, "php-cli is not installed at /usr/bin/php"))
struct JSONDifferentialTests {
    /// PHP's verdict on one document: an error, a non-array, or (leaf kinds, full
    /// rendering, rendering with every leaf blanked).
    ///
    /// json_decode's `$depth` counts the scalars inside the deepest container as a level,
    /// so our `maxDepth` 64 (root + 64 nested containers, like `a` + 64 `[x]`) is PHP's 66.
    static let phpBody = """
        $v = json_decode($in, true, 66);
        if (json_last_error() !== JSON_ERROR_NONE) { echo "ERROR"; }
        elseif (!is_array($v)) { echo "NOT-ARRAY"; }
        else {
            $strings = true;
            $blank = $v;
            array_walk_recursive($blank, function (&$x) use (&$strings) { if (!is_string($x)) { $strings = false; } $x = ""; });
            echo $strings ? "STRINGS" : "SCALARS", "\\t", json_encode($v, \(PHP.jsonFlags)), "\\t", json_encode($blank, \(PHP.jsonFlags));
        }
        """

    static let nested65 = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
    static let nested66 = String(repeating: "[", count: 66) + String(repeating: "]", count: 66)

    /// Documents whose structure (and, with string leaves, rendering) must match PHP.
    static let documents: [String] = [
        #"{"a":"1"}"#, #"{"0":"a","1":"b"}"#, #"{"1":"a","0":"b"}"#, #"{"0":"a","2":"b"}"#,
        #"{"a":"1","a":"2"}"#, #"{"a":"1","b":"2","a":"3"}"#, #"{"0":"a","1":"b","1":"c"}"#,
        #"{"a":{"b":"1"},"a":"2"}"#, #"{"a":"2","a":{"b":"1"}}"#,
        #"{"0":"x","00":"y","-0":"z","-5":"w"," 1":"v","1.0":"u"}"#,
        #"{"9223372036854775807":"a","9223372036854775808":"b","-9223372036854775808":"c","-9223372036854775809":"d"}"#,
        #"{"a":{"b":{"c":"d"}}}"#, #"["a","b"]"#, #"[["a"],{"b":"c"}]"#, #"{"a":[],"b":{},"c":[{}]}"#,
        "{}", "[]", #"{"":"empty key"}"#, #"{"a\u0000b":"nul in key","c":"nul \u0000 in value"}"#,
        #"{"\u00e9":"\ud83d\ude00","日本":"語"}"#, #"{"a":"\u2028\u2029"}"#, #"{"a":"\/\\\"\b\f\n\r\t"}"#,
        #"{"a":"\u001f\u007f"}"#, " \t\r\n{ \"a\" : \"b\" , \"c\" : [ \"d\" ] }\n ",
        #"{"fields":{"0":{"name":"first","value":"Ann"},"1":{"name":"last","value":"Lee"}}}"#,
        #"{"contact":{"email":"a@b.c"},"lead-status":{"score":"5","label":"Hot"}}"#,
        nested65,
        // Scalar leaves: structure compared, the text of the leaves is our own rule (below).
        #"{"i":1,"f":1.5,"e":1E+2,"t":true,"n":null,"z":false,"l":[1,2,3]}"#,
        #"[1,"2",true]"#,
        // Errors in both.
        nested66, #"{"a":"1",}"#, #"[1,]"#, #"{"a" "1"}"#, #"{'a':'1'}"#, #"{"a":01}"#, #"{"a":1.}"#,
        #"{"a":.5}"#, #"{"a":+1}"#, #"{"a":-}"#, #"{"a":tru}"#, #"{"a":"x"} x"#, #"{"a":"x"}{"#,
        #"{"a":"\x"}"#, #"{"a":"\u12"}"#, "{\"a\":\"raw \u{1} control\"}", "{\"a\":\"raw\ttab\"}",
        #"{"a":"\ud800"}"#, #"{"a":"\udc00"}"#, #"{"a":"\ud800\u0041"}"#, #"{"a":"\ud800x"}"#,
        #"{"a":1"#, #"{"a""#, "{", "[", "", "   ", "\u{FEFF}{}", "hello", #"{a:1}"#, "{\"a\":1}\u{0}",
        // Not arrays.
        "1", #""s""#, "null", "true", " 2.5 ",
    ]

    /// Invalid UTF-8 inside a string: PHP refuses the document (JSON_ERROR_UTF8).
    static let invalidUTF8Documents: [[UInt8]] = [
        Array(#"{"a":""#.utf8) + [0xFF] + Array(#""}"#.utf8),
        Array(#"{""#.utf8) + [0xC3] + Array(#"":"b"}"#.utf8),
        Array(#"{"a":"x"#.utf8) + [0xED, 0xA0, 0x80] + Array(#"\n"}"#.utf8),
    ]

    @Test func documentsMatchPHP() throws {
        let inputs = Self.documents.map { Array($0.utf8) } + Self.invalidUTF8Documents
        try Self.compare(inputs, name: "JSON documents")
    }

    /// Random arrays with string leaves (duplicate keys happen: the key pools are small).
    @Test("random documents", arguments: 0..<4)
    func randomDocuments(batch: Int) throws {
        var generator = RandomArrays(seed: 0x1503_0000 + UInt64(batch))
        let inputs = (0..<300).map { _ in generator.json() }
        try Self.compare(inputs, name: "random JSON batch \(batch)")
        print("differential: random JSON batch \(batch): \(inputs.count) cases")
    }

    static func compare(_ inputs: [[UInt8]], name: String) throws {
        let lines = try PHP.run(phpBody, inputs: inputs)
        var report = MismatchReport(name)
        for (input, php) in zip(inputs, lines) {
            let fields = php.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            let text = String(decoding: input, as: UTF8.self)
            switch ours(input) {
            case .failure(let verdict):
                report.check(input: text, expected: fields[0], actual: verdict.text)
            case .success(let form):
                guard fields.count == 3 else {
                    report.check(input: text, expected: php, actual: form.phpJSON)
                    continue
                }
                report.check(input: text, expected: fields[2], actual: blanked(form).phpJSON)
                if fields[0] == "STRINGS" { report.check(input: text, expected: fields[1], actual: form.phpJSON) }
            }
        }
        report.finish()
    }

    struct Verdict: Error { var text: String }

    static func ours(_ input: [UInt8]) -> Result<FormArray, Verdict> {
        do {
            return .success(try JSONFormDecoder().decode(input))
        } catch .invalidJSON, .tooDeep {
            return .failure(Verdict(text: "ERROR"))
        } catch .jsonNotAnObject {
            return .failure(Verdict(text: "NOT-ARRAY"))
        } catch {
            return .failure(Verdict(text: "unexpected \(error)"))
        }
    }

    /// The same tree with every leaf replaced by "" (PHP does the same to its copy).
    static func blanked(_ array: FormArray) -> FormArray {
        FormArray(array.entries.map { key, value in
            (key, value.arrayValue.map { .array(blanked($0)) } ?? .string(""))
        })
    }
}

/// What json_decode would make of scalars is not copied: every leaf stays the text that was
/// sent, so these rules are checked on their own rather than against PHP.
@Suite("JSON decoder rules")
struct JSONDecoderRuleTests {
    @Test(arguments: [
        (#"{"i":1,"neg":-0,"f":1.50,"e":1E+2,"n":-2.5e-3,"big":123456789012345678901234567890}"#,
         #"{"i":"1","neg":"-0","f":"1.50","e":"1E+2","n":"-2.5e-3","big":"123456789012345678901234567890"}"#),
        (#"{"t":true,"f":false,"z":null}"#, #"{"t":"true","f":"false","z":""}"#),
        (#"[1,true,null,"s"]"#, #"["1","true","","s"]"#),
        (#"{"0":1,"1":2}"#, #"["1","2"]"#),
        (#"{"5":{"01":"a","-3":"b"}}"#, #"{"5":{"01":"a","-3":"b"}}"#),
        (#"{"a":"\ud83d\ude00\u00e9"}"#, #"{"a":"😀é"}"#),
    ])
    func leavesKeepTheirText(json: String, expected: String) throws {
        #expect(try JSONFormDecoder().decode(Array(json.utf8)).phpJSON == expected)
    }

    @Test func integerKeysAreFormKeys() throws {
        let form = try JSONFormDecoder().decode(Array(#"{"7":"a","07":"b","-0":"c"}"#.utf8))
        #expect(form.keys == [.int(7), .string("07"), .string("-0")])
    }

    static let tight = FormLimits(maxBodyBytes: 1 << 20, maxVars: 3, maxDepth: 1, maxKeyBytes: 4, maxValueBytes: 4)

    @Test(arguments: [
        (#"{"a":"1","b":"2","c":"3","d":"4"}"#, FormError.tooManyVariables(limit: 3)),
        (#"[1,2,3,true]"#, .tooManyVariables(limit: 3)),
        (#"{"a":{"b":{"c":"1"}}}"#, .tooDeep(name: "a[b]", limit: 1)),
        (#"{"abcde":"1"}"#, .keyTooLong(prefix: "abcde", limit: 4)),
        (#"{"a":{"k":"12345"}}"#, .valueTooLong(name: "a[k]", limit: 4)),
        ("1", .jsonNotAnObject),
        (#""text""#, .jsonNotAnObject),
    ])
    func limitsAndShape(json: String, expected: FormError) {
        #expect(throws: expected) { try JSONFormDecoder(limits: Self.tight).decode(Array(json.utf8)) }
    }

    @Test(arguments: [
        "", "  ", "hello", "\u{FEFF}{}", #"{"a":"\ud800"}"#, #"{"a":"\udc00\ud800"}"#, #"{"a":1,}"#, #"{"a":"x"} y"#,
    ])
    func invalidDocumentsAreInvalidJSON(json: String) {
        let error = #expect(throws: FormError.self) { try JSONFormDecoder().decode(Array(json.utf8)) }
        guard case .invalidJSON? = error else {
            Issue.record("expected invalidJSON, got \(String(describing: error))")
            return
        }
    }

    @Test func malformedUTF8IsInvalidJSON() {
        let bytes = Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: FormError.invalidJSON(offset: 6, reason: "malformed UTF-8 in string")) {
            try JSONFormDecoder().decode(bytes)
        }
    }
}

// MARK: - Multipart: the same pairs as multipart and as URL-encoded give the same tree

@Suite("Multipart decoder vs URL-encoded decoder")
struct MultipartDifferentialTests {
    /// One form field: a decoded name and value, as a browser or PHP client would send.
    struct Pair {
        var name: [UInt8]
        var value: [UInt8]
    }

    static let nameAtoms = [
        "a", "b", "contact", "x", "é", "😀", "0", "1", "-5", "007", "[", "]", "[]", "[x]", "[0]", " ", ".", "%", "%41",
        "+", "&", "=", "\"", "\\", "'", ";", "_",
    ]
    static let valueAtoms = [
        "", "x", "Ann", "é", "😀", "\r\n", "\n", "\r", "--", "--x", "\r\n--", " ", "\"", "\u{0}", "%41", "+", "&=",
    ]

    /// URL-encoding of every byte but the unreserved ones, so the URL-encoded decoder sees
    /// exactly `name` and `value` after decoding.
    static func urlEncoded(_ pairs: [Pair]) -> [UInt8] {
        func encode(_ bytes: [UInt8]) -> [UInt8] {
            var output: [UInt8] = []
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                     UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                    output.append(byte)
                default:
                    output.append(contentsOf: Array(String(format: "%%%02X", byte).utf8))
                }
            }
            return output
        }
        var body: [UInt8] = []
        for (index, pair) in pairs.enumerated() {
            if index > 0 { body.append(UInt8(ascii: "&")) }
            body += encode(pair.name) + [UInt8(ascii: "=")] + encode(pair.value)
        }
        return body
    }

    /// A `Content-Disposition` name parameter, quoted as PHP's php_ap_getword_conf reads it.
    static func quoted(_ name: [UInt8], quote: UInt8) -> [UInt8] {
        var output = [quote]
        for byte in name {
            if byte == quote || byte == UInt8(ascii: "\\") { output.append(UInt8(ascii: "\\")) }
            output.append(byte)
        }
        output.append(quote)
        return output
    }

    static func multipart(_ pairs: [Pair], boundary: String, rng: inout SeededGenerator) -> [UInt8] {
        var body = Array("preamble that is ignored\r\n".utf8)
        func filePart() -> [UInt8] {
            Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"a b.txt\"\r\nContent-Type: text/plain\r\n\r\nfile \"content\"\r\nwith lines\r\n".utf8)
        }
        for pair in pairs {
            if rng.chance(15) { body += filePart() }
            let quote = rng.chance(20) ? UInt8(ascii: "'") : UInt8(ascii: "\"")
            let disposition = rng.chance(10) ? "content-disposition:form-data;name=" : "Content-Disposition: form-data; name="
            body += Array("--\(boundary)\r\n".utf8)
            if rng.chance(30) { body += Array("Content-Type: text/plain; charset=UTF-8\r\n".utf8) }
            body += Array(disposition.utf8) + quoted(pair.name, quote: quote) + Array("\r\n\r\n".utf8)
            body += pair.value + Array("\r\n".utf8)
        }
        if rng.chance(15) { body += filePart() }
        body += Array("--\(boundary)--\r\nepilogue".utf8)
        return body
    }

    @Test("random forms", arguments: 0..<4)
    func randomForms(batch: Int) throws {
        var rng = SeededGenerator(seed: 0x3017_0000 + UInt64(batch))
        var compared = 0
        for _ in 0..<300 {
            var pairs: [Pair] = []
            for _ in 0..<Int.random(in: 0...8, using: &rng) {
                var name = ""
                for _ in 0..<Int.random(in: 1...5, using: &rng) { name += rng.pick(Self.nameAtoms) }
                var value = ""
                for _ in 0..<Int.random(in: 0...4, using: &rng) { value += rng.pick(Self.valueAtoms) }
                pairs.append(Pair(name: Array(name.utf8), value: Array(value.utf8)))
            }
            let boundary = "----x\(rng.next() % 1_000_000_007)"
            let multipart = Self.multipart(pairs, boundary: boundary, rng: &rng)
            let urlEncoded = Self.urlEncoded(pairs)
            let expected = try URLEncodedFormDecoder(phpNameMangling: true).decode(urlEncoded)
            let actual = try MultipartFormDecoder(phpNameMangling: true).decode(multipart, boundary: boundary)
            #expect(actual == expected, "multipart \(String(decoding: multipart, as: UTF8.self).debugDescription)")
            #expect(actual.phpJSON == expected.phpJSON)
            compared += 1
        }
        #expect(compared == 300)
        print("differential: multipart batch \(batch): \(compared) cases")
    }

    static func decode(_ body: String, boundary: String = "XyZ") throws(FormError) -> String {
        try MultipartFormDecoder().decode(Array(body.utf8), boundary: boundary).phpJSON
    }

    /// (Content-Disposition parameters, resulting tree), read as rfc1867.c reads them.
    @Test(arguments: [
        (#"form-data; name="a""#, #"{"a":"v"}"#),
        (#"form-data; name="a\"b""#, #"{"a\"b":"v"}"#),
        (#"form-data; name="a\\b""#, #"{"a\\b":"v"}"#),
        (#"form-data; name="a\b""#, #"{"a\\b":"v"}"#),  // a lone backslash stays
        (#"form-data; name="x[\"]""#, #"{"x":{"\"":"v"}}"#),
        (#"form-data; name="a;b""#, #"{"a;b":"v"}"#),  // `;` inside quotes does not split
        // php_ap_getword skips only `\<quote>` while splitting at `;`, so after `\\"` it reads on
        // past the closing quote and the filename is never seen: PHP's quirk, kept.
        (#"form-data; name="a\\"; filename="f.txt""#, #"{"a\\":"v"}"#),
        (#"form-data; name='a"b'"#, #"{"a\"b":"v"}"#),  // single quotes, as php_ap_getword_conf allows
        (#"form-data; name='it\'s'"#, #"{"it's":"v"}"#),
        (#"form-data; name=plain"#, #"{"plain":"v"}"#),
        (#"form-data; name=two words"#, #"{"two":"v"}"#),  // a bare value ends at whitespace
        (#"form-data; NAME="upper""#, #"{"upper":"v"}"#),  // strcasecmp
        (#"form-data;name="tight";"#, #"{"tight":"v"}"#),
        (#"form-data; name="first"; name="second""#, #"{"second":"v"}"#),
        (#"form-data; name = "spaced""#, #"[]"#),  // the key is "name ", not "name": no name
        (#"form-data; name="a[b]""#, #"{"a":{"b":"v"}}"#),
        (#"form-data; name="a[]""#, #"{"a":["v"]}"#),
        (#"form-data; name="a%5Bb%5D""#, #"{"a%5Bb%5D":"v"}"#),  // names are not URL-decoded
        (#"form-data; name="""#, #"[]"#),
        (#"form-data; filename="f.txt"; name="file""#, #"[]"#),  // an upload, not a field
        (#"form-data; name="file"; filename="""#, #"[]"#),  // even with an empty filename
        (#"form-data"#, #"[]"#),
    ])
    func dispositionParameters(parameters: String, expected: String) throws {
        let body = "--XyZ\r\nContent-Disposition: \(parameters)\r\n\r\nv\r\n--XyZ--\r\n"
        #expect(try Self.decode(body) == expected)
    }

    @Test func headerLookupFollowsPHP() throws {
        // A folded continuation line belongs to the previous header.
        let folded = "--XyZ\r\nContent-Disposition: form-data;\r\n name=\"folded\"\r\n\r\nv\r\n--XyZ--\r\n"
        #expect(try Self.decode(folded) == #"{"folded":"v"}"#)
        // A part without Content-Disposition is skipped; the header name must match exactly.
        let missing = "--XyZ\r\nContent-Type: text/plain\r\n\r\nv\r\n--XyZ\r\nContent-Disposition : form-data; name=\"b\"\r\n\r\nw\r\n--XyZ--\r\n"
        #expect(try Self.decode(missing) == "[]")
        // No headers at all.
        #expect(try Self.decode("--XyZ\r\n\r\nv\r\n--XyZ--\r\n") == "[]")
    }

    @Test func valuesKeepTheirBytes() throws {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nline 1\r\nline 2 --XyZ\r\n-XyZ\r\n\r\n--XyZ--\r\n"
        let form = try MultipartFormDecoder().decode(Array(body.utf8), boundary: "XyZ")
        #expect(form["note"] == .string("line 1\r\nline 2 --XyZ\r\n-XyZ\r\n"))
        // As in PHP (multipart_buffer_read looks for "\n--boundary" as a prefix), a line that
        // merely starts with the delimiter ends the value.
        let prefix = "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nline 1\r\n--XyZnot a boundary\r\n\r\n--XyZ--\r\n"
        #expect(try Self.decode(prefix) == #"{"note":"line 1"}"#)
        let empty = "--XyZ\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--XyZ--\r\n"
        #expect(try Self.decode(empty) == #"{"e":""}"#)
    }

    @Test(arguments: [
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue",  // no closing boundary
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n",
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--XyZ\r\n",  // a delimiter but no end
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\"",  // headers cut off
        "--XyZ",
        "no boundary here",
        "",
    ])
    func malformedBodiesThrow(body: String) {
        let error = #expect(throws: FormError.self) {
            try MultipartFormDecoder().decode(Array(body.utf8), boundary: "XyZ")
        }
        guard case .invalidMultipart? = error else {
            Issue.record("expected FormError.invalidMultipart, got \(String(describing: error))")
            return
        }
    }

    @Test func limitsApplyToMultipart() {
        let limits = FormLimits(maxBodyBytes: 1 << 20, maxVars: 2, maxDepth: 1, maxKeyBytes: 16, maxValueBytes: 4)
        func body(_ parts: [(String, String)]) -> [UInt8] {
            var text = ""
            for (name, value) in parts { text += "--B\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n" }
            return Array((text + "--B--\r\n").utf8)
        }
        let decoder = MultipartFormDecoder(limits: limits)
        #expect(throws: FormError.tooManyVariables(limit: 2)) { try decoder.decode(body([("a", "1"), ("b", "2"), ("c", "3")]), boundary: "B") }
        #expect(throws: FormError.tooDeep(name: "a", limit: 1)) { try decoder.decode(body([("a[b][c]", "1")]), boundary: "B") }
        #expect(throws: FormError.valueTooLong(name: "a", limit: 4)) { try decoder.decode(body([("a", "12345")]), boundary: "B") }
        #expect(throws: FormError.keyTooLong(prefix: "abcdefghijklmnopq", limit: 16)) {
            try decoder.decode(body([("abcdefghijklmnopq", "1")]), boundary: "B")
        }
    }

    @Test(arguments: [
        ("multipart/form-data; boundary=abc", "abc"),
        ("multipart/form-data; boundary=\"a b;c\"", "a b;c"),  // a quoted boundary ends at its quote
        ("multipart/form-data; boundary=abc, next", "abc"),  // an unquoted one at `,` or `;` (strpbrk)
        ("multipart/form-data; boundary=\"open", nil),
        ("multipart/form-data; charset=utf-8; BOUNDARY=\"q\"", "q"),
        ("multipart/form-data;boundary=x", "x"),
        ("multipart/form-data", nil),
        ("multipart/form-data; boundary=", nil),
        ("multipart/form-data, boundary=AaB03x", "AaB03x"),  // `,` ends the media type, as `;` does
        ("multipart/form-data,boundary=\"Q b\"", "Q b"),
        ("multipart/form-data boundary=x", "x"),  // so does a space
        ("multipart/form-data, charset=utf-8, boundary=MiXeD", "MiXeD"),  // the case as sent
        ("multipart/form-data, boundary=", nil),
        ("multipart/form-data; xboundary=A; boundary=B", "A"),  // PHP's strstr: the first "boundary" anywhere
        ("multipart/form-data; boundary= B", " B"),  // spaces are kept, as PHP keeps them
        ("multipart/form-data; boundary=B ;x=y", "B "),
        ("multipart/form-data; boundaryX;y=z", "z"),  // the next '=' after it
        ("multipart/form-data; boundary=a\u{0}b", "a"),  // a C string
    ] as [(String, String?)])
    func boundaryFromContentType(contentType: String, expected: String?) {
        #expect(MultipartFormDecoder.boundary(fromContentType: contentType) == expected)
    }
}
