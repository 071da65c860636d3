/// A point in time for recovery (a value, so the state machines are tested with made-up clocks).
public typealias QUICInstant = ContinuousClock.Instant

/// Round-trip time estimation (RFC 9002 §5).
public struct QUICRTTEstimator: Sendable, Equatable {
    /// The timer granularity (kGranularity).
    public static let granularity: Duration = .milliseconds(1)
    /// The RTT assumed before any sample (kInitialRtt).
    public static let initialRTT: Duration = .milliseconds(333)

    public private(set) var latest: Duration = .zero
    public private(set) var smoothed: Duration = initialRTT
    public private(set) var variance: Duration = initialRTT / 2
    public private(set) var minimum: Duration = .zero
    public private(set) var hasSample = false

    public init() {}

    /// Takes in a sample: `latest` measured, `ackDelay` the peer reported (already capped at
    /// its max_ack_delay once the handshake is confirmed; zero before it).
    public mutating func update(latest sample: Duration, ackDelay: Duration) {
        latest = sample
        guard hasSample else {
            hasSample = true
            minimum = sample
            smoothed = sample
            variance = sample / 2
            return
        }
        minimum = min(minimum, sample)
        // The ack delay counts only when it does not take the sample below the minimum.
        let adjusted = sample >= minimum + ackDelay ? sample - ackDelay : sample
        let deviation = smoothed > adjusted ? smoothed - adjusted : adjusted - smoothed
        variance = variance * 3 / 4 + deviation / 4
        smoothed = smoothed * 7 / 8 + adjusted / 8
    }

    /// The probe timeout's base (§6.2.1): smoothed + max(4 × variance, granularity), plus
    /// `maxAckDelay` in the application space.
    public func probeTimeout(maxAckDelay: Duration) -> Duration {
        smoothed + max(variance * 4, Self.granularity) + maxAckDelay
    }
}

/// NewReno congestion control (RFC 9002 §7, Appendix B), in bytes.
public struct QUICCongestionController: Sendable, Equatable {
    public let maxDatagramSize: Int
    public private(set) var window: Int
    public private(set) var slowStartThreshold = Int.max
    public private(set) var bytesInFlight = 0
    /// Packets sent before this instant belong to the recovery period (no growth, no new cut).
    public private(set) var recoveryStart: QUICInstant?

    public init(maxDatagramSize: Int = 1200) {
        self.maxDatagramSize = maxDatagramSize
        window = min(10 * maxDatagramSize, max(14720, 2 * maxDatagramSize))
    }

    /// The smallest window (kMinimumWindow).
    public var minimumWindow: Int { 2 * maxDatagramSize }

    /// Whether `size` more bytes may be sent now.
    public func canSend(_ size: Int) -> Bool { bytesInFlight + size <= window }

    public mutating func sent(_ size: Int) { bytesInFlight += size }

    /// In-flight packets acknowledged: the window grows (slow start, then by one datagram per
    /// window) unless they were sent in the recovery period.
    public mutating func acknowledged(_ size: Int, sentAt: QUICInstant) {
        bytesInFlight -= size
        if let recoveryStart, sentAt <= recoveryStart { return }
        if window < slowStartThreshold {
            window += size
        } else {
            window += maxDatagramSize * size / window
        }
    }

    /// In-flight packets declared lost, or discarded with their keys.
    public mutating func removed(_ size: Int) { bytesInFlight -= size }

    /// A loss (or ECN-CE) of a packet sent at `sentAt`: the window halves, once per recovery period.
    public mutating func congestionEvent(sentAt: QUICInstant, now: QUICInstant) {
        if let recoveryStart, sentAt <= recoveryStart { return }
        recoveryStart = now
        slowStartThreshold = window / 2
        window = max(slowStartThreshold, minimumWindow)
    }

    /// Persistent congestion (§7.6): the window collapses to the minimum.
    public mutating func persistentCongestion() {
        window = minimumWindow
        recoveryStart = nil
    }
}

/// A packet sent and not yet acknowledged or lost.
public struct QUICSentPacket: Sendable, Equatable {
    public var packetNumber: UInt64
    public var sentAt: QUICInstant
    public var size: Int
    public var ackEliciting: Bool
    public var inFlight: Bool

    public init(packetNumber: UInt64, sentAt: QUICInstant, size: Int, ackEliciting: Bool, inFlight: Bool) {
        self.packetNumber = packetNumber
        self.sentAt = sentAt
        self.size = size
        self.ackEliciting = ackEliciting
        self.inFlight = inFlight
    }
}

/// Loss detection for one packet-number space (RFC 9002 §6): which sent packets an ACK
/// acknowledges, which are lost by packet or time threshold, and when to look again.
public struct QUICLossDetector: Sendable {
    /// kPacketThreshold.
    public static let packetThreshold: UInt64 = 3

    /// Packets in flight, in the order sent (ascending packet numbers), from `start` on:
    /// acknowledged and lost ones leave from the front without moving the rest.
    private var packets: [QUICSentPacket] = []
    private var start = 0
    public private(set) var largestAcknowledged: UInt64?
    /// When the earliest packet not yet lost by time would be (nil: none pending).
    public private(set) var lossTime: QUICInstant?

    public init() {}

    /// Packets in flight, oldest first.
    public var sent: ArraySlice<QUICSentPacket> { packets[start...] }

    /// Records a packet sent (packet numbers only grow).
    public mutating func sent(_ packet: QUICSentPacket) {
        if start >= 4096, start * 2 >= packets.count {
            packets.removeFirst(start)
            start = 0
        }
        packets.append(packet)
    }

