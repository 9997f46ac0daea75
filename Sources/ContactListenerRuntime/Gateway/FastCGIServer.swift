// The FastCGI side of the listener (the "child" in FastCGI terms): worker threads in
// libfcgi's FCGX_Accept_r. This is the only file that calls libfcgi.
import ContactListenerKit
import ListenerSupport
import CFastCGI
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Serves FastCGI requests on a listening socket with `threads` workers, each blocked in
/// its own `FCGX_Accept_r` (safe without a mutex on Linux; docs/libfcgi.md explains why the
/// libfcgi example's mutex deadlocks with `fastcgi_keep_conn`).
package final class FastCGIServer: @unchecked Sendable {
    private let listenFD: Int32
    private let threadCount: Int
    private let services: ServiceHolder
    private let logger: Logger
    private let state = ConditionLock()
    /// Workers waiting for a request: the kept-alive connection they wait on, or -1 for
    /// the listening socket. Guarded by `state`.
    private var waiting: [Int: Int32] = [:]
    private var stopping = false

    /// The libfcgi version linked in (Debian's, with the CVE-2025-23016 patch; see SECURITY.md).
    package static let libraryVersion = "2.4.2"

    /// Prepares a server on `listenFD` (not yet accepting).
    package init(listenFD: Int32, threads: Int, services: ServiceHolder, logger: Logger) {
        self.listenFD = listenFD
        self.threadCount = max(1, threads)
        self.services = services
        self.logger = logger
    }

    /// Runs the workers until `stop()` and returns when the last request in flight is answered.
    package func run() throws(SystemError) {
        guard FCGX_Init() == 0 else { throw SystemError("FCGX_Init", "libfcgi", code: EIO) }
        var workers: [WorkerThread] = []
        for id in 0..<threadCount {
            workers.append(try WorkerThread { [self] in work(id: id) })
        }
        for worker in workers { worker.join() }
    }

    /// Stops gracefully: no new connections once the backlog is drained, requests in flight
    /// finish and are answered. Safe to call from any thread, once. Returns when every worker
    /// has left `FCGX_Accept_r`, or after `deadlineSeconds` with the last resort taken.
    package func stop(deadlineSeconds: Double = 10) {
        // Non-blocking first. With O_NONBLOCK, accept() fails with EAGAIN once the backlog
        // is empty, so connections nginx already made are still served, and a worker woken
        // from an idle kept-alive connection below, which libfcgi sends back to accept(),
        // finds EAGAIN there instead of blocking for good.
        let flags = fcntl(listenFD, F_GETFL)
        _ = fcntl(listenFD, F_SETFL, flags | O_NONBLOCK)
        state.withLock {
            stopping = true
            // A worker waiting on an idle kept-alive connection would never return. Only the
            // read side is shut: a worker that has just taken a request from that connection
            // can still write its answer (a stored event always gets its 200 out).
            for fd in waiting.values where fd >= 0 { shutdown(fd, Int32(SHUT_RD)) }
        }
        let started = Timestamp.monotonicNanoseconds()
        while true {
            // Every worker still in FCGX_Accept_r counts, not only those that went in
            // through the listening socket: one leaving a kept connection may be on its
            // way back to accept().
            let (waitingWorkers, inAccept) = state.withLock { (waiting.count, waiting.values.filter { $0 < 0 }.count) }
            if waitingWorkers == 0 { return }
            let elapsed = Double(Timestamp.monotonicNanoseconds() - started) / 1e9
            // Each wake-up connection frees one worker blocked in accept(); libfcgi drops it
            // (no BEGIN_REQUEST) and accepts again, now without blocking.
            if elapsed > deadlineSeconds || (inAccept > 0 && !ListenSocket.wake(listenFD)) {
                // Last resort: wakes every accept() at once, resetting what is left in the backlog.
                FCGX_ShutdownPending()
                shutdown(listenFD, Int32(SHUT_RDWR))
                return
            }
            usleep(2_000)
        }
    }

    private func work(id: Int) {
        var request = FCGX_Request()
        FCGX_InitRequest(&request, listenFD, 0)
        while true {
            let keptFD = request.keepConnection != 0 ? request.ipcFd : -1
            let proceed = state.withLock { () -> Bool in
                if stopping && keptFD >= 0 { return false }
                waiting[id] = keptFD
                return true
            }
            if !proceed { break }
            let accepted = FCGX_Accept_r(&request)
            let stop = state.withLock { () -> Bool in
                waiting[id] = nil
                return stopping
            }
            if accepted < 0 {
                if stop { break }
                logger.warning("accept failed", metadata: ["errno": .stringConvertible(-accepted)])
                usleep(10_000)  // don't spin on a persistent error (EMFILE)
                continue
            }
            serve(&request)
            if stop { request.keepConnection = 0 }
            FCGX_Finish_r(&request)
        }
        FCGX_Free(&request, 1)
        state.withLock { waiting[id] = nil }
    }

    private func serve(_ request: inout FCGX_Request) {
        let params = Self.params(request.envp)
        var source = StreamSource(stream: request.in)
        let response = services.withPipeline { pipeline -> Response in
            do throws(RequestError) {
                let incoming = try Request.read(params: params, body: &source, maxBodyBytes: pipeline.configuration.limits.maxBodyBytes,
                maxHeaderBytes: pipeline.configuration.limits.maxHeaderBytes)
                return pipeline.respond(to: incoming)
            } catch {
                return pipeline.respond(toUnreadable: error, params: params)
            }
        }
        let bytes = response.wireBytes
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                _ = FCGX_PutStr(chars.baseAddress, Int32(chars.count), request.out)
            }
        }
    }

    /// Copies the params out (libfcgi frees them at the next Accept/Finish), as bytes:
    /// names and values become Strings only when the pipeline asks for them.
    private static func params(_ envp: FCGX_ParamArray?) -> RequestParameters {
        var result = RequestParameters()
        guard let envp else { return result }
        var count = 0
        var size = 0
        while let entry = envp[count] {
            size += strlen(entry)
            count += 1
        }
        result.reserveCapacity(count: count, bytes: size)
        for position in 0..<count {
            guard let entry = envp[position] else { break }
            result.append(entry: UnsafeRawBufferPointer(start: entry, count: strlen(entry)))
        }
        return result
    }

    /// The request body as libfcgi's FCGI_STDIN stream.
    private struct StreamSource: BodySource {
        let stream: UnsafeMutablePointer<FCGX_Stream>?

        mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(RequestError) -> Int {
            guard let stream, let base = buffer.baseAddress else { return 0 }
            let count = FCGX_GetStr(base.assumingMemoryBound(to: CChar.self), Int32(min(buffer.count, Int(Int32.max))), stream)
            if count < 0 || FCGX_GetError(stream) != 0 {
                throw .readFailed("FastCGI stream error \(FCGX_GetError(stream))")
            }
            return Int(count)
        }
    }
}
