import Testing
@testable import ContactCore

/// `RequestParameters` keeps the web server's `NAME=value` entries as bytes and
/// must answer like the dictionary it replaced: last value of a repeated name, nil for an
/// absent one, entries without `=` ignored.
@Suite("Request parameters")
struct RequestParametersTests {
    /// Raw entries as libfcgi hands them over.
    static func parameters(_ entries: [String]) -> RequestParameters {
        var parameters = RequestParameters()
        for entry in entries {
            Array(entry.utf8).withUnsafeBytes { parameters.append(entry: $0) }
        }
        return parameters
    }

    static let lookups: [(entries: [String], name: String, expected: String?)] = [
        (["REQUEST_METHOD=POST", "QUERY_STRING="], "REQUEST_METHOD", "POST"),
        (["REQUEST_METHOD=POST", "QUERY_STRING="], "QUERY_STRING", ""),
        (["REQUEST_METHOD=POST"], "CONTENT_TYPE", nil),
        (["HTTP_X=1", "HTTP_X=2"], "HTTP_X", "2"),  // last wins, as a dictionary kept it
        (["NOEQUALS", "A=b=c"], "A", "b=c"),  // split at the first '='
        (["NOEQUALS"], "NOEQUALS", nil),  // no '=': ignored
        (["=empty name"], "", "empty name"),
        (["REQUEST_METHOD=POST"], "REQUEST_METHO", nil),  // a prefix is not the name
        (["HTTP_NAME=J%C3%B8rn Øvergård"], "HTTP_NAME", "J%C3%B8rn Øvergård"),
    ]

    @Test(arguments: lookups)
    func looksUpLikeADictionary(_ example: (entries: [String], name: String, expected: String?)) {
        #expect(Self.parameters(example.entries)[example.name] == example.expected)
    }

    @Test func sizeCountsNamesValuesAndTwoBytesEach() {
        let parameters = Self.parameters(["A=1", "BB=22", "NOEQUALS"])
        #expect(parameters.count == 2)
        #expect(parameters.size == "A1".utf8.count + "BB22".utf8.count + 2 * 2)
    }

    @Test func settingReplacesAndNilRemoves() {
        var parameters: RequestParameters = ["A": "1", "B": "2"]
        parameters["A"] = "3"
        #expect(parameters["A"] == "3")
        parameters["B"] = nil
        #expect(parameters["B"] == nil)
        #expect(parameters.dictionary == ["A": "3"])
    }

    @Test func iteratesInTheOrderSent() {
        let parameters = Self.parameters(["Z=1", "A=2", "M=3"])
        #expect(parameters.map(\.name) == ["Z", "A", "M"])
        #expect(parameters.map(\.value) == ["1", "2", "3"])
    }
}