    /// The result of an ACK.
    public struct AckOutcome: Sendable, Equatable {
        public var acknowledged: [QUICSentPacket]
        public var lost: [QUICSentPacket]
        /// The RTT sample, when the largest acknowledged packet is newly acknowledged and some
        /// newly acknowledged packet was ack-eliciting.
        public var rttSample: Duration?
    }

    /// The index past the last packet numbered at most `largest` (they are all at the front).
    private func end(upTo largest: UInt64) -> Int {
        var (low, high) = (start, packets.count)
        while low < high {
            let middle = (low + high) / 2
            if packets[middle].packetNumber <= largest { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Removes the packets of `start..<end` that `leaves` picks (returned in send order); the
    /// others stay, in order, just before `end`.
    private mutating func remove(before end: Int, where leaves: (QUICSentPacket) -> Bool) -> [QUICSentPacket] {
        var removed: [QUICSentPacket] = []
        var write = end
        var index = end - 1
        while index >= start {
            let packet = packets[index]
            if leaves(packet) {
                removed.append(packet)
            } else {
                write -= 1
                packets[write] = packet
            }
            index -= 1
        }
        start = write
        removed.reverse()
        return removed
    }

    /// Takes in an ACK's ranges (descending, received at `now`) and finds what it acknowledges
    /// and what is now lost, given the RTT estimate (updated by the caller with `rttSample` first).
    public mutating func onAck(_ ranges: [ClosedRange<UInt64>], now: QUICInstant, rtt: QUICRTTEstimator) -> AckOutcome {
        guard let largest = ranges.first?.upperBound else { return AckOutcome(acknowledged: [], lost: [], rttSample: nil) }
        // Walking back from the largest, the ranges are met in order too.
        var range = 0
        let acknowledged = remove(before: end(upTo: largest)) { packet in
            while range < ranges.count, ranges[range].lowerBound > packet.packetNumber { range += 1 }
            return range < ranges.count && ranges[range].contains(packet.packetNumber)
        }
        largestAcknowledged = max(largestAcknowledged ?? 0, largest)
        var sample: Duration?
        if let newest = acknowledged.last, newest.packetNumber == largest, acknowledged.contains(where: \.ackEliciting) {
            sample = now - newest.sentAt
        }
        var estimate = rtt
        if let sample { estimate.update(latest: sample, ackDelay: .zero) }
        return AckOutcome(acknowledged: acknowledged, lost: detectLost(now: now, rtt: estimate), rttSample: sample)
    }

    /// The packets lost by packet threshold (3 behind the largest acknowledged) or time
    /// threshold (9/8 of the RTT ago); sets `lossTime` for the first one not yet lost.
    public mutating func detectLost(now: QUICInstant, rtt: QUICRTTEstimator) -> [QUICSentPacket] {
        lossTime = nil
        guard let largest = largestAcknowledged else { return [] }
        let delay = max(max(rtt.latest, rtt.smoothed) * 9 / 8, QUICRTTEstimator.granularity)
        var lossTime: QUICInstant?
        let lost = remove(before: end(upTo: largest)) { packet in
            if packet.sentAt <= now - delay || largest >= packet.packetNumber + Self.packetThreshold { return true }
            let when = packet.sentAt + delay
            lossTime = lossTime.map { min($0, when) } ?? when
            return false
        }
        self.lossTime = lossTime
        return lost
    }

    /// Stops tracking the oldest packet in flight (a probe sends its data again); returns it.
    public mutating func forgetOldest() -> QUICSentPacket? {
        guard start < packets.count else { return nil }
        start += 1
        return packets[start - 1]
    }

    /// Whether lost packets show persistent congestion (§7.6): ack-eliciting ones sent further
    /// apart than `duration` (the caller passes a run of lost packets with none acknowledged
    /// between them).
    public static func isPersistentCongestion(_ lost: [QUICSentPacket], duration: Duration) -> Bool {
        let eliciting = lost.filter(\.ackEliciting).sorted { $0.packetNumber < $1.packetNumber }
        guard let first = eliciting.first, let last = eliciting.last else { return false }
        return last.sentAt - first.sentAt > duration
    }
}

/// Pacing (RFC 9002 §7.7): a token bucket filled at 1.25 × window / smoothed RTT, so a window's
/// worth of packets spreads over the round trip instead of leaving in one burst. Its capacity
/// is what the owner's timer period lets accumulate (and at least ten datagrams).
public struct QUICPacer: Sendable, Equatable {
    /// Bytes that may leave now.
    public private(set) var tokens: Double
    private var last: QUICInstant?
    /// How often the owner's timer runs (the burst a tick may release).
    public let timerPeriod: Duration

    public init(timerPeriod: Duration = .milliseconds(5), maxDatagramSize: Int = 1200) {
        self.timerPeriod = timerPeriod
        tokens = Double(10 * maxDatagramSize)
    }

    /// Adds what the rate allows since the last refill.
    public mutating func refill(now: QUICInstant, window: Int, smoothedRTT: Duration, maxDatagramSize: Int = 1200) {
        let rate = 1.25 * Double(window) / max(Self.seconds(smoothedRTT), 1e-6)
        let capacity = max(Double(10 * maxDatagramSize), rate * Self.seconds(timerPeriod))
        if let last { tokens = min(capacity, tokens + rate * Self.seconds(now - last)) }
        last = now
    }

    /// Whether `size` bytes may leave now.
    public func allows(_ size: Int) -> Bool { tokens >= Double(size) }

    /// `size` bytes left.
    public mutating func spend(_ size: Int) { tokens -= Double(size) }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
