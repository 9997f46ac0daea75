import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One process as /proc shows it. The start time (clock ticks after boot) tells a process
/// apart from a later one that got its pid again: pid_max is 32768 here, and a full test
/// run starts thousands of processes.
struct ProcessEntry: Hashable, Sendable, CustomStringConvertible {
    var pid: pid_t
    var parent: pid_t
    var group: pid_t
    /// `R`, `S`, `Z`, …
    var state: Character
    var startTime: UInt64
    /// The command name (`comm`).
    var name: String

    /// True unless the process has exited (a zombie waits only to be reaped).
    var isLive: Bool { state != "Z" && state != "X" }

    var description: String {
        let command = readText("/proc/\(pid)/cmdline").replacingOccurrences(of: "\u{0}", with: " ")
        return "pid \(pid) (\(command.isEmpty ? name : command.trimmingCharacters(in: .whitespaces)), parent \(parent), group \(group), state \(state))"
    }

    /// The entry of `pid` now, or nil when it is gone.
    static func read(_ pid: pid_t) -> ProcessEntry? {
        // "PID (comm) STATE PPID PGRP SESSION TTY TPGID FLAGS MINFLT CMINFLT MAJFLT CMAJFLT
        // UTIME STIME CUTIME CSTIME PRIORITY NICE THREADS ITREALVALUE STARTTIME …" (proc(5)).
        // comm may hold spaces and parentheses: the fields follow the last ')'.
        let stat = readText("/proc/\(pid)/stat")
        guard let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let parent = pid_t(fields[1]), let group = pid_t(fields[2]),
              let start = UInt64(fields[19]) else { return nil }
        return ProcessEntry(pid: pid, parent: parent, group: group, state: state, startTime: start,
                            name: String(stat[stat.index(after: open)..<close]))
    }
}

/// Every process on the machine at one moment (from /proc).
struct ProcessTable: Sendable {
    let entries: [pid_t: ProcessEntry]

    /// Reads /proc now.
    init() {
        var entries: [pid_t: ProcessEntry] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name), let entry = ProcessEntry.read(pid) else { continue }
            entries[pid] = entry
        }
        self.entries = entries
    }

    /// The processes whose parent is `pid`.
    func children(of pid: pid_t) -> [ProcessEntry] {
        entries.values.filter { $0.parent == pid }
    }

    /// `pid`'s children, their children, and so on.
    func descendants(of pid: pid_t) -> [ProcessEntry] {
        var byParent: [pid_t: [ProcessEntry]] = [:]
        for entry in entries.values { byParent[entry.parent, default: []].append(entry) }
        var found: [ProcessEntry] = []
        var pending = [pid]
        while let next = pending.popLast() {
            for child in byParent[next] ?? [] where child.pid != pid {
                found.append(child)
                pending.append(child.pid)
            }
        }
        return found
    }

    /// The processes in process group `group`.
    func members(ofGroup group: pid_t) -> [ProcessEntry] {
        entries.values.filter { $0.group == group }
    }

    /// True when `entry` still runs: the same pid with the same start time, not a zombie.
    func isLive(_ entry: ProcessEntry) -> Bool {
        guard let now = entries[entry.pid] else { return false }
        return now.startTime == entry.startTime && now.isLive
    }
}

/// The pids whose parent is `parent` (from /proc).
func children(of parent: Int32) -> [Int32] {
    ProcessTable().children(of: parent).map(\.pid)
}

/// True while `pid` exists and is not a zombie.
func isAlive(_ pid: Int32) -> Bool {
    ProcessEntry.read(pid)?.isLive ?? false
}
