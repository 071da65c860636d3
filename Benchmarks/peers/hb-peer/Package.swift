// swift-tools-version:6.0
// Hummingbird 2 peer for scripts/bench.sh: the same routes as fasterapi-demo, over cleartext
// HTTP/1.1, TLS HTTP/1.1 or HTTP/2 over TLS, plus a WebSocket echo at /ws/echo
// (hummingbird-websocket), written the way a Hummingbird user would write them.
// The folder is not named `hummingbird`: SwiftPM names a root package after its folder,
// which would clash with the dependency of that name.
import PackageDescription

let package = Package(
    name: "hb-peer",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
    ],
    targets: [
        .executableTarget(
            name: "hb-peer",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ]
        )
    ]
)
