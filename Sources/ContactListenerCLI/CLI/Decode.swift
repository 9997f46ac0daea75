import ContactListenerKit
import ContactListenerRuntime
import ListenerSupport
import ListenerSupport
import ArgumentParser

extension ContactListener {
    /// `contact-listener decode`: see what the listener makes of a body, from the shell.
    package struct Decode: ParsableCommand {
        /// Help for `decode`.
        package static let configuration = CommandConfiguration(
            abstract: "Decode a request body from FILE or stdin and print it as JSON.",
            discussion: """
                Without --raw, prints the contact event the listener would store. With --raw, \
                prints the decoded parameters exactly as PHP's json_encode($_POST) would \
                (JSON_UNESCAPED_SLASHES|JSON_UNESCAPED_UNICODE): keys 0..n-1 in order make a list. \
                The configuration's limits apply; its verify: rules do not (the input is local).

                Examples:
                  printf 'contact[email]=ann%%40example.com&fields[0][name]=City&fields[0][value]=Oslo' | contact-listener decode
                  contact-listener decode --raw --content-type application/json payload.json
                  printf 'email=ann%%40example.com&first=Ann' | contact-listener decode --method GET
                """)

        @Flag(name: .long, help: "Print the generic decoded tree (PHP's $_POST) instead of the event.")
        var raw = false

        @Option(name: .long, help: ArgumentHelp("The body's Content-Type (default application/x-www-form-urlencoded).", valueName: "type"))
        var contentType = "application/x-www-form-urlencoded"

        @Option(name: .long, help: ArgumentHelp("GET treats the input as the query string (shortcode mode).", valueName: "method"))
        var method = "POST"

        @Option(name: .long, help: ArgumentHelp("Take limits from this configuration file.", valueName: "file"))
        var config: String?

        @Argument(help: ArgumentHelp("The body to decode (default: stdin).", valueName: "file"))
        var file: String?

        /// Creates the command (ArgumentParser needs it).
        package init() {}

        /// Runs `decode`.
        package func run() throws {
            var configuration = ListenerConfiguration.defaults()
            if let config {
                do { configuration = try ConfigurationLoader.load(explicit: config) } catch {
                    Runtime.complain("\(error)")
                    throw ExitCode(ExitStatus.configuration)
                }
            }
            configuration.handlers = []
            var input = CGIGateway.DescriptorSource(fd: 0)
            var bytes: [UInt8] = []
            do {
                if let file {
                    bytes = Array(try FileSystem.readText(file).utf8)
                } else {
                    var chunk = [UInt8](repeating: 0, count: 65536)
                    while true {
                        let count = try chunk.withUnsafeMutableBytes { try input.read(into: $0) }
                        if count == 0 { break }
                        bytes.append(contentsOf: chunk[0..<count])
                        if bytes.count > configuration.limits.maxBodyBytes {
                            throw RequestError.bodyTooLarge(length: bytes.count, limit: configuration.limits.maxBodyBytes)
                        }
                    }
                }
            } catch {
                Runtime.complain("\(error)")
                throw ExitCode(1)
            }
            let upper = method.uppercased()
            var params = ["REQUEST_METHOD": upper, "CONTENT_TYPE": contentType]
            var body = bytes
            if upper == "GET" {
                params["QUERY_STRING"] = String(decoding: bytes, as: UTF8.self)
                body = []
            }
            let pipeline = RequestPipeline(
                configuration: configuration, sink: DirectSink(handlers: HandlerSet([])), logger: .init(label: "decode"), board: nil)
            do throws(PipelineError) {
                let request = Request(params: params, body: body)
                if raw {
                    // Any tree that decodes, even one that is not a valid event.
                    print(try pipeline.decodeParameters(request).phpJSON)
                } else {
                    // A file given on this machine: the `verify:` rules guard the network, not this.
                    let local = VerifiedRequest(clientAddress: nil, query: request.queryString, webhookID: nil)
                    let event = try pipeline.encodeEvent(from: request, requestID: "decode", verified: local)
                    print(String(decoding: event.json, as: UTF8.self))
                }
            } catch {
                Runtime.complain("\(error.status): \(error)")
                throw ExitCode(1)
            }
        }
    }
}
