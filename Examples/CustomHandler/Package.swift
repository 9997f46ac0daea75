// swift-tools-version:6.0
// An example of the plugin API: your own contact-listener binary with an extra handler type.
import PackageDescription

let package = Package(
    name: "CustomHandler",
    platforms: [.macOS(.v13)],
    dependencies: [
        // In your own project: .package(url: "https://…/contact-listener", from: "0.1.0")
        .package(name: "contact-listener", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "my-contact-listener",
            dependencies: [
                // The handler protocol and the event.
                .product(name: "ContactListenerKit", package: "contact-listener"),
                // `ContactListener.main(handlers:)`: the whole command line, with your types added.
                .product(name: "ContactListenerCLI", package: "contact-listener"),
            ]
        ),
    ]
)
