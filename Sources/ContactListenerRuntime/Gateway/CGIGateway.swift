import ContactListenerKit
import ListenerSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Serves one request as a CGI script: parameters from the environment, the body from
/// stdin, the answer (with a `Status:` header, as RFC 3875 §6.3.3 asks) on stdout.
package enum CGIGateway {
    /// True when the process looks started by a web server as CGI (RFC 3875 §4.1).
    package static func isCGI(environment: [String: String]) -> Bool {
        environment["GATEWAY_INTERFACE"] != nil || environment["REQUEST_METHOD"] != nil
    }

    /// Serves the one request and returns the status sent.
    @discardableResult
    package static func serve(pipeline: RequestPipeline, environment: [String: String]) -> Int {
        var source = DescriptorSource(fd: 0)
        let response: Response
        let params = RequestParameters(environment)
        do throws(RequestError) {
            let request = try Request.read(params: params, body: &source, maxBodyBytes: pipeline.configuration.limits.maxBodyBytes,
                maxHeaderBytes: pipeline.configuration.limits.maxHeaderBytes)
            response = pipeline.respond(to: request)
        } catch {
            response = pipeline.respond(toUnreadable: error, params: params)
        }
        discardUnreadBody(environment: environment, alreadyRead: source.consumed)
        return send(response)
    }

    /// Writes `response` on stdout and closes it.
    @discardableResult
    package static func send(_ response: Response) -> Int {
        let bytes = response.wireBytes
        bytes.withUnsafeBytes { buffer in
            try? FileSystem.writeAll(1, buffer, target: "stdout")
        }
        // Closing stdout lets the web server finish the response now, even if this process
        // still has work to do (it delivers after answering).
        close(1)
        return response.status
    }

    /// Reads and drops what is left of the body (up to `CONTENT_LENGTH`) when the answer
    /// was decided without reading it all (413, a broken config). Under Apache's mod_cgid
    /// stdin is a socket, and a script that exits with the body unread makes Apache fail
    /// the request with EPIPE, so the client would never see our answer. Bounded: at most
    /// 256 MiB, and it stops when stdin stays idle for a second.
    package static func discardUnreadBody(environment: [String: String], alreadyRead: Int) {
        guard let length = environment["CONTENT_LENGTH"].flatMap({ Int($0) }), length > alreadyRead else { return }
        var remaining = min(length - alreadyRead, 256 << 20)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while remaining > 0 {
            var descriptor = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 1_000) > 0 else { return }
            let count = chunk.withUnsafeMutableBytes { Glibc.read(0, $0.baseAddress, min($0.count, remaining)) }
            if count <= 0 { return }
            remaining -= count
        }
    }

    /// A body read from a file descriptor (CGI's stdin).
    package struct DescriptorSource: BodySource {
        /// The descriptor read.
        package let fd: Int32
        /// Bytes read so far.
        package private(set) var consumed = 0

        /// Reads `fd`.
        package init(fd: Int32) {
            self.fd = fd
        }

        /// Reads what is there, retrying on EINTR.
        package mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(RequestError) -> Int {
            while true {
                let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
                if count > 0 { consumed += count }
                if count >= 0 { return count }
                if errno == EINTR { continue }
                throw .readFailed(String(cString: strerror(errno)))
            }
        }
    }
}
