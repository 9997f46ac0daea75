#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex with condition variables, for the few places threads must wait for each other
/// (group commit, shutdown). `Synchronization.Mutex` has no condition variable.
package final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let conditions: UnsafeMutablePointer<pthread_cond_t>
    private let conditionCount: Int

    /// A new, unlocked lock with `conditions` condition variables (numbered from 0).
    package init(conditions: Int = 1) {
        conditionCount = max(1, conditions)
        self.conditions = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: conditionCount)
        pthread_mutex_init(mutex, nil)
        // Timed waits measure on CLOCK_MONOTONIC (pthread_condattr_setclock(3)): a step of the
        // wall clock must neither cut a wait short nor stretch it (a lease heartbeat's sleep).
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if canImport(Glibc)
        pthread_condattr_setclock(&attributes, Self.waitClock)
        #endif
        for index in 0..<conditionCount { pthread_cond_init(self.conditions + index, &attributes) }
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        for index in 0..<conditionCount { pthread_cond_destroy(conditions + index) }
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        conditions.deallocate()
    }

    /// Takes the lock (pair with `unlock`; prefer `withLock`).
    package func lock() { pthread_mutex_lock(mutex) }

    /// Releases the lock taken by `lock`.
    package func unlock() { pthread_mutex_unlock(mutex) }

    /// Runs `body` holding the lock.
    package func withLock<Result>(_ body: () throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Releases the lock while `body` runs; call only inside `withLock`.
    package func unlockForBody(_ body: () -> Void) {
        pthread_mutex_unlock(mutex)
        body()
        pthread_mutex_lock(mutex)
    }

    /// Waits for a `broadcast` or `signal` of condition `index`; call only inside `withLock`.
    package func wait(_ index: Int = 0) {
        pthread_cond_wait(conditions + index % conditionCount, mutex)
    }

    #if canImport(Glibc)
    private static let waitClock = CLOCK_MONOTONIC
    #else
    private static let waitClock = CLOCK_REALTIME
    #endif

    /// Waits for a `broadcast` or until `milliseconds` pass; call only inside `withLock`.
    package func wait(milliseconds: Int64) {
        var deadline = timespec()
        clock_gettime(Self.waitClock, &deadline)
        let nanoseconds = Int(deadline.tv_nsec) + Int(milliseconds % 1_000) * 1_000_000
        deadline.tv_sec += Int(milliseconds / 1_000) + nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        pthread_cond_timedwait(conditions, mutex, &deadline)
    }

    /// Wakes every waiter of condition `index`; call inside `withLock`.
    package func broadcast(_ index: Int = 0) {
        pthread_cond_broadcast(conditions + index % conditionCount)
    }

    /// Wakes one waiter of condition `index`; call inside `withLock`.
    package func signal(_ index: Int) {
        pthread_cond_signal(conditions + index % conditionCount)
    }
}
