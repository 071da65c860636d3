import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs tasks on one event loop, so a handler runs on the thread that owns its connection's socket
/// (no hop between the NIO thread and Swift's global pool on the request path).
package final class EventLoopTaskExecutor: TaskExecutor {
    package let eventLoop: any EventLoop

    package init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    package func enqueue(_ job: consuming ExecutorJob) {
        // Run the job as this task executor, not as the loop's serial executor: a job run with
        // the wrong executor identity would switch (and be enqueued) a second time.
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    private static let perThread = ThreadSpecificVariable<EventLoopTaskExecutor>()

    /// The executor of the event loop the calling thread runs (one per thread), if it runs one:
    /// a task started with it from a handler stays on the handler's loop, where `Task {}` alone
    /// would go to Swift's global pool (a thread hop each way).
    package static var current: EventLoopTaskExecutor? {
        if let executor = perThread.currentValue { return executor }
        guard let eventLoop = MultiThreadedEventLoopGroup.currentEventLoop else { return nil }
        let executor = EventLoopTaskExecutor(eventLoop)
        perThread.currentValue = executor
        return executor
    }
}

/// The `Date` header value, formatted at most once a second per event loop.
package final class DateCache: @unchecked Sendable {
    // Sendable: each instance is used only on the event loop it belongs to (see `LoopResources`).
    private var second: time_t = 0
    private var value = ByteBuffer()
    private var text = ""

    /// The current IMF-fixdate (RFC 9110 §5.6.7).
    func current() -> ByteBuffer {
        refresh()
        return value
    }

    /// The current IMF-fixdate as a string.
    func currentString() -> String {
        refresh()
        return text
    }

    private func refresh() {
        let now = time(nil)
        if now != second {
            second = now
            text = Self.format(now)
            value = ByteBuffer(string: text)
        }
    }

    /// `seconds` since 1970 as an IMF-fixdate.
    package static func format(_ seconds: time_t) -> String {
        var seconds = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}

/// Per-event-loop helpers, created once when the server starts.
struct LoopResources: Sendable {
    let executor: EventLoopTaskExecutor
    let dateCache: DateCache
    let logger: Logger
}
