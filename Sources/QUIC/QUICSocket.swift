import NIOCore
import NIOPosix

extension DatagramBootstrap {
    /// The socket settings of our QUIC endpoints: 1 MiB buffers both ways, ECN marks reported
    /// and settable, and batched reads — GRO (several datagrams in one read) where the kernel
    /// offers it, else recvmmsg of 32 datagrams, each into its own 2 KiB of the read buffer.
    func quicSocketOptions() -> DatagramBootstrap {
        let bootstrap = self.channelOption(.socketOption(.so_rcvbuf), value: 1 << 20)
            .channelOption(.socketOption(.so_sndbuf), value: 1 << 20)
            .channelOption(.explicitCongestionNotification, value: true)
            .channelOption(.maxMessagesPerRead, value: 16)
        guard !QUICDatagramIO.receiveOffload else {
            return bootstrap.channelOption(.datagramReceiveOffload, value: true)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 1 << 16))
        }
        return bootstrap.channelOption(.datagramVectorReadMessageCount, value: 32)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2048))
    }
}

/// Datagrams to and from the socket: runs of equal-size datagrams leave in one write the
/// kernel splits (GSO), reads holding several are split again (GRO), ECN marks both ways.
enum QUICDatagramIO {
    static let segmentation = System.supportsUDPSegmentationOffload
    static let receiveOffload = System.supportsUDPReceiveOffload
    /// Segments in one GSO write at most (the kernel allows 64, and 64 KiB in all).
    static let maxSegments = 32

    /// The writes that carry `datagrams` to `peer` (marked ECT(0) when `ecn`).
    static func envelopes(_ datagrams: [[UInt8]], to peer: SocketAddress, ecn: Bool) -> [AddressedEnvelope<ByteBuffer>] {
        let state: NIOExplicitCongestionNotificationState = ecn ? .transportCapableFlag0 : .transportNotCapable
        guard segmentation, datagrams.count > 1 else {
            return datagrams.map {
                AddressedEnvelope(remoteAddress: peer, data: ByteBuffer(bytes: $0), metadata: .init(ecnState: state))
            }
        }
        var envelopes: [AddressedEnvelope<ByteBuffer>] = []
        var index = 0
        while index < datagrams.count {
            // A run: datagrams of the first one's size, the last of the run possibly shorter.
            let size = datagrams[index].count
            var end = index + 1
            while end < datagrams.count, end - index < maxSegments, datagrams[end].count <= size {
                end += 1
                if datagrams[end - 1].count < size { break }
            }
            var buffer = ByteBuffer()
            buffer.reserveCapacity(size * (end - index))
            for datagram in datagrams[index..<end] { buffer.writeBytes(datagram) }
            let segmented = end - index > 1
            envelopes.append(
                AddressedEnvelope(
                    remoteAddress: peer, data: buffer,
                    metadata: .init(ecnState: state, packetInfo: nil, segmentSize: segmented ? size : nil)))
            index = end
        }
        return envelopes
    }

    /// The datagrams a read delivered (several of `segmentSize` bytes after GRO).
    static func datagrams(in envelope: AddressedEnvelope<ByteBuffer>) -> [[UInt8]] {
        let bytes = envelope.data.readableBytesView
        guard let size = envelope.metadata?.segmentSize, size > 0, bytes.count > size else { return [Array(bytes)] }
        return stride(from: bytes.startIndex, to: bytes.endIndex, by: size).map { Array(bytes[$0..<min($0 + size, bytes.endIndex)]) }
    }
}
