import Testing
@testable import ContactCore

/// Hand-written edge cases for `URLEncodedFormDecoder`, each with the output of
/// `php -r 'parse_str($argv[1], $o); echo json_encode($o, JSON_UNESCAPED_SLASHES |
/// JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE);'` (PHP 8.2) pasted as a literal,
/// so the table documents PHP's behaviour even where php-cli is absent.
@Suite("URL-encoded form decoder")
struct FormDecoderTests {
    /// (query, PHP's json_encode of parse_str's result).
    static let phpCases: [(String, String)] = [
        // Bracket nesting.
        (#"a[b]=1"#, #"{"a":{"b":"1"}}"#),
        (#"a[b][c]=1&a[b][d]=2"#, #"{"a":{"b":{"c":"1","d":"2"}}}"#),
        (#"a[b][c][d][e]=deep"#, #"{"a":{"b":{"c":{"d":{"e":"deep"}}}}}"#),
        // `[]` appends use PHP's next free index (nNextFreeElement), including after negative keys.
        (#"a[]=1&a[]=2"#, #"{"a":["1","2"]}"#),
        (#"a[][]=1&a[][]=2"#, #"{"a":[["1"],["2"]]}"#),
        (#"a[][b]=1&a[][b]=2"#, #"{"a":[{"b":"1"},{"b":"2"}]}"#),
        (#"a[x][]=1&a[x][]=2&a[y][]=3"#, #"{"a":{"x":["1","2"],"y":["3"]}}"#),
        (#"a[5]=x&a[]=y"#, #"{"a":{"5":"x","6":"y"}}"#),
        (#"a[-5]=x&a[]=y"#, #"{"a":{"-5":"x","-4":"y"}}"#),
        (#"a[2]=x&a[1]=y&a[]=z"#, #"{"a":{"2":"x","1":"y","3":"z"}}"#),
        (#"a[0]=x&a[1]=y"#, #"{"a":["x","y"]}"#),
        (#"a[1]=x&a[0]=y"#, #"{"a":{"1":"x","0":"y"}}"#),
        (#"a[x]=1&a[]=2"#, #"{"a":{"x":"1","0":"2"}}"#),
        (#"a[]=1&a[3]=2&a[]=3"#, #"{"a":{"0":"1","3":"2","4":"3"}}"#),
        (#"a[-1]=x&a[]=y&a[]=z"#, #"{"a":{"-1":"x","0":"y","1":"z"}}"#),
        // Integer vs string keys (_zend_handle_numeric_str_ex): only canonical decimals are integers.
        (#"a[0]=1"#, #"{"a":["1"]}"#),
        (#"a[-5]=1"#, #"{"a":{"-5":"1"}}"#),
        (#"a[007]=1"#, #"{"a":{"007":"1"}}"#),
        (#"a[-0]=1"#, #"{"a":{"-0":"1"}}"#),
        (#"a[00]=1"#, #"{"a":{"00":"1"}}"#),
        (#"a[0x1]=1"#, #"{"a":{"0x1":"1"}}"#),
        (#"a[1e3]=1"#, #"{"a":{"1e3":"1"}}"#),
        (#"a[1.0]=1"#, #"{"a":{"1.0":"1"}}"#),
        (#"a[ 1]=1"#, #"{"a":{" 1":"1"}}"#),
        (#"a[1 ]=1"#, #"{"a":{"1 ":"1"}}"#),
        (#"a[+1]=1"#, #"{"a":{" 1":"1"}}"#),
        (#"a[-]=1"#, #"{"a":{"-":"1"}}"#),
        (#"a[--1]=1"#, #"{"a":{"--1":"1"}}"#),
        // 19/20-digit keys and the Int64 edges; at Int64.max the next `[]` fails and is dropped.
        (#"a[1234567890123456789]=1&a[]=2"#, #"{"a":{"1234567890123456789":"1","1234567890123456790":"2"}}"#),
        (#"a[12345678901234567890]=1&a[]=2"#, #"{"a":{"12345678901234567890":"1","0":"2"}}"#),
        (#"a[99999999999999999999]=1&a[]=2"#, #"{"a":{"99999999999999999999":"1","0":"2"}}"#),
        (#"a[9223372036854775807]=1&a[]=2"#, #"{"a":{"9223372036854775807":"1"}}"#),
        (#"a[9223372036854775807]=1&a[]=2&a[]=3&a[x]=4"#, #"{"a":{"9223372036854775807":"1","x":"4"}}"#),
        (#"a[9223372036854775807]=1&a[][b]=2&a[c]=3"#, #"{"a":{"9223372036854775807":"1","c":"3"}}"#),
        (#"a[9223372036854775808]=1&a[]=2"#, #"{"a":{"9223372036854775808":"1","0":"2"}}"#),
        (#"a[-9223372036854775808]=1&a[]=2"#, #"{"a":{"-9223372036854775808":"1","-9223372036854775807":"2"}}"#),
        (#"a[-9223372036854775809]=1&a[]=2"#, #"{"a":{"-9223372036854775809":"1","0":"2"}}"#),
        // Top-level integer keys.
        (#"0=a&1=b"#, #"["a","b"]"#),
        (#"1=a&0=b"#, #"{"1":"a","0":"b"}"#),
        (#"5=a"#, #"{"5":"a"}"#),
        (#"007=a"#, #"{"007":"a"}"#),
        (#"-3=a"#, #"{"-3":"a"}"#),
        (#"9223372036854775807=a"#, #"{"9223372036854775807":"a"}"#),
        (#"9223372036854775808=a"#, #"{"9223372036854775808":"a"}"#),
        // Duplicate keys: the last value wins, the first position stays.
        (#"a=1&a=2"#, #"{"a":"2"}"#),
        (#"a=1&b=2&a=3"#, #"{"a":"3","b":"2"}"#),
        (#"a[x]=1&a[y]=2&a[x]=3"#, #"{"a":{"x":"3","y":"2"}}"#),
        (#"a[0]=1&a[0]=2"#, #"{"a":["2"]}"#),
        (#"a[]=1&a[0]=2"#, #"{"a":["2"]}"#),
        (#"b[a]=1&a[b]=2&b[c]=3"#, #"{"b":{"a":"1","c":"3"},"a":{"b":"2"}}"#),
        // A scalar then an array, and an array then a scalar, replace each other in place.
        (#"a=1&a[b]=2"#, #"{"a":{"b":"2"}}"#),
        (#"a[b]=2&a=1"#, #"{"a":"1"}"#),
        (#"a[b]=1&a[b][c]=2"#, #"{"a":{"b":{"c":"2"}}}"#),
        (#"a[b][c]=2&a[b]=1"#, #"{"a":{"b":"1"}}"#),
        (#"a=1&b=2&a[]=3"#, #"{"a":["3"],"b":"2"}"#),
        (#"a[]=1&a=x&a[]=2"#, #"{"a":["2"]}"#),
        (#"a[x][y]=1&a[x]=2&a[x][z]=3"#, #"{"a":{"x":{"z":"3"}}}"#),
        // `+`, leading spaces (php_register_variable_ex skips them), spaces inside brackets.
        (#"a+b=c+d"#, #"{"a_b":"c d"}"#),
        (#"a[b+c]=1"#, #"{"a":{"b c":"1"}}"#),
        (#"+a=1"#, #"{"a":"1"}"#),
        (#"++a=1"#, #"{"a":"1"}"#),
        (#"%20a=1"#, #"{"a":"1"}"#),
        (#" a=1"#, #"{"a":"1"}"#),
        (#"  a[b]=1"#, #"{"a":{"b":"1"}}"#),
        (#"a[ ]=1&a[ ]=2"#, #"{"a":["1","2"]}"#),
        (#"a[ b]=1"#, #"{"a":{" b":"1"}}"#),
        (#"a[  ]=1"#, #"{"a":{"  ":"1"}}"#),
        (#"a [b]=1"#, #"{"a_":{"b":"1"}}"#),
        // One isspace() byte after `[` is skipped before looking for `]` (found by the
        // differential test: only ' ' used to be skipped). Only ' ' is skipped at the start of a name.
        (#"a[%09]=1&a[%09]=2"#, #"{"a":["1","2"]}"#),
        (#"a[%0A]=1&a[%0B]=2&a[%0C]=3&a[%0D]=4"#, #"{"a":["1","2","3","4"]}"#),
        (#"a[%09b]=1"#, #"{"a":{"\tb":"1"}}"#),
        (#"a[%09%09]=1"#, #"{"a":{"\t\t":"1"}}"#),
        (#"a[%09"#, #"{"a_\t":""}"#),
        (#"%09a=1"#, #"{"\ta":"1"}"#),
        (#"a[b] =1"#, #"{"a":{"b":"1"}}"#),
        // Percent sequences (php_url_decode): only `%XX` with two hex digits decodes.
        (#"a=%2B"#, #"{"a":"+"}"#),
        (#"a=%41%42"#, #"{"a":"AB"}"#),
        (#"a=%4"#, #"{"a":"%4"}"#),
        (#"a=%"#, #"{"a":"%"}"#),
        (#"a=%%41"#, #"{"a":"%A"}"#),
        (#"a=%zz"#, #"{"a":"%zz"}"#),
        (#"a=%4g"#, #"{"a":"%4g"}"#),
        (#"a=%C3%A9"#, #"{"a":"é"}"#),
        (#"a=%c3%a9"#, #"{"a":"é"}"#),
        (#"%61=1"#, #"{"a":"1"}"#),
        (#"a%5Bb%5D=1"#, #"{"a":{"b":"1"}}"#),
        (#"a%5B=1"#, #"{"a_":"1"}"#),
        (#"a=100%"#, #"{"a":"100%"}"#),
        (#"a=%2"#, #"{"a":"%2"}"#),
        (#"a=%%"#, #"{"a":"%%"}"#),
        (#"a%=1"#, #"{"a%":"1"}"#),
        (#"a%2=1"#, #"{"a%2":"1"}"#),
        (#"a%5b%5d=1&a%5B%5D=2"#, #"{"a":["1","2"]}"#),
        (#"%E2%80%A8=x"#, #"{"\u2028":"x"}"#),
        (#"a=%E2%80%A8%E2%80%A9"#, #"{"a":"\u2028\u2029"}"#),
        (#"a=%09%0A%0D%08%0C%01%1F%7F"#, #"{"a":"\t\n\r\b\f\u0001\u001f\#u{7F}"}"#),
        (#"a=%22%5C"#, #"{"a":"\"\\"}"#),
        (#"a=/&b=http://x.y/z?q=1"#, #"{"a":"/","b":"http://x.y/z?q=1"}"#),
        (#"a="quoted"\back"#, #"{"a":"\"quoted\"\\back"}"#),
        (#"a[&]=1"#, #"{"a_":"","]":"1"}"#),
        (#"a[%26]=1&a[%3D]=2"#, #"{"a":{"&":"1","=":"2"}}"#),
        // A decoded %00 ends a name (it is a C string) but stays inside a value.
        (#"a%00b=1"#, #"{"a":"1"}"#),
        (#"a=x%00y"#, #"{"a":"x\u0000y"}"#),
        (#"%00a=1"#, #"[]"#),
        (#"a[b%00c]=1"#, #"{"a_b":"1"}"#),
        (#"a[%00]=1"#, #"{"a_":"1"}"#),
        (#"a[]=%00"#, #"{"a":["\u0000"]}"#),
        // Unmatched brackets: a first `[` without `]` is part of the name (mangled to `_`), a later one ends the path.
        (#"a[b=1"#, #"{"a_b":"1"}"#),
        (#"a[b][c=1"#, #"{"a":{"b":"1"}}"#),
        (#"a[b][c"#, #"{"a":{"b":""}}"#),
        (#"a]b=1"#, #"{"a]b":"1"}"#),
        (#"a[[c]=1"#, #"{"a":{"[c":"1"}}"#),
        (#"a[]x]=1"#, #"{"a":["1"]}"#),
        (#"a[=1"#, #"{"a_":"1"}"#),
        (#"a["#, #"{"a_":""}"#),
        (#"a[b]c=1"#, #"{"a":{"b":"1"}}"#),
        (#"a[b]]=1"#, #"{"a":{"b":"1"}}"#),
        (#"a[b]x[c]=1"#, #"{"a":{"b":"1"}}"#),
        (#"a[b][c]d[e]=1"#, #"{"a":{"b":{"c":"1"}}}"#),
        (#"a[b.c=1"#, #"{"a_b_c":"1"}"#),
        (#"a.b[c=1"#, #"{"a_b_c":"1"}"#),
        (#"a[ b=1"#, #"{"a__b":"1"}"#),
        (#"a[b c[d=1"#, #"{"a_b_c_d":"1"}"#),
        (#"a][=1"#, #"{"a]_":"1"}"#),
        (#"[=1"#, #"[]"#),
        (#"]=1"#, #"{"]":"1"}"#),
        (#"a[]]=1"#, #"{"a":["1"]}"#),
        (#"a[][=1"#, #"{"a":["1"]}"#),
        (#"a[][b=1"#, #"{"a":["1"]}"#),
        (#"a[b[c]=1"#, #"{"a":{"b[c":"1"}}"#),
        (#"a[b[c]d]=1"#, #"{"a":{"b[c":"1"}}"#),
        // Empty names are dropped; empty pairs and missing `=`.
        (#"=1"#, #"[]"#),
        (#"="#, #"[]"#),
        (#"&=x&"#, #"[]"#),
        (#"[]=1"#, #"[]"#),
        (#"[a]=1"#, #"[]"#),
        (#" =1"#, #"[]"#),
        (#" [a]=1"#, #"[]"#),
        (#"a=1&&b=2"#, #"{"a":"1","b":"2"}"#),
        (#"&a=1"#, #"{"a":"1"}"#),
        (#"a=1&"#, #"{"a":"1"}"#),
        (#"&&&"#, #"[]"#),
        (#"a"#, #"{"a":""}"#),
        (#"a&b="#, #"{"a":"","b":""}"#),
        (#"a[]"#, #"{"a":[""]}"#),
        (#"a[b]"#, #"{"a":{"b":""}}"#),
        (#"a==b"#, #"{"a":"=b"}"#),
        (#"a=b=c"#, #"{"a":"b=c"}"#),
        (#""#, #"[]"#),
        // Dots and spaces in top-level names (mangled by PHP), unicode.
        (#"a.b=1"#, #"{"a_b":"1"}"#),
        (#"a.b[c.d]=1"#, #"{"a_b":{"c.d":"1"}}"#),
        (#".a=1"#, #"{"_a":"1"}"#),
        (#"a..b=1"#, #"{"a__b":"1"}"#),
        (#"a b.c=1"#, #"{"a_b_c":"1"}"#),
        (#"é=ü"#, #"{"é":"ü"}"#),
        (#"a[é]=😀"#, #"{"a":{"é":"😀"}}"#),
        // Names that only matter to PHP's global symbol table are ordinary here.
        (#"this=1"#, #"{"this":"1"}"#),
        (#"GLOBALS=1"#, #"{"GLOBALS":"1"}"#),
        (#"_POST[x]=1"#, #"{"_POST":{"x":"1"}}"#),
        // Consecutive names that share a prefix: the builder reuses the previous name's
        // arrays for the shared part (FormBuilder), which must never reach a stale one.
        (#"a[b][c]=1&a[b]=2&a[b][d]=3"#, #"{"a":{"b":{"d":"3"}}}"#),
        (#"a[b][c]=1&a[b]x=2&a[b][d]=3"#, #"{"a":{"b":{"d":"3"}}}"#),
        (#"a[b][c]=1&a[b][c=2&a[b][d]=3"#, #"{"a":{"b":{"d":"3"}}}"#),
        (#"a[b][c]=1&a=2&a[b][d]=3"#, #"{"a":{"b":{"d":"3"}}}"#),
        (#"a[b][c]=1&a[b][c][d]=2&a[b][c]=3"#, #"{"a":{"b":{"c":"3"}}}"#),
        (#"a[][x][y]=1&a[][x][z]=2"#, #"{"a":[{"x":{"y":"1"}},{"x":{"z":"2"}}]}"#),
        (#"a[ ][x]=1&a[ ][y]=2"#, #"{"a":[{"x":"1"},{"y":"2"}]}"#),
        (#"a[b][d]=1&a[bc][e]=2"#, #"{"a":{"b":{"d":"1"},"bc":{"e":"2"}}}"#),
        (#"a[1][x]=1&a[01][x]=2&a[1][y]=3"#, #"{"a":{"1":{"x":"1","y":"3"},"01":{"x":"2"}}}"#),
        (#"a%5Bb%5D%5Bc%5D=1&a%5Bb%5D%5Bd%5D=2&a[b][e]=3"#, #"{"a":{"b":{"c":"1","d":"2","e":"3"}}}"#),
        (#"a[b][c]%00[x]=1&a[b][c]%00[y]=2"#, #"{"a":{"b":{"c":"2"}}}"#),
        (#"a[b][c%00d][e]=1&a[b][c%00d][f]=2"#, #"{"a":{"b":"2"}}"#),
        (#"a.b[c][d]=1&a.b[c][e]=2&a b[c][f]=3"#, #"{"a_b":{"c":{"d":"1","e":"2","f":"3"}}}"#),
    ]

    @Test("matches parse_str + json_encode", arguments: phpCases)
    func matchesPHP(query: String, expected: String) throws {
        #expect(try phpDecode(query) == expected)
    }

    /// The decoder must give the same tree for a query and for the same bytes passed as
    /// an `UnsafeBufferPointer` (the path the gateway uses).
    @Test("buffer and collection entry points agree", arguments: phpCases.map(\.0))
    func bufferEntryPoint(query: String) throws {
        let decoder = URLEncodedFormDecoder(phpNameMangling: true)
        let bytes = Array(query.utf8)
        let viaBuffer = try bytes.withUnsafeBufferPointer { (buffer) throws(FormError) in try decoder.decode(buffer) }
        #expect(viaBuffer == (try decoder.decode(bytes)))
    }

    // MARK: - Names kept as sent (the listener's default)

    /// (query, expected rendering with mangling off). PHP would turn `.`/space in a
    /// top-level name, and the `[` of an unmatched bracket, into `_`; the README says we
    /// keep names as the platform sent them. Everything else is PHP's behaviour.
    static let unmangledCases: [(String, String)] = [
        ("a.b=1&a b=2", #"{"a.b":"1","a b":"2"}"#),
        ("a+b=1", #"{"a b":"1"}"#),
        ("a.b[c.d]=1", #"{"a.b":{"c.d":"1"}}"#),
        (" a.b=1", #"{"a.b":"1"}"#),  // leading spaces are still skipped, as PHP does
        ("a[b=1", #"{"a[b":"1"}"#),
        ("a[b.c d=1", #"{"a[b.c d":"1"}"#),
        ("a[b][c=1", #"{"a":{"b":"1"}}"#),
        ("a%00.b=1", #"{"a":"1"}"#),
        ("contact[email]=x&contact.email=y", #"{"contact":{"email":"x"},"contact.email":"y"}"#),
    ]

    @Test("names stay as sent without mangling", arguments: unmangledCases)
    func keepsNames(query: String, expected: String) throws {
        #expect(try listenerDecode(query).phpJSON == expected)
    }

    @Test func unmangledKeysAreStringKeys() throws {
        let form = try listenerDecode("a.b=1&a b=2")
        #expect(form.keys == [.string("a.b"), .string("a b")])
        #expect(form["a.b"] == .string("1"))
        #expect(form["a_b"] == nil)
    }

    // MARK: - Keys and values as typed data, not just their rendering

    @Test func integerKeysAreNormalized() throws {
        let form = try listenerDecode("a[0]=x&a[007]=y&a[-0]=z&a[-5]=w&a[9223372036854775807]=m&a[-9223372036854775808]=n")
        let a = try #require(form["a"]?.arrayValue)
        #expect(a.keys == [.int(0), .string("007"), .string("-0"), .int(-5), .int(.max), .int(.min)])
        // A string lookup is normalized the same way.
        #expect(a["0"] == .string("x"))
        #expect(a["-5"] == .string("w"))
        #expect(a["07"] == nil)
    }

    @Test(arguments: [
        ("0", FormKey.int(0)), ("-5", .int(-5)), ("007", .string("007")), ("-0", .string("-0")),
        ("", .string("")), ("-", .string("-")), ("1 ", .string("1 ")), (" 1", .string(" 1")), ("+1", .string("+1")),
        ("1234567890123456789", .int(1_234_567_890_123_456_789)),
        ("12345678901234567890", .string("12345678901234567890")),
        ("9223372036854775807", .int(.max)), ("9223372036854775808", .string("9223372036854775808")),
        ("-9223372036854775808", .int(.min)), ("-9223372036854775809", .string("-9223372036854775809")),
        ("9999999999999999999", .string("9999999999999999999")),
    ])
    func formKeyNormalization(text: String, expected: FormKey) {
        #expect(FormKey(text) == expected)
        #expect(FormKey(bytes: Array(text.utf8)) == expected)
        #expect(expected.description == text)
    }

    @Test func nulInValueIsKept() throws {
        let form = try listenerDecode("a=x%00y")
        #expect(form["a"] == .string("x\u{0}y"))
    }

    // MARK: - Invalid UTF-8

    /// PHP keeps the raw bytes and `json_encode` substitutes U+FFFD; we repair while
    /// decoding. Where PHP and Swift agree on the number of U+FFFD the rendering is checked
    /// exactly; where they split the bytes differently (`%ED%A0%80`: PHP one, Swift three)
    /// only sanity is checked: valid UTF-8 out, replacement present, neighbours intact.
    @Test(arguments: [
        ("a=%FF", #"{"a":"\#u{FFFD}"}"#),
        ("a=%C3", #"{"a":"\#u{FFFD}"}"#),
        ("a=%E2%82x", #"{"a":"\#u{FFFD}x"}"#),
        ("a=%FF%FE", #"{"a":"\#u{FFFD}\#u{FFFD}"}"#),
        ("a=%C0%AF", #"{"a":"\#u{FFFD}\#u{FFFD}"}"#),
        ("%FF=1", #"{"\#u{FFFD}":"1"}"#),
        ("a[%FF]=1", #"{"a":{"\#u{FFFD}":"1"}}"#),
    ])
    func invalidUTF8MatchesPHP(query: String, expected: String) throws {
        #expect(try phpDecode(query) == expected)
    }

    @Test(arguments: ["a=%ED%A0%80&b=ok", "a=x%F0%9F%98&b=ok", "a=%80%80%80&b=ok", "a[%C3]=%E9&b=ok"])
    func invalidUTF8IsRepairedSanely(query: String) throws {
        let form = try listenerDecode(query)
        let a = try #require(form["a"])
        let json = FormArray([(FormKey("a"), a)]).phpJSON
        #expect(json.unicodeScalars.contains("\u{FFFD}"))
        #expect(String(validating: Array(json.utf8), as: UTF8.self) != nil)
        #expect(form["b"] == .string("ok"))
    }

    // MARK: - Limits

    static let tight = FormLimits(maxBodyBytes: 1 << 20, maxVars: 3, maxDepth: 2, maxKeyBytes: 12, maxValueBytes: 8)

    @Test(arguments: [
        ("a=1&b=2&c=3", #"{"a":"1","b":"2","c":"3"}"#),
        ("a[b][c]=1", #"{"a":{"b":{"c":"1"}}}"#),
        ("abcdefghijkl=12345678", #"{"abcdefghijkl":"12345678"}"#),
        ("a=1&&&&b=2&&", #"{"a":"1","b":"2"}"#),  // empty pairs are not variables
        ("a%5Bbc%5D=1", #"{"a":{"bc":"1"}}"#),  // 11 bytes sent, 5 after decoding
    ])
    func withinLimits(query: String, expected: String) throws {
        #expect(try listenerDecode(query, limits: Self.tight).phpJSON == expected)
    }

    @Test(arguments: [
        ("a=1&b=2&c=3&d=4", FormError.tooManyVariables(limit: 3)),
        ("a[b][c][d]=1", .tooDeep(name: "a", limit: 2)),
        ("x=1&abc[][][]", .tooDeep(name: "abc", limit: 2)),
        ("abcdefghijklm=1", .keyTooLong(prefix: "abcdefghijklm", limit: 12)),
        ("a%5Bbcdefghijk%5D=1", .keyTooLong(prefix: "a[bcdefghijk]", limit: 12)),  // counted after URL-decoding
        ("name=123456789", .valueTooLong(name: "name", limit: 8)),
        ("n[k]=%41%41%41%41%41%41%41%41%41", .valueTooLong(name: "n[k]", limit: 8)),
    ])
    func limitErrors(query: String, expected: FormError) throws {
        #expect(throws: expected) { try listenerDecode(query, limits: Self.tight) }
    }

    @Test func limitErrorsAreTypedAndDescribed() {
        let error = #expect(throws: FormError.self) { try listenerDecode("abcdefghijklm=1", limits: Self.tight) }
        #expect(error?.isSizeLimit == true)
        #expect(error?.description.contains("abcdefghijklm") == true)
        #expect(FormError.tooDeep(name: "a", limit: 2).isSizeLimit == false)
    }

    /// PHP's max_input_nesting_level is 64: `a` plus 64 `[x]` is accepted, 65 is refused
    /// (PHP silently deletes the variable; we refuse the request with a typed error).
    @Test func defaultDepthLimitIs64() throws {
        let ok = "a" + String(repeating: "[x]", count: 64) + "=1"
        let expected = #"{"a":"# + String(repeating: #"{"x":"#, count: 64) + #""1""# + String(repeating: "}", count: 65)
        #expect(try phpDecode(ok) == expected)
        let tooDeep = "a" + String(repeating: "[x]", count: 65) + "=1"
        #expect(throws: FormError.tooDeep(name: "a", limit: 64)) { try listenerDecode(tooDeep) }
        // An unmatched bracket at level 65 still counts as a level, as in PHP.
        let unmatched = "a" + String(repeating: "[x]", count: 64) + "[x=1"
        #expect(throws: FormError.tooDeep(name: "a", limit: 64)) { try listenerDecode(unmatched) }
    }

    /// A refused variable stores nothing: the limit is checked before the tree changes.
    @Test func tooDeepLeavesNoPartialTree() throws {
        var builder = FormBuilder(limits: Self.tight)
        let decoder = URLEncodedFormDecoder(limits: Self.tight)
        let bytes = Array("a[b][c][d]=1".utf8)
        #expect(throws: FormError.tooDeep(name: "a", limit: 2)) {
            try bytes.withUnsafeBufferPointer { (buffer) throws(FormError) in try decoder.decode(buffer, into: &builder) }
        }
        #expect(builder.root.isEmpty)
    }

    /// Field values of tens of KB are normal (notes, long URLs); 64 KiB must pass by default.
    @Test func largeValuesPassByDefault() throws {
        let value = String(repeating: "x", count: 64 * 1024)
        let form = try listenerDecode("fields[0][value]=" + value)
        #expect(form["fields"]?.arrayValue?[FormKey.int(0)]?.arrayValue?["value"] == .string(value))
    }

    // MARK: - Hostile input stays fast

    /// 10,000 levels: refused quickly, at the key-length limit with the defaults, and at
    /// the depth limit when keys may be long, even when `maxDepth` asks for 10,000 (it is
    /// capped at `FormLimits.depthCeiling`).
    @Test func tenThousandLevels() throws {
        let query = "a" + String(repeating: "[x]", count: 10_000) + "=1"
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            #expect(throws: FormError.keyTooLong(prefix: String(query.prefix(32)), limit: 4096)) {
                try listenerDecode(query)
            }
            var longKeys = FormLimits.default
            longKeys.maxKeyBytes = 1 << 20
            #expect(throws: FormError.tooDeep(name: "a", limit: 64)) { try listenerDecode(query, limits: longKeys) }
            var lifted = longKeys
            lifted.maxDepth = 10_000
            #expect(lifted.maxDepth == FormLimits.depthCeiling)
            #expect(throws: FormError.tooDeep(name: "a", limit: FormLimits.depthCeiling)) {
                try listenerDecode(query, limits: lifted)
            }
            let json = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
            // Root plus 64 nested lists pass; the 66th list (under 65 indices) is refused.
            #expect(throws: FormError.tooDeep(name: String(repeating: "[0]", count: 65), limit: 64)) {
                try JSONFormDecoder().decode(Array(json.utf8))
            }
        }
        // A hang guard, not a benchmark (bench/ measures speed): generous enough for sanitizer builds.
        #expect(elapsed < .seconds(30), "10,000 levels took \(elapsed)")
    }

    @Test func depthCeilingCapsConfiguredDepth() {
        #expect(FormLimits(maxBodyBytes: 1, maxVars: 1, maxDepth: 1_000_000, maxKeyBytes: 1, maxValueBytes: 1).maxDepth == 512)
        var limits = FormLimits.default
        limits.maxDepth = .max
        #expect(limits.maxDepth == FormLimits.depthCeiling)
        limits.maxDepth = 3
        #expect(limits.maxDepth == 3)
    }

    /// The deepest tree a configuration can allow decodes (form and JSON), renders and is
    /// released without trouble; one level more is refused by both decoders.
    @Test func deepestAllowedTree() throws {
        var limits = FormLimits.default
        limits.maxDepth = .max
        limits.maxKeyBytes = 1 << 20
        let levels = FormLimits.depthCeiling
        let form = try listenerDecode("a" + String(repeating: "[x]", count: levels) + "=1", limits: limits)
        var depth = 0
        var node = form["a"]
        while case .array(let array)? = node {
            depth += 1
            node = array["x"]
        }
        #expect(depth == levels)
        let json = form.phpJSON
        #expect(json == #"{"a":"# + String(repeating: #"{"x":"#, count: levels) + #""1""# + String(repeating: "}", count: levels + 1))
        // The same tree as a JSON body: the root object plus `levels` nested containers.
        #expect(try JSONFormDecoder(limits: limits).decode(Array(json.utf8)) == form)
        #expect(throws: FormError.tooDeep(name: "a", limit: levels)) {
            try listenerDecode("a" + String(repeating: "[x]", count: levels + 1) + "=1", limits: limits)
        }
        let deeper = #"{"a":"# + String(repeating: #"{"x":"#, count: levels + 1) + #""1""# + String(repeating: "}", count: levels + 2)
        let error = #expect(throws: FormError.self) { try JSONFormDecoder(limits: limits).decode(Array(deeper.utf8)) }
        guard case .tooDeep(_, levels)? = error else {
            Issue.record("expected tooDeep at \(levels), got \(String(describing: error))")
            return
        }
    }

    /// Keys that all land in the same bucket of PHP's own hash table (multiples of 2^32)
    /// and a plain run of indices: both decode in linear time.
    @Test(arguments: [UInt64(1) << 32, 1])
    func hundredThousandIntegerKeys(stride step: UInt64) throws {
        let count = 100_000
        var query = ""
        query.reserveCapacity(count * 24)
        for index in 0..<UInt64(count) {
            if index > 0 { query += "&" }
            query += "a[\(index &* step)]=v"
        }
        query += "&a[]=last"
        var roomy = FormLimits.default
        roomy.maxVars = 200_000
        let clock = ContinuousClock()
        var form = FormArray()
        let elapsed = try clock.measure {
            #expect(throws: FormError.tooManyVariables(limit: 10_000)) { try listenerDecode(query) }
            form = try listenerDecode(query, limits: roomy)
        }
        let a = try #require(form["a"]?.arrayValue)
        #expect(a.count == count + 1)
        #expect(a.keys.last == .int(Int((UInt64(count) - 1) &* step) + 1))
        #expect(a.isList == (step == 1))
        // A hang guard, not a benchmark (bench/ measures speed): generous enough for sanitizer builds.
        #expect(elapsed < .seconds(30), "100,000 keys took \(elapsed)")
    }
}

/// Seeded random junk for every decoder: it must come back as a tree or a typed
/// `FormError` (a trap would kill the test run, as it would kill the listener), decode the
/// same way twice, and a decoded tree must survive `phpJSON` → `JSONFormDecoder` unchanged.
@Suite("Hostile input")
struct HostileInputTests {
    static let multipartTokens = [
        "--B", "--B--", "\r\n", "\r\n\r\n", "\n", "\r", "--", "-", "B",
        "Content-Disposition: form-data; name=\"a\"", "content-disposition:form-data;name=a[]", " name=\"x[", "]\"",
        "; filename=\"f\"", "name='", "'", "\"", "\\", "x", ":", " ", "\t", ";", "=", "\u{0}", "é",
    ]
    static let jsonTokens = [
        "{", "}", "[", "]", "\"a\"", "\"0\"", "\"", ":", ",", "1", "-", "0", ".", "e", "+", "true", "null", "fals",
        "\\u", "\\ud83d\\ude00", "\\ud800", "\\n", "\\", " ", "\n", "\"é\"", "\u{1}",
    ]

    /// The tree rendered as PHP would and read back as a JSON body is the same tree.
    static func expectJSONRoundTrip(_ form: FormArray, sourceLocation: SourceLocation = #_sourceLocation) {
        var limits = FormLimits.default
        limits.maxDepth = 66  // a form's deepest leaf sits one level below its deepest array
        do {
            #expect(try JSONFormDecoder(limits: limits).decode(Array(form.phpJSON.utf8)) == form, sourceLocation: sourceLocation)
        } catch {
            Issue.record("phpJSON of a decoded tree is not readable JSON: \(error)\n\(form.phpJSON)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: 0..<4)
    func multipartTokenSoup(batch: Int) {
        var rng = SeededGenerator(seed: 0x3A17 + UInt64(batch))
        var decoded = 0
        var refused = 0
        for _ in 0..<1_000 {
            var body = rng.chance(80) ? "--B\r\n" : ""
            for _ in 0..<Int.random(in: 0...30, using: &rng) { body += rng.pick(Self.multipartTokens) }
            let bytes = Array(body.utf8)
            do {
                let form = try MultipartFormDecoder().decode(bytes, boundary: "B")
                #expect(try MultipartFormDecoder().decode(bytes, boundary: "B") == form)
                Self.expectJSONRoundTrip(form)
                decoded += 1
            } catch {
                refused += 1
            }
        }
        #expect(decoded > 0)
        #expect(refused > 0)
    }

    @Test(arguments: 0..<4)
    func jsonTokenSoup(batch: Int) {
        var rng = SeededGenerator(seed: 0x1503 + UInt64(batch))
        var decoded = 0
        var refused = 0
        for _ in 0..<2_000 {
            var text = rng.pick(["{", "[", ""])
            for _ in 0..<Int.random(in: 0...20, using: &rng) { text += rng.pick(Self.jsonTokens) }
            var bytes = Array(text.utf8)
            if rng.chance(5) { bytes.insert(rng.pick([0xFF, 0xC3, 0x80, 0xED]), at: Int.random(in: 0...bytes.count, using: &rng)) }
            do {
                let first = try JSONFormDecoder().decode(bytes)
                #expect(try JSONFormDecoder().decode(bytes) == first)
                Self.expectJSONRoundTrip(first)
                decoded += 1
            } catch {
                refused += 1
            }
        }
        #expect(decoded > 0)
        #expect(refused > 0)
    }

    @Test(arguments: 0..<4)
    func urlEncodedByteSoup(batch: Int) throws {
        var rng = SeededGenerator(seed: 0x0B17E + UInt64(batch))
        let alphabet = Array("[]%&=+ .aZ0-9".utf8) + [0x00, 0x09, 0xC3, 0xA9, 0xFF, 0x80, 0xE2]
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0...48, using: &rng)).map { _ -> UInt8 in
                rng.chance(85) ? rng.pick(alphabet) : UInt8.random(in: 0...255, using: &rng)
            }
            for mangling in [false, true] {
                let form = try URLEncodedFormDecoder(phpNameMangling: mangling).decode(bytes)
                #expect(try URLEncodedFormDecoder(phpNameMangling: mangling).decode(bytes) == form)
                Self.expectJSONRoundTrip(form)
            }
        }
    }
}
