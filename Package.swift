// swift-tools-version:6.0
// contact-listener: receives contact data pushed by a marketing-automation platform
// (FastCGI or CGI), verifies it and stores it durably before answering 200.
import PackageDescription

let package = Package(
    name: "contact-listener",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "contact-listener", targets: ["contact-listener"]),
        // The plugin API, and the entry point of a binary with handlers of its own
        // (Examples/CustomHandler).
        .library(name: "ContactListenerKit", targets: ["ContactListenerKit"]),
        .library(name: "ContactListenerCLI", targets: ["ContactListenerCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // Debian's libfcgi-dev; only Gateway/FastCGIServer.swift imports it (docs/libfcgi.md).
        .systemLibrary(
            name: "CFastCGI",
            pkgConfig: "fcgi",
            providers: [.apt(["libfcgi-dev"])]
        ),
        // Debian's libmariadb-dev; only Handlers/SQL/MariaDBConnection.swift imports it.
        .systemLibrary(
            name: "CMariaDB",
            pkgConfig: "libmariadb",
            providers: [.apt(["libmariadb-dev"])]
        ),
        // Debian's libsodium-dev (argon2id); only Console/PasswordHash.swift imports it.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // The request and the contact event: decoding exactly as PHP's $_POST, the event
        // model and its JSON. No dependency at all: the fuzzers build this folder alone.
        .target(name: "ContactCore"),
        // Threads, locks, group commit, files and the process environment: what the
        // listener's parts share, over Glibc alone.
        .target(name: "ListenerSupport"),
        // glibc's posix_spawn_file_actions_addclosefrom_np, which needs _GNU_SOURCE;
        // only Handlers/Exec/ChildProcess.swift uses it.
        .target(name: "CSpawn"),
        // The plugin API: the handler protocol, the delivery, the configuration a handler
        // reads. What a plugin author imports (it re-exports ContactCore's event model).
        .target(
            name: "ContactListenerKit",
            dependencies: [
                "ContactCore",
                "ListenerSupport",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The SQL handlers: SQLite (GRDB), PostgreSQL (postgres-nio), MySQL/MariaDB
        // (Debian's libmariadb), and the SQLite file opener the spool shares.
        .target(
            name: "ContactListenerSQL",
            dependencies: [
                "ContactListenerKit",
                "ListenerSupport",
                "CMariaDB",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for SQLiteFile alone (GRDB's generic fetches cost a CGI
                // process more than the request).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The HTTP forward handler (a CRM's API), over AsyncHTTPClient.
        .target(
            name: "ContactListenerHTTP",
            dependencies: [
                "ContactListenerKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // MD5 for the {{md5:…}} placeholder (Mailchimp's subscriber hash).
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The listener: FastCGI and CGI gateways, verification, the request pipeline, the
        // spool and its dispatcher, the built-in file and command handlers, the status page and
        // the operator's console.
        .target(
            name: "ContactListenerRuntime",
            dependencies: [
                "ContactListenerKit",
                "ContactListenerSQL",
                "ContactListenerHTTP",
                "ListenerSupport",
                "CFastCGI",
                "CSpawn",
                "CSodium",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The command line: `ContactListener.main(handlers:)` and its subcommands, for the
        // stock binary and for custom builds with handlers of their own.
        .target(
            name: "ContactListenerCLI",
            dependencies: [
                "ContactListenerRuntime",
                "ListenerSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .executableTarget(
            name: "contact-listener",
            dependencies: ["ContactListenerCLI"]
        ),
        .testTarget(
            name: "ContactCoreTests",
            dependencies: ["ContactCore"]
        ),
        .testTarget(
            name: "ContactListenerKitTests",
            dependencies: ["ContactListenerKit", "ContactListenerSQL", "ContactListenerHTTP", "ContactListenerRuntime", "ContactListenerCLI", "ListenerSupport"]
        ),
        .testTarget(
            name: "IntegrationTests",
            // The executable is what the tests run; the SQL tests also drive the handlers in
            // process, and ListenerSupport lends its file reader.
            dependencies: ["contact-listener", "ContactListenerKit", "ContactListenerSQL", "ContactListenerRuntime", "ListenerSupport"],
            // Scripts the tests run (a recording HTTP server, …), found through #filePath.
            exclude: ["Fixtures"]
        ),
    ]
)
