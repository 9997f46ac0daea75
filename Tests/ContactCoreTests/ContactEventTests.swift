import Testing
@testable import ContactCore

/// `ContactEvent(form:metadata:)` and its JSON line, from requests as the platform sends
/// them (bodies built by PHP's `http_build_query`, so `[`/`]` arrive as `%5B`/`%5D`).
@Suite("Contact event mapping")
struct ContactEventTests {
    /// One request and the exact event line it must give.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var method: String
        var query: String
        var expected: String
        var testDescription: String { name }
    }

    static let meta = #""received_at":"2024-03-07T08:09:10.123Z","remote_addr":"203.0.113.5","request_id":"req-1""#

    /// The event for `query` sent with `method`, with the mode the pipeline would pick.
    static func event(_ query: String, method: String = "POST") throws -> ContactEvent {
        let form = try URLEncodedFormDecoder().decode(Array(query.utf8))
        let metadata = EventMetadata(
            receivedAt: "2024-03-07T08:09:10.123Z", remoteAddress: "203.0.113.5", requestID: "req-1",
            method: method, mode: ContactEvent.mode(of: form, method: method))
        return try ContactEvent(form: form, metadata: metadata)
    }

    /// Every section, as the platform's PHP sends it:
    /// `http_build_query(['transactionid' => 'tx-1001', 'contact' => [...], ...])`.
    static let fullPayload = "transactionid=tx-1001&contact%5Bid%5D=42&contact%5Bemail%5D=ann%40example.com&contact%5Bphone%5D=%2B1+555+0100&contact%5Bprofile_url%5D=https%3A%2F%2Fapp.example.com%2Fcontacts%2F42%3Ftab%3Dinfo%26x%3D1&fields%5B0%5D%5Bid%5D=7&fields%5B0%5D%5Bname%5D=first_name&fields%5B0%5D%5Bvalue%5D=Ann&fields%5B1%5D%5Bid%5D=8&fields%5B1%5D%5Bname%5D=notes&fields%5B1%5D%5Bvalue%5D=Line+1%0ALine+%222%22+%26+50%25+off&campaigns-opened%5B0%5D%5Bid%5D=c1&campaigns-opened%5B0%5D%5Bname%5D=Spring&campaigns-opened%5B0%5D%5Bopen_date%5D=2024-03-01+10%3A00%3A00&links-clicked%5B0%5D%5Burl%5D=https%3A%2F%2Fx.example%2Fa%3Fb%3Dc&links-clicked%5B0%5D%5Bclicks%5D=3&pages-visited%5B0%5D%5Bpage%5D=%2Fpricing&pages-visited%5B0%5D%5Bvisit_date%5D=2024-03-02&automation-triggered%5B0%5D%5Bid%5D=a1&automation-triggered%5B0%5D%5Bname%5D=Welcome&automation-triggered%5B0%5D%5Btrigger_date%5D=2024-03-03&goals-reached%5B0%5D%5Bid%5D=g1&goals-reached%5B0%5D%5Bname%5D=Signup&goals-reached%5B0%5D%5Breach_date%5D=2024-03-04&webhooks-triggered%5B0%5D%5Bid%5D=w1&webhooks-triggered%5B0%5D%5Bname%5D=CRM+sync&webhooks-triggered%5B0%5D%5Btrigger_date%5D=2024-03-05&lead-score%5B0%5D%5Bid%5D=s1&lead-score%5B0%5D%5Bname%5D=Default&lead-score%5B0%5D%5Bscore%5D=15&lead-score%5B0%5D%5Bscore_date%5D=2024-03-06&lead-status%5Bscore%5D=15&lead-status%5Blabel%5D=Warm"

    static let cases: [Case] = [
        Case(
            name: "full structured payload", method: "POST", query: fullPayload,
            expected: #"{"transactionid":"tx-1001","contact":{"id":"42","email":"ann@example.com","phone":"+1 555 0100","profile_url":"https://app.example.com/contacts/42?tab=info&x=1"},"fields":[{"id":"7","name":"first_name","value":"Ann"},{"id":"8","name":"notes","value":"Line 1\nLine \"2\" & 50% off"}],"campaigns-opened":[{"id":"c1","name":"Spring","open_date":"2024-03-01 10:00:00"}],"links-clicked":[{"url":"https://x.example/a?b=c","clicks":"3"}],"pages-visited":[{"page":"/pricing","visit_date":"2024-03-02"}],"automation-triggered":[{"id":"a1","name":"Welcome","trigger_date":"2024-03-03"}],"goals-reached":[{"id":"g1","name":"Signup","reach_date":"2024-03-04"}],"webhooks-triggered":[{"id":"w1","name":"CRM sync","trigger_date":"2024-03-05"}],"lead-score":[{"id":"s1","name":"Default","score":"15","score_date":"2024-03-06"}],"lead-status":[{"score":"15","label":"Warm"}],"extra":{},"meta":{"# + meta + #","method":"POST","mode":"structured"}}"#),
        Case(
            name: "missing sections are empty lists", method: "POST",
            query: "transactionid=t2&contact%5Bemail%5D=a%40b.c",
            expected: #"{"transactionid":"t2","contact":{"id":null,"email":"a@b.c","phone":null,"profile_url":null},"fields":[],"campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],"goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[],"extra":{},"meta":{"# + meta + #","method":"POST","mode":"structured"}}"#),
        Case(
            name: "lead-status as a list", method: "POST",
            query: "contact[id]=1&lead-status[0][score]=1&lead-status[0][label]=Cold&lead-status[1][score]=9&lead-status[1][label]=Hot",
            expected: #"{"transactionid":null,"contact":{"id":"1","email":null,"phone":null,"profile_url":null},"fields":[],"campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],"goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[{"score":"1","label":"Cold"},{"score":"9","label":"Hot"}],"extra":{},"meta":{"# + meta + #","method":"POST","mode":"structured"}}"#),
        Case(
            name: "lead-status object with an unknown key", method: "POST",
            query: "lead-status[label]=Hot&lead-status[color]=red",
            expected: #"{"transactionid":null,"contact":{"id":null,"email":null,"phone":null,"profile_url":null},"fields":[],"campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],"goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[{"score":null,"label":"Hot","extra":{"color":"red"}}],"extra":{},"meta":{"# + meta + #","method":"POST","mode":"structured"}}"#),
        Case(
            name: "unknown top-level keys go to extra", method: "POST",
            query: "contact[id]=1&utm_source=mail&custom[a][]=x&custom[a][]=y&0=zero&email=flat%40x",
            expected: #"{"transactionid":null,"contact":{"id":"1","email":null,"phone":null,"profile_url":null},"fields":[],"campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],"goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[],"extra":{"utm_source":"mail","custom":{"a":["x","y"]},"0":"zero","email":"flat@x"},"meta":{"# + meta + #","method":"POST","mode":"structured"}}"#),
        Case(
            name: "unknown record keys are kept; indices need not be 0..n-1", method: "POST",
            query: "fields[5][name]=b&fields[5][color]=red&fields[2][name]=a&fields[x][value]=v",
            expected: #"{"transactionid":null,"contact":{"id":null,"email":null,"phone":null,"profile_url":null},"fields":[{"id":null,"name":"b","value":null,"extra":{"color":"red"}},{"id":null,"name":"a","value":null},{"id":null,"name":null,"value":"v"}],"campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],"goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[],"extra":{},"meta":{"# + meta + #","method":"POST","mode":"structured"}}"#),
        Case(
            name: "GET shortcode parameters", method: "GET",
            query: "email=a@b.c&first=Ann&transactionid=t1",
            expected: #"{"transactionid":"t1","contact":{"id":null,"email":"a@b.c","phone":null,"profile_url":null},"fields":[{"id":null,"name":"first","value":"Ann"}],"campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],"goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[],"extra":{},"meta":{"# + meta + #","method":"GET","mode":"shortcode"}}"#),
        Case(
            name: "flat email loses to contact[email], whichever comes first", method: "GET",
            query: "email=flat@x&contact[email]=structured@x&last=Lee&phone=1",
            expected: #"{"transactionid":null,"contact":{"id":null,"email":"structured@x","phone":"1","profile_url":null},"fields":[{"id":null,"name":"last","value":"Lee"}],"campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],"goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[],"extra":{},"meta":{"# + meta + #","method":"GET","mode":"shortcode"}}"#),
        Case(
            name: "flat email loses to an earlier contact[email]", method: "GET",
            query: "contact[email]=structured@x&email=flat@x",
            expected: #"{"transactionid":null,"contact":{"id":null,"email":"structured@x","phone":null,"profile_url":null},"fields":[],"campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],"goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[],"extra":{},"meta":{"# + meta + #","method":"GET","mode":"shortcode"}}"#),
        Case(
            name: "POST without sections is shortcode; fields keep query order", method: "POST",
            query: "zeta=1&email=a@b.c&alpha=2&phone=3&id=9&profile_url=u&mid=4",
            expected: #"{"transactionid":null,"contact":{"id":"9","email":"a@b.c","phone":"3","profile_url":"u"},"fields":[{"id":null,"name":"zeta","value":"1"},{"id":null,"name":"alpha","value":"2"},{"id":null,"name":"mid","value":"4"}],"campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],"goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[],"extra":{},"meta":{"# + meta + #","method":"POST","mode":"shortcode"}}"#),
        Case(
            name: "shortcode flat fields before a fields section are kept", method: "GET",
            query: "first=Ann&fields[0][name]=last&fields[0][value]=Lee&city=Oslo",
            expected: #"{"transactionid":null,"contact":{"id":null,"email":null,"phone":null,"profile_url":null},"fields":[{"id":null,"name":"first","value":"Ann"},{"id":null,"name":"last","value":"Lee"},{"id":null,"name":"city","value":"Oslo"}],"campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],"goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[],"extra":{},"meta":{"# + meta + #","method":"GET","mode":"shortcode"}}"#),
        Case(
            name: "shortcode integer-named and array parameters", method: "GET",
            query: "5=x&tags[]=a&tags[]=b&name=N",
            expected: #"{"transactionid":null,"contact":{"id":null,"email":null,"phone":null,"profile_url":null},"fields":[{"id":null,"name":"5","value":"x"},{"id":null,"name":"name","value":"N"}],"campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],"goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[],"extra":{"tags":["a","b"]},"meta":{"# + meta + #","method":"GET","mode":"shortcode"}}"#),
        Case(
            name: "GET with sections is still shortcode", method: "GET",
            query: "contact[email]=a@b.c&note=hi",
            expected: #"{"transactionid":null,"contact":{"id":null,"email":"a@b.c","phone":null,"profile_url":null},"fields":[{"id":null,"name":"note","value":"hi"}],"campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],"goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[],"extra":{},"meta":{"# + meta + #","method":"GET","mode":"shortcode"}}"#),
        Case(
            name: "escaping in values and keys", method: "POST",
            query: "contact[email]=%22q%22%5C%2F%E2%80%A8%01&x%22y=%09",
            expected: #"{"transactionid":null,"contact":{"id":null,"email":"\"q\"\\/\u2028\u0001","phone":null,"profile_url":null},"fields":[],"campaigns-opened":[],"links-clicked":[],"pages-visited":[],"automation-triggered":[],"goals-reached":[],"webhooks-triggered":[],"lead-score":[],"lead-status":[],"extra":{"x\"y":"\t"},"meta":{"# + meta + #","method":"POST","mode":"structured"}}"#),
    ]

    @Test(arguments: cases)
    func eventJSON(_ testCase: Case) throws {
        let event = try Self.event(testCase.query, method: testCase.method)
        #expect(event.json == testCase.expected)
    }

    @Test func fullPayloadTypedFields() throws {
        let event = try Self.event(Self.fullPayload)
        #expect(event.transactionID == "tx-1001")
        #expect(event.contact.profileURL == "https://app.example.com/contacts/42?tab=info&x=1")
        #expect(event.fields.map(\.name) == ["first_name", "notes"])
        #expect(event.fields.last?.value == "Line 1\nLine \"2\" & 50% off")
        #expect(event.leadScore.first?.score == "15")
        #expect(event.leadStatus.count == 1)
        #expect(event.extra.isEmpty)
        #expect(event.metadata.mode == .structured)
    }

    /// The same payload as a JSON body maps to the same event.
    @Test func jsonBodyMapsLikeAForm() throws {
        let json = #"{"transactionid":"t","contact":{"email":"a@b.c"},"fields":[{"name":"n","value":"v"}],"lead-status":{"score":"5","label":"Hot"}}"#
        let fromJSON = try JSONFormDecoder().decode(Array(json.utf8))
        let fromForm = try URLEncodedFormDecoder().decode(Array(
            "transactionid=t&contact[email]=a@b.c&fields[0][name]=n&fields[0][value]=v&lead-status[score]=5&lead-status[label]=Hot".utf8))
        #expect(fromJSON == fromForm)
        let metadata = EventMetadata(receivedAt: "r", remoteAddress: nil, requestID: "q", method: "POST", mode: .structured)
        #expect(try ContactEvent(form: fromJSON, metadata: metadata) == ContactEvent(form: fromForm, metadata: metadata))
        #expect(try ContactEvent(form: fromJSON, metadata: metadata).json.contains(#""remote_addr":null"#))
    }

    @Test(arguments: [
        ("POST", "contact[email]=a", EventMode.structured),
        ("POST", "lead-status[score]=1", .structured),
        ("POST", "email=a&transactionid=t", .shortcode),
        ("POST", "", .shortcode),
        ("GET", "contact[email]=a", .shortcode),
        ("PUT", "fields[0][name]=x", .structured),
    ])
    func mode(method: String, query: String, expected: EventMode) throws {
        let form = try URLEncodedFormDecoder().decode(Array(query.utf8))
        #expect(ContactEvent.mode(of: form, method: method) == expected)
    }

    /// Malformed input is refused with an error naming the offending key.
    @Test(arguments: [
        ("POST", "fields=abc", EventError.expectedArray(key: "fields")),
        ("POST", "fields[0]=x", .expectedArray(key: "fields[0]")),
        ("POST", "fields[0][name]=ok&fields[1]=x", .expectedArray(key: "fields[1]")),
        ("POST", "transactionid[]=1", .expectedString(key: "transactionid")),
        ("GET", "transactionid[a]=1", .expectedString(key: "transactionid")),
        ("POST", "contact[email][]=x", .expectedString(key: "contact[email]")),
        ("POST", "contact=x", .expectedArray(key: "contact")),
        ("POST", "lead-score[0][score][x]=1", .expectedString(key: "lead-score[0][score]")),
        ("POST", "links-clicked[2][url][]=u", .expectedString(key: "links-clicked[2][url]")),
        ("POST", "lead-status=x", .expectedArray(key: "lead-status")),
        ("POST", "lead-status[0]=x", .expectedArray(key: "lead-status[0]")),
        // An array under a known key of a single lead-status object, not a list of them.
        ("POST", "lead-status[score][]=1", .expectedString(key: "lead-status[score]")),
        // Flat contact keys in shortcode mode must be single values, like transactionid.
        ("GET", "email[]=a@b.c", .expectedString(key: "email")),
        ("GET", "phone[x]=1", .expectedString(key: "phone")),
    ])
    func malformedInputThrows(method: String, query: String, expected: EventError) throws {
        #expect(throws: expected) { try Self.event(query, method: method) }
    }

    @Test func errorMessagesNameTheKey() {
        #expect(EventError.expectedArray(key: "fields[0]").description.contains("'fields[0]'"))
        #expect(EventError.expectedString(key: "contact[email]").description.contains("'contact[email]'"))
    }

    /// The spooled JSON line reads back as the same event (ContactEvent+StoredJSON),
    /// including records' unknown keys and deep `extra` trees.
    @Test(arguments: cases)
    func storedJSONRoundTrip(_ testCase: Case) throws {
        let event = try Self.event(testCase.query, method: testCase.method)
        let restored = try ContactEvent(storedJSON: Array(event.json.utf8))
        #expect(restored.json == event.json)
        #expect(restored == event)
    }

    /// An event nested exactly to `max_depth` wherever the stored form nests deeper than
    /// the request (a top-level extra under "extra", a record's unknown key under its own
    /// "extra", one lead-status object stored as a list of one) reads back from the spool,
    /// up to the deepest `max_depth` a configuration can set.
    @Test(arguments: [8, 64, FormLimits.depthCeiling])
    func storedJSONAtTheDepthLimit(maxDepth: Int) throws {
        var limits = FormLimits.default
        limits.maxDepth = maxDepth
        func nest(_ name: String, levels: Int) -> String { name + String(repeating: "[a]", count: levels) + "=deep" }
        let query = ["transactionid=tx-deep", "fields[0][name]=n", nest("x", levels: maxDepth), nest("contact[x]", levels: maxDepth - 1),
                     nest("fields[0][x]", levels: maxDepth - 2), nest("lead-status[x]", levels: maxDepth - 1)].joined(separator: "&")
        let form = try listenerDecode(query, limits: limits)
        let metadata = EventMetadata(receivedAt: "2024-03-07T08:09:10.123Z", remoteAddress: nil, requestID: "req-deep", method: "POST", mode: .structured)
        let event = try ContactEvent(form: form, metadata: metadata)
        let restored = try ContactEvent(storedJSON: Array(event.json.utf8))
        #expect(restored == event)
        #expect(restored.json == event.json)
    }

    /// Reading stored JSON back is bounded all the same: nesting past what any accepted
    /// event can store is refused, not recursed into.
    @Test func storedJSONNestingIsBounded() throws {
        func stored(listLevels: Int) -> [UInt8] {
            // The root object and "extra" are two levels; the lists under "x" the rest.
            Array((#"{"extra":{"x":"# + String(repeating: "[", count: listLevels) + String(repeating: "]", count: listLevels) + "}}").utf8)
        }
        let limit = StoredEventReader.depthLimit
        #expect(try ContactEvent(storedJSON: stored(listLevels: limit - 1)).extra["x"] != nil)
        do {
            _ = try ContactEvent(storedJSON: stored(listLevels: limit))
            Issue.record("stored JSON nested past \(limit) levels was read")
        } catch {
            guard case .tooDeep(_, let reported) = error else { throw error }
            #expect(reported == limit)
        }
    }

    @Test func storedJSONKeepsDeepExtras() throws {
        let deep = "contact[id]=1&x" + String(repeating: "[a]", count: 63) + "=v&fields[0][name]=n&fields[0][extra][k]=1"
        let event = try Self.event(deep, method: "POST")
        let restored = try ContactEvent(storedJSON: Array(event.json.utf8))
        #expect(restored.json == event.json)
    }

    /// Stored JSON is read as the writer wrote it: anything else is refused with the place
    /// it went wrong, never mapped into the event by guesswork.
    @Test(arguments: [
        (#"{"transactionid":"t","colour":"red"}"#, "unexpected key 'colour'"),
        (#"{"fields":[{"name":"n","colour":"red"}]}"#, "unexpected key 'colour'"),
        (#"{"fields":{"name":"n"}}"#, "expected '['"),
        (#"{"contact":[]}"#, "expected '{'"),
        (#"{"contact":{"email":["a"]}}"#, "expected a string or null"),
        (#"{"transactionid":7}"#, "expected a string or null"),
        (#"{"meta":{"mode":"sideways"}}"#, "unexpected key 'mode: sideways'"),
        (#"{"extra":"x"}"#, "expected an object for 'extra'"),
        (#"{"transactionid":"t"} x"#, "unexpected data after the event"),
        (#"{"transactionid":"t""#, "expected ',' or '}'"),
    ])
    func storedJSONRefusesWhatTheWriterNeverWrites(json: String, words: String) {
        do {
            _ = try ContactEvent(storedJSON: Array(json.utf8))
            Issue.record("\(json) was read")
        } catch {
            #expect("\(error)".contains(words), "\(json): \(error)")
        }
    }

    /// The section table drives the JSON: every section is written, in the table's order,
    /// between `transactionid` and `extra`, and an absent one is an empty list (or the
    /// contact with every key null).
    @Test func sectionTableOrdersTheJSON() throws {
        let json = try Self.event("transactionid=t", method: "POST").json
        var offsets: [String.Index] = []
        for name in ["transactionid"] + EventSection.all.map(\.name) + ["extra", "meta"] {
            let range = try #require(json.range(of: "\"\(name)\":"), "\(name) missing from \(json)")
            offsets.append(range.lowerBound)
        }
        #expect(offsets == offsets.sorted())
        for section in EventSection.all where section.shape != .object {
            #expect(json.contains("\"\(section.name)\":[]"), "\(section.name)")
        }
        for section in EventSection.all {
            if let table = section.sqlTable {
                #expect(table.columns.count == section.keys.count, "\(section.name): one column per key")
                #expect(table.wholeNumbers.isSubset(of: Set(section.keys)), "\(section.name)")
            }
        }
    }

    /// `values` and `lastValue` read each section's records by the table's keys.
    @Test func sectionValuesFollowTheKeys() throws {
        let event = try Self.event(Self.fullPayload)
        let clicks = try #require(EventSection.named("links-clicked"))
        #expect(clicks.values(event) == [["https://x.example/a?b=c", "3"]])
        #expect(EventSection.named("contact")?.lastValue(of: "email", in: event) == "ann@example.com")
        #expect(EventSection.named("lead-status")?.lastValue(of: "label", in: event) == "Warm")
        #expect(EventSection.named("lead-status")?.lastValue(of: "colour", in: event) == nil)
        #expect(EventSection.named("nothing") == nil)
    }
}

/// The request path writes an event's JSON straight from the arena (`EventEncoder`);
/// handlers read the typed event back from it, and `ContactEvent.write` writes that typed
/// event. Both writers must give the same bytes, for any form, in both modes.
@Suite("Event encoder vs the typed event")
struct EventEncoderTests {
    /// Top-level keys: every section, the transaction id, flat contact keys and others.
    static let topKeys = EventSection.all.map(\.name) + ["transactionid", "email", "phone", "id", "profile_url", "other", "7"]
    /// Record keys: each section's own, and some no section knows.
    static let recordKeys = Array(Set(EventSection.all.flatMap(\.keys))) + ["extra", "x", "0", "1"]

    static func randomForm(_ rng: inout SeededGenerator) -> FormArray {
        func leaf() -> FormValue { .string(rng.pick(["", "Ann", "a@b.c", "é \"q\" \\ \u{2028}", "0", "\u{1}"])) }
        func record(depth: Int) -> FormValue {
            var array = FormArray()
            for _ in 0..<Int.random(in: 0...5, using: &rng) {
                array[FormKey(rng.pick(recordKeys))] = depth < 2 && rng.chance(15) ? record(depth: depth + 1) : leaf()
            }
            return .array(array)
        }
        var form = FormArray()
        for _ in 0..<Int.random(in: 0...10, using: &rng) {
            let value: FormValue
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<2: value = leaf()
            case 2..<4: value = record(depth: 0)
            default:
                var list = FormArray()
                for _ in 0..<Int.random(in: 0...4, using: &rng) {
                    list.append(rng.chance(90) ? record(depth: 0) : leaf())
                }
                if rng.chance(10) { list[FormKey("k")] = record(depth: 0) }
                value = .array(list)
            }
            form[FormKey(rng.pick(topKeys))] = value
        }
        return form
    }

    @Test("random forms", arguments: 0..<4)
    func sameBytes(batch: Int) throws {
        var rng = SeededGenerator(seed: 0xE4C0_0000 + UInt64(batch))
        var encoded = 0
        for _ in 0..<1000 {
            let arena = FormArena(tree: Self.randomForm(&rng))
            for method in ["POST", "GET"] {
                let metadata = EventMetadata(
                    receivedAt: "2026-01-01T00:00:00.000Z", remoteAddress: nil, requestID: "r", method: method,
                    mode: EventEncoder.mode(of: arena, method: method))
                let output: EventEncoder.Output
                do {
                    output = try EventEncoder.encode(arena, metadata: metadata)
                } catch {
                    // The reference refuses the same form with the same error.
                    #expect(throws: error) { try ReferenceMapping.event(form: arena.tree(), metadata: metadata) }
                    continue
                }
                encoded += 1
                let typed = try ContactEvent(storedJSON: output.json)
                let json = String(decoding: output.json, as: UTF8.self)
                #expect(typed.json == json)
                #expect(typed.transactionID == output.transactionID)
                // The identity the spool orders by is the event's own.
                #expect(typed.contact.id == output.contactID && typed.contact.email == output.contactEmail, "\(json)")
                // And an independent mapping of the same tree, written by the typed writer.
                let reference = try ReferenceMapping.event(form: arena.tree(), metadata: metadata)
                #expect(reference.json == json)
            }
        }
        // Most of the 2,000 random forms are valid events: the comparison is not vacuous.
        #expect(encoded > 300)
    }
}

/// The form-to-event mapping written a second time, over `FormArray` trees and typed
/// records, independently of `EventEncoder` (it is the mapping the listener used before
/// the encoder): the oracle the encoder is compared with.
enum ReferenceMapping {
    static func event(form: FormArray, metadata: EventMetadata) throws(EventError) -> ContactEvent {
        var event = ContactEvent(metadata: metadata)
        let shortcode = metadata.mode == .shortcode
        var flatContact: [(Int, String)] = []
        for (key, value) in form.entries {
            if case .string(let name) = key {
                if name == "transactionid" {
                    guard case .string(let text) = value else { throw .expectedString(key: name) }
                    event.transactionID = text
                    continue
                }
                if EventSection.all.contains(where: { $0.name == name }) {
                    try section(name, value, into: &event)
                    continue
                }
                if shortcode, let slot = Contact.names.firstIndex(of: name) {
                    guard case .string(let text) = value else { throw .expectedString(key: name) }
                    flatContact.append((slot, text))
                    continue
                }
            }
            if shortcode, case .string(let text) = value {
                event.fields.append(Field(name: key.description, value: text))
            } else {
                event.extra[key] = value
            }
        }
        for (slot, text) in flatContact where event.contact[slot: slot] == nil { event.contact[slot: slot] = text }
        return event
    }

    static func record<R: SectionRecord>(_ value: FormValue, path: String) throws(EventError) -> R {
        guard case .array(let array) = value else { throw .expectedArray(key: path) }
        var record = R()
        for (key, value) in array.entries {
            if case .string(let name) = key, let slot = R.names.firstIndex(of: name) {
                guard case .string(let text) = value else { throw .expectedString(key: "\(path)[\(name)]") }
                record[slot: slot] = text
            } else {
                record.extra[key] = value
            }
        }
        return record
    }

    static func list<R: SectionRecord>(_ name: String, _ value: FormValue, objectOrList: Bool = false) throws(EventError) -> [R] {
        guard case .array(let array) = value else { throw .expectedArray(key: name) }
        if objectOrList, !array.entries.allSatisfy({ if case .int = $0.key { true } else { false } }) {
            return [try record(value, path: name)]
        }
        var records: [R] = []
        for (key, entry) in array.entries { records.append(try record(entry, path: "\(name)[\(key)]")) }
        return records
    }

    static func section(_ name: String, _ value: FormValue, into event: inout ContactEvent) throws(EventError) {
        switch name {
        case "contact": event.contact = try record(value, path: name)
        case "fields": event.fields += try list(name, value)
        case "campaigns-opened": event.campaignsOpened = try list(name, value)
        case "links-clicked": event.linksClicked = try list(name, value)
        case "pages-visited": event.pagesVisited = try list(name, value)
        case "automation-triggered": event.automationTriggered = try list(name, value)
        case "goals-reached": event.goalsReached = try list(name, value)
        case "webhooks-triggered": event.webhooksTriggered = try list(name, value)
        case "lead-score": event.leadScore = try list(name, value)
        case "lead-status": event.leadStatus = try list(name, value, objectOrList: true)
        default: Issue.record("the reference does not know section \(name)")
        }
    }
}
