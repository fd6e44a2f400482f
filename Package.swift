// swift-tools-version:6.2
// vpngw — a self-hosted VPN gateway shaped like Azure's VPN Gateway.
// Target layout follows docs/ARCHITECTURE.md: pure cores (GatewayModel, ESP, IKE) depend on no
// I/O; only the API, the store, the data plane and the CLI touch sockets, files and threads.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "vpngw",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vpngw", targets: ["vpngw"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.3.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // System OpenSSL libcrypto (Debian: libssl-dev): reused EVP cipher contexts for ESP and
        // BN_mod_exp for the MODP groups. See docs/ARCHITECTURE.md §3.
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),

        // Pure resource model: Azure-shaped resources and every rule of the seed. No I/O.
        .target(name: "GatewayModel", swiftSettings: strict),
        // Durable desired state: protocol + SQLite (GRDB) implementation.
        .target(name: "GatewayStore", dependencies: [
            "GatewayModel",
            .product(name: "GRDB", package: "GRDB.swift"),
        ], swiftSettings: strict),
        // Desired state service (admission + store + long-running operations); later the reconciler.
        .target(name: "GatewayControl", dependencies: [
            "GatewayModel", "GatewayStore",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // ARM-shaped REST API over HTTPS (Hummingbird 2).
        .target(name: "GatewayAPI", dependencies: [
            "GatewayModel", "GatewayStore", "GatewayControl",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // Typed client of the REST API, shared by the CLI and the tests.
        .target(name: "GatewayClient", dependencies: [
            "GatewayModel",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], swiftSettings: strict),

        // Pure ESP core (RFC 4303): SAs, transforms with reused cipher contexts, replay window.
        .target(name: "ESP", dependencies: ["COpenSSL"], swiftSettings: strict),
        // Pure IKEv2 core (RFC 7296): wire format, crypto suite, state machine.
        .target(name: "IKE", dependencies: [
            "COpenSSL",
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),

        // The only packet I/O: TUN + UDP on dedicated threads with plain syscalls.
        .target(name: "CDataPlane", path: "Sources/CDataPlane"),
        .target(name: "DataPlane", dependencies: ["CDataPlane", "ESP"], swiftSettings: strict),

        // Pure PPP core (RFC 1661/1332/1877/2759/3079): LCP, MS-CHAPv2, IPCP; MD4 and DES included.
        .target(name: "PPP", dependencies: [.product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        // Pure SSTP core ([MS-SSTP]): codec, HTTP hello, call state machines, crypto binding.
        .target(name: "SSTP", dependencies: ["PPP", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),

        // SSTP server/client I/O (issue 5): TLS via swift-nio-ssl, one SSTPServerCall per connection,
        // a shared P2S TUN device; and the sstpc --nolaunchpppd stdio driver for `vpngw p2s connect`.
        .target(name: "SSTPNIO", dependencies: [
            "SSTP", "PPP", "CDataPlane", "DataPlane",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),

        // IKE SAs driven over the data plane's sockets; CHILD SAs installed into it.
        .target(name: "Tunnels", dependencies: ["IKE", "ESP", "DataPlane"], swiftSettings: strict),

        // Reconciler: desired state → gateway agents (processes running DataPlane + Tunnels).
        .target(name: "GatewayRuntime", dependencies: [
            "GatewayModel", "GatewayControl",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),

        // Composition root: CLI + `serve`.
        .executableTarget(name: "vpngw", dependencies: [
            "GatewayModel", "GatewayStore", "GatewayControl", "GatewayAPI", "GatewayClient", "DataPlane", "ESP", "IKE", "Tunnels", "GatewayRuntime",
            "SSTPNIO", "SSTP", "PPP", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),

        .testTarget(name: "GatewayModelTests", dependencies: ["GatewayModel", "GatewayControl", "GatewayStore"]),
        .testTarget(name: "GatewayStoreTests", dependencies: ["GatewayStore", "GatewayModel"]),
        .testTarget(name: "GatewayAPITests", dependencies: ["GatewayAPI", "GatewayClient", "GatewayControl", "GatewayStore", "GatewayModel"]),
        // Test support: counts malloc-family calls per thread, proving hot paths allocate nothing.
        .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
        .testTarget(name: "ESPTests", dependencies: ["ESP", "CAllocationCounter"]),
        .testTarget(name: "IKETests", dependencies: ["IKE"]),
        // Test support: plain byte-array reference code (checksums, packet builders) for packet tests.
        .target(name: "PacketTestSupport", path: "Tests/PacketTestSupport"),
        .testTarget(name: "DataPlaneTests", dependencies: ["DataPlane", "CAllocationCounter", "PacketTestSupport"]),
        .testTarget(name: "PPPTests", dependencies: ["PPP"]),
        // EAP-TLS end to end needs the real TLS engine (SSTPNIO's NIOEAPTLSEngine).
        .testTarget(name: "SSTPTests", dependencies: ["SSTP", "SSTPNIO", "PPP", "DataPlane", "CAllocationCounter", "PacketTestSupport",
                                                      .product(name: "X509", package: "swift-certificates"),
                                                      .product(name: "SwiftASN1", package: "swift-asn1"),
                                                      .product(name: "Crypto", package: "swift-crypto"),
                                                      .product(name: "NIOSSL", package: "swift-nio-ssl")]),
    ]
)
