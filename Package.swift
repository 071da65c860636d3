// swift-tools-version:6.0
import CompilerPluginSupport
import PackageDescription

/// Nonisolated async functions run on their caller's executor (SE-0461): no executor switch on
/// every call along the request path.
let swiftSettings: [SwiftSetting] = [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]

let package = Package(
    name: "FasterAPI",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "FasterAPICore", targets: ["FasterAPICore"]),
        .library(name: "FasterAPI", targets: ["FasterAPI"]),
        .library(name: "FasterAPIJWT", targets: ["FasterAPIJWT"]),
        .library(name: "FasterAPIWebSocket", targets: ["FasterAPIWebSocket"]),
        .library(name: "FasterAPIPostgres", targets: ["FasterAPIPostgres"]),
        .library(name: "FasterAPIMCP", targets: ["FasterAPIMCP"]),
        .library(name: "QUIC", targets: ["QUIC"]),
        .executable(name: "fasterapi-demo", targets: ["fasterapi-demo"]),
        .executable(name: "fasterapi-pgloop", targets: ["fasterapi-pgloop"]),
        .executable(name: "fasterapi-mcpload", targets: ["fasterapi-mcpload"]),
        .executable(name: "fasterapi", targets: ["fasterapi"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/swiftlang/swift-syntax.git", "602.0.0"..<"604.0.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        // The pool module is underscored (unstable API): pinned to 1.33.x.
        .package(url: "https://github.com/vapor/postgres-nio.git", .upToNextMinor(from: "1.33.2")),
    ],
    targets: [
        .target(
            name: "FasterAPICore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .macro(
            name: "FasterAPIMacros",
            dependencies: [
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
                .product(name: "SwiftCompilerPlugin", package: "swift-syntax"),
                .product(name: "SwiftDiagnostics", package: "swift-syntax"),
            ]
        ),
        .target(
            name: "FasterAPI",
            dependencies: [
                "FasterAPICore",
                "FasterAPIMacros",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FasterAPIJWT",
            dependencies: ["FasterAPI", .product(name: "JWTKit", package: "jwt-kit")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FasterAPIWebSocket",
            dependencies: [
                "FasterAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FasterAPIPostgres",
            dependencies: [
                "FasterAPI",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FasterAPIMCP",
            dependencies: [
                "FasterAPI", "FasterAPICore", "FasterAPIWebSocket", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fasterapi-demo",
            dependencies: ["FasterAPI", "FasterAPIJWT", "FasterAPIWebSocket", "FasterAPIPostgres", "FasterAPIMCP"],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "fasterapi-pgloop",
            dependencies: ["FasterAPIPostgres", "FasterAPICore", .product(name: "NIOPosix", package: "swift-nio")],
            path: "Benchmarks/pgloop",
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "fasterapi",
            dependencies: ["QUIC"],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "fasterapi-mcpload",
            dependencies: ["FasterAPIMCP", "FasterAPI"],
            path: "Benchmarks/mcpload",
            swiftSettings: swiftSettings),
        .testTarget(
            name: "FasterAPICoreTests",
            dependencies: [
                "FasterAPICore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "PeerSupport", path: "Tests/PeerSupport"),
        .testTarget(
            name: "FasterAPITests",
            dependencies: [
                "FasterAPI",
                "PeerSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            exclude: ["Interop"]
        ),
        .testTarget(
            name: "FasterAPIMacrosTests",
            dependencies: [
                "FasterAPIMacros",
                .product(name: "SwiftSyntaxMacrosGenericTestSupport", package: "swift-syntax"),
            ]
        ),
        .testTarget(
            name: "FasterAPIWebSocketTests",
            dependencies: [
                "FasterAPIWebSocket",
                "PeerSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Interop"]
        ),
        .testTarget(
            name: "FasterAPIPostgresTests",
            dependencies: [
                "FasterAPIPostgres",
                "PeerSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "QUIC",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "QUICTests",
            dependencies: [
                "QUIC", "PeerSupport", .product(name: "NIOCore", package: "swift-nio"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Interop"]
        ),
        .testTarget(
            name: "FasterAPIMCPTests",
            dependencies: ["FasterAPIMCP", "PeerSupport", .product(name: "NIOCore", package: "swift-nio")],
            exclude: ["Interop"]
        ),
        .testTarget(
            name: "FasterAPIJWTTests",
            dependencies: [
                "FasterAPIJWT",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            exclude: ["Interop"]
        ),
    ]
)

// libFuzzer targets, only when asked for (they need -sanitize=fuzzer): see Fuzz/run.sh.
if Context.environment["FASTERAPI_FUZZ"] != nil {
    // Our code is built with libFuzzer's coverage and AddressSanitizer; the macro plugin (a
    // tool run by the compiler) is not, or it could not link.
    for target in package.targets where target.type != .macro {
        target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-sanitize=fuzzer,address", "-enable-testing"])]
    }
    let fuzzer: [SwiftSetting] = [.unsafeFlags(["-parse-as-library", "-sanitize=fuzzer,address", "-enable-testing"])]
    let linked: [LinkerSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]
    package.targets += [
        .target(name: "FuzzDriver", path: "Fuzz/Sources/FuzzDriver", swiftSettings: [.enableExperimentalFeature("Extern")]),
        .target(
            name: "QUICFuzzProperties", dependencies: ["QUIC", .product(name: "NIOCore", package: "swift-nio")],
            path: "Fuzz/Sources/QUICFuzzProperties"),
        .executableTarget(
            name: "HTTP1ParserFuzzer", dependencies: ["FasterAPICore", "FasterAPI", "FuzzDriver"],
            path: "Fuzz/Sources/HTTP1ParserFuzzer", swiftSettings: fuzzer, linkerSettings: linked),
    ]
    for name in ["FuzzFrames", "FuzzPackets", "FuzzTransportParameters"] {
        package.targets.append(
            .executableTarget(
                name: name, dependencies: ["QUICFuzzProperties", "FuzzDriver"], path: "Fuzz/Sources/\(name)", swiftSettings: fuzzer,
                linkerSettings: linked))
    }
}
