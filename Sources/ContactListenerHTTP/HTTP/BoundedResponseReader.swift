import ContactListenerKit
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Synchronization

/// Reads an HTTP answer keeping its head and only the first `limit` bytes of its body: all
/// an error message needs. Once `limit` bytes are in, it stops reading (the connection is
/// closed), so a CRM answering gigabytes, or forever, costs `limit` bytes and no more.
final class BoundedResponseReader: HTTPClientResponseDelegate {
    /// What was read.
    struct Answer: Sendable {
        /// The status line and headers.
        var head: HTTPResponseHead
        /// The first `limit` bytes of the body (fewer when the body is shorter).
        var body: [UInt8]
    }

    /// Fails the request once the body reached the limit: AsyncHTTPClient then stops
    /// reading and closes the connection. Not an error of the exchange: `answer` is whole.
    struct LimitReached: Error {}

    private let limit: Int
    private let state = Mutex<(head: HTTPResponseHead?, body: [UInt8])>((nil, []))

    /// Keeps at most `limit` bytes of the body.
    init(limit: Int) {
        self.limit = limit
    }

    /// The answer read so far: its head once it arrived, nil before.
    var answer: Answer? {
        state.withLock { state in state.head.map { Answer(head: $0, body: state.body) } }
    }

    func didReceiveHead(task: HTTPClient.Task<Answer>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        state.withLock { $0.head = head }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Answer>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let full = state.withLock { state in
            state.body.append(contentsOf: buffer.readableBytesView.prefix(max(0, limit - state.body.count)))
            return state.body.count >= limit
        }
        return full ? task.eventLoop.makeFailedFuture(LimitReached()) : task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Answer>) throws -> Answer {
        guard let answer else { throw HTTPClientError.remoteConnectionClosed }
        return answer
    }
}
