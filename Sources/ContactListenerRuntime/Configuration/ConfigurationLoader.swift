import ContactListenerKit
import ListenerSupport
/// Finds and reads the configuration: `--config`, else `$CONTACT_LISTENER_CONFIG`,
/// else `contact-listener.yaml` beside the executable, else the built-in defaults.
package enum ConfigurationLoader {
    /// The file that would be used, or nil for the built-in defaults.
    package static func locate(explicit: String?, environment: [String: String]) -> String? {
        if let explicit { return explicit }
        if let fromEnvironment = environment["CONTACT_LISTENER_CONFIG"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        if let executable = ProcessEnvironment.executablePath {
            let beside = FileSystem.directory(of: executable) + "/contact-listener.yaml"
            if FileSystem.exists(beside) { return beside }
        }
        return nil
    }

    /// Loads the effective configuration.
    package static func load(
        explicit: String? = nil, environment: [String: String] = ProcessEnvironment.current
    ) throws(ConfigurationError) -> ListenerConfiguration {
        guard let path = locate(explicit: explicit, environment: environment) else {
            return ListenerConfiguration.defaults(environment: environment)
        }
        let text: String
        do {
            text = try FileSystem.readText(path)
        } catch {
            throw ConfigurationError(
                file: path, line: nil, key: "",
                reason: "can't read the configuration (\(error)); check the path given by --config or CONTACT_LISTENER_CONFIG")
        }
        return try ListenerConfiguration.parse(text, file: path, baseDirectory: FileSystem.directory(of: path), environment: environment)
    }
}
