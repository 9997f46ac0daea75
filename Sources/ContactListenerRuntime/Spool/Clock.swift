import ContactListenerKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The spool's two clocks, in milliseconds: the wall clock for what people read (when an
/// event arrived, when a retry falls due) and a monotonic clock for leases.
package enum Clock {
    /// Now, in Unix milliseconds.
    package static func milliseconds() -> Int64 {
        Int64(Timestamp.unixNanoseconds() / 1_000_000)
    }

    /// Now on `CLOCK_MONOTONIC`, in milliseconds: the time leases are taken and renewed in.
    ///
    /// Not the wall clock: it can be stepped (settimeofday(2), NTP correcting a VM that
    /// stalled). A step forward would end every lease at once while their holders still
    /// work, and one backward would keep a crashed holder's lease alive for the size of the
    /// step. `CLOCK_MONOTONIC` never steps, and it is one clock for the whole machine
    /// (clock_gettime(2)): every process sharing a spool (they share its file, on a local
    /// disk, and the time namespace of one system: time_namespaces(7)) reads the same time,
    /// and it goes on while a process is stopped, so the lease of a process paused by
    /// SIGSTOP or swapped out runs out as it should. While the machine itself is suspended
    /// or its VM paused it does not advance, but then no process runs to take a lease over.
    ///
    /// It restarts at boot, so a lease in the spool may come from a clock that no longer
    /// runs: `Spool` stores when a lease was taken as well as when it ends, and holds a
    /// lease only while it was taken no later than now and spans at most
    /// `SpoolConfiguration.maxLease`. A lease from before a reboot has either a start in
    /// the future (so it holds nothing) or ends within one lease period; a lease written in
    /// wall-clock time (a spool from before this clock) spans decades and holds nothing.
    /// For "taken after now" to mean "before a reboot", a claim reads this clock only once
    /// it holds the spool's write lock: every lease in the spool was taken before that.
    package static func leaseMilliseconds() -> Int64 {
        Int64(Timestamp.monotonicNanoseconds() / 1_000_000)
    }
}
