import Testing

@testable import QUIC

@Suite("QUIC loss recovery and congestion control (RFC 9002)")
struct QUICRecoveryTests {
    let start = ContinuousClock.now

    @Test("RTT: the first sample sets everything; later ones smooth, and an ack delay counts only above the minimum")
    func rtt() {
        var rtt = QUICRTTEstimator()
        #expect(rtt.smoothed == .milliseconds(333))
        rtt.update(latest: .milliseconds(100), ackDelay: .milliseconds(10))
        #expect(rtt.smoothed == .milliseconds(100))
        #expect(rtt.variance == .milliseconds(50))
        #expect(rtt.minimum == .milliseconds(100))
        rtt.update(latest: .milliseconds(120), ackDelay: .milliseconds(10))  // adjusted to 110
        #expect(rtt.smoothed == .microseconds(101_250))
        #expect(rtt.variance == .microseconds(40_000))
        rtt.update(latest: .milliseconds(100), ackDelay: .milliseconds(50))  // would fall below the minimum: unadjusted
        #expect(rtt.minimum == .milliseconds(100))
        #expect(rtt.probeTimeout(maxAckDelay: .milliseconds(25)) == rtt.smoothed + rtt.variance * 4 + .milliseconds(25))
    }

    @Test("NewReno: slow start, one halving per recovery period, congestion avoidance, persistent congestion")
    func newReno() {
        var controller = QUICCongestionController()
        #expect(controller.window == 12000)
        controller.sent(1200)
        controller.acknowledged(1200, sentAt: start)
        #expect(controller.window == 13200)  // slow start
        controller.congestionEvent(sentAt: start, now: start + .milliseconds(10))
        #expect(controller.window == 6600)
        controller.congestionEvent(sentAt: start + .milliseconds(5), now: start + .milliseconds(11))  // same period
        #expect(controller.window == 6600)
        controller.sent(1200)
        controller.acknowledged(1200, sentAt: start + .milliseconds(5))  // sent during recovery: no growth
        #expect(controller.window == 6600)
        controller.sent(1200)
        controller.acknowledged(1200, sentAt: start + .milliseconds(20))  // congestion avoidance
        #expect(controller.window == 6600 + 1200 * 1200 / 6600)
        controller.persistentCongestion()
        #expect(controller.window == 2400)
        #expect(controller.bytesInFlight == 0)
    }

    @Test("Loss detection: acknowledged packets, an RTT sample, losses by packet and by time threshold")
    func lossDetection() {
        var detector = QUICLossDetector()
        for number in 0..<8 as Range<UInt64> {
            detector.sent(QUICSentPacket(packetNumber: number, sentAt: start + .milliseconds(Int(number)), size: 1200, ackEliciting: true, inFlight: true))
        }
        var rtt = QUICRTTEstimator()
        rtt.update(latest: .milliseconds(100), ackDelay: .zero)
        let outcome = detector.onAck([6...7, 3...4], now: start + .milliseconds(107), rtt: rtt)
        #expect(outcome.acknowledged.map(\.packetNumber) == [3, 4, 6, 7])
        #expect(outcome.rttSample == .milliseconds(100))
        #expect(outcome.lost.map(\.packetNumber) == [0, 1, 2])  // three or more behind 7
        #expect(detector.sent.map(\.packetNumber) == [5])
        #expect(detector.lossTime == start + .milliseconds(5) + .microseconds(112_500))  // 9/8 of 100 ms after it was sent
        let later = detector.detectLost(now: start + .milliseconds(200), rtt: rtt)
        #expect(later.map(\.packetNumber) == [5])
        #expect(detector.lossTime == nil)
        #expect(QUICLossDetector.isPersistentCongestion(outcome.lost, duration: .milliseconds(1)))
        #expect(!QUICLossDetector.isPersistentCongestion(outcome.lost, duration: .seconds(1)))
    }

    @Test("Pacing: tokens refill at 1.25 × window / RTT up to a tick's worth; a full window leaves over about one RTT")
    func pacing() {
        var pacer = QUICPacer(timerPeriod: .milliseconds(5))
        #expect(pacer.allows(12_000) && !pacer.allows(12_001))  // ten datagrams to start
        pacer.spend(12_000)
        // A 1 MB window over 10 ms: 125 MB/s; 1 ms later 125 KB may leave.
        pacer.refill(now: start, window: 1_000_000, smoothedRTT: .milliseconds(10))
        pacer.refill(now: start + .milliseconds(1), window: 1_000_000, smoothedRTT: .milliseconds(10))
        #expect(abs(pacer.tokens - 125_000) < 1)
        // Never more than a timer period's worth (5 ms: 625 KB), however long it waited.
        pacer.refill(now: start + .seconds(1), window: 1_000_000, smoothedRTT: .milliseconds(10))
        #expect(abs(pacer.tokens - 625_000) < 1)
    }
}
