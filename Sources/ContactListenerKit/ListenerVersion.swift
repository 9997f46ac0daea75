/// The release version, for `--version` and the HTTP handler's `User-Agent`.
package enum ListenerVersion {
    /// The version number.
    package static let number = "0.1.0"
}
