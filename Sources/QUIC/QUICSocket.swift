import NIOCore
import NIOPosix

extension DatagramBootstrap {
    /// The socket settings of our QUIC endpoints: 4 MiB buffers both ways (a burst of a full
    /// congestion window must not overflow them) and batched reads (recvmmsg, 32 at a time,
    /// each into its own 2 KiB of the read buffer).
    func quicSocketOptions() -> DatagramBootstrap {
        self.channelOption(.socketOption(.so_rcvbuf), value: 1 << 20)
            .channelOption(.socketOption(.so_sndbuf), value: 1 << 20)
            .channelOption(.datagramVectorReadMessageCount, value: 32)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2048))
    }
}
