#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A joinable POSIX thread running a closure (the FastCGI loop blocks in C calls, so it
/// uses plain threads rather than Swift concurrency's cooperative pool).
package final class WorkerThread: @unchecked Sendable {
    private var thread: pthread_t?

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread with a `stackBytes` stack.
    package init(stackBytes: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackBytes)
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(&handle, &attributes, { context in
            guard let context else { return nil }
            let box = Unmanaged<Box>.fromOpaque(context).takeRetainedValue()
            box.body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(context).release()
            throw SystemError("pthread_create", "worker", code: result)
        }
        thread = handle
    }

    /// Waits for the thread to finish.
    package func join() {
        guard let thread else { return }
        pthread_join(thread, nil)
        self.thread = nil
    }
}

/// Waits for termination signals on a dedicated thread, so that no signal handler runs
/// inside libfcgi's calls (its own handlers only set a flag; docs/libfcgi.md).
package enum SignalWaiter {
    /// The signals the listener handles: stop on TERM/INT; HUP and USR1 are reserved for
    /// reload and log reopening.
    package static let handled: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGUSR1]

    /// Blocks the handled signals in the calling thread and every thread it starts later;
    /// call first thing, before any thread exists.
    package static func blockHandledSignals() {
        ignoreWriteFailureSignals()
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// SIGPIPE (a client went away) and SIGXFSZ (a file-size limit reached) must cost an
    /// error return from `write`, answered with 503, not the process.
    package static func ignoreWriteFailureSignals() {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGXFSZ, SIG_IGN)
    }

    /// Waits for the next handled signal and returns it.
    package static func next() -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }
}
