// TSan driver: the decoders and event mapping from 8 threads at once, and GroupCommit
// shared by 8 writer threads (the listener's own synchronisation).
import Glibc

let inputs: [[UInt8]] = [
    "transactionid=t1&contact[email]=a%40b.c&fields[0][id]=1&fields[0][name]=First+Name&fields[0][value]=Ann&lead-status[score]=5&lead-status[label]=hot",
    "a[b][c]=1&a[]=2&a[-5]=x&a[007]=y&a[9223372036854775807]=z&a[]=w&b=1&b[x]=2&c[x]=1&c=2&d[e=1&f]g=2&%00=3&h+i.j=4",
    "email=x%40y.z&first=Ann&transactionid=g1",
    #"{"transactionid":"j1","contact":{"email":"a@b"},"fields":[{"name":"x","value":"1"}],"n":1.5e3}"#,
].map { Array($0.utf8) }

@main
enum Driver {
    static func main() throws {
        let path = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "/tmp/contact-listener-tsan.out"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o600)
        // One write and one fdatasync per batch, as the jsonl handler does.
        let commit = GroupCommit<[UInt8], Void> { batch in
            var lines: [UInt8] = []
            for part in batch { lines += part }
            let written = lines.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            let ok = written == lines.count && fdatasync(fd) == 0
            return batch.map { _ in ok ? .success(()) : .failure(SystemError("write", path, code: EIO)) }
        }
        let acknowledged = ConditionLock()
        nonisolated(unsafe) var acknowledgedCount = 0
        var threads: [WorkerThread] = []
        for worker in 0..<8 {
            threads.append(try WorkerThread {
                for round in 0..<300 {
                    let input = inputs[(worker + round) % inputs.count]
                    if let form = try? URLEncodedFormDecoder().decodeArena(input) {
                        _ = form.phpJSON
                        let metadata = EventMetadata(receivedAt: Timestamp.now(), remoteAddress: nil, requestID: "r\(worker)-\(round)", method: "POST", mode: EventEncoder.mode(of: form, method: "POST"))
                        if let event = try? EventEncoder.encode(form, metadata: metadata) {
                            let line = event.json + [UInt8(ascii: "\n")]
                            if case .success = commit.submit(line) { acknowledged.withLock { acknowledgedCount += 1 } }
                        }
                    }
                    _ = try? JSONFormDecoder().decode(input)
                }
            })
        }
        for thread in threads { thread.join() }
        // Every acknowledged line is in the file, once.
        let reader = open(path, O_RDONLY)
        var lines = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            lines += buffer[0..<count].filter { $0 == UInt8(ascii: "\n") }.count
        }
        guard lines == acknowledgedCount, lines > 0 else {
            print("group commit: \(acknowledgedCount) acknowledged, \(lines) lines in the file")
            exit(1)
        }
        print("done: \(lines) lines, each acknowledged once")
    }
}
