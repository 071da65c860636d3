// swift-tools-version:6.0
// Interop and benchmark peers built on the official MCP Swift SDK (modelcontextprotocol/swift-sdk):
//   swiftsdk-mcp-server  an MCP server (the SDK's `Server`) over stdio or Streamable HTTP
//                        (the SDK's StatefulHTTPServerTransport behind a small SwiftNIO HTTP/1.1 glue)
//   swiftsdk-mcp-client  an MCP client (the SDK's `Client`) over stdio or Streamable HTTP,
//                        with `check` (one JSON result) and `bench` (calls/s and latency) modes.
// A standalone package: it is not part of FasterAPI's own build.
import PackageDescription

let package = Package(
    name: "mcp-swift-sdk-peers",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", exact: "0.12.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "swiftsdk-mcp-server",
            dependencies: [
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "swiftsdk-mcp-client",
            dependencies: [.product(name: "MCP", package: "swift-sdk")]
        ),
    ]
)
