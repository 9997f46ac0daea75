#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Serves one request as a CGI script: parameters from the environment, the body from
/// stdin, the answer (with a `Status:` header, as RFC 3875 §6.3.3 asks) on stdout.
public enum CGIGateway {
    /// True when the process looks started by a web server as CGI (RFC 3875 §4.1).
    public static func isCGI(environment: [String: String]) -> Bool {
        environment["GATEWAY_INTERFACE"] != nil || environment["REQUEST_METHOD"] != nil
    }

    /// Serves the one request and returns the status sent.
    @discardableResult
    public static func serve(pipeline: RequestPipeline, environment: [String: String]) -> Int {
        var source = DescriptorSource(fd: 0)
        let response: Response
        do throws(RequestError) {
            let request = try Request.read(params: environment, body: &source, maxBodyBytes: pipeline.configuration.limits.maxBodyBytes)
            response = pipeline.respond(to: request)
        } catch {
            response = pipeline.respond(toUnreadable: error, params: environment)
        }
        let bytes = response.wireBytes
        bytes.withUnsafeBytes { buffer in
            try? FileSystem.writeAll(1, buffer, target: "stdout")
        }
        // Closing stdout lets the web server finish the response now, even if this process
        // still has work to do (issue 4 delivers after answering).
        close(1)
        return response.status
    }

    /// A body read from a file descriptor (CGI's stdin).
    struct DescriptorSource: BodySource {
        let fd: Int32

        mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(RequestError) -> Int {
            while true {
                let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
                if count >= 0 { return count }
                if errno == EINTR { continue }
                throw .readFailed(String(cString: strerror(errno)))
            }
        }
    }
}
