import ContactListenerKit
import ContactListenerRuntime
import ListenerSupport
import ArgumentParser

extension ContactListener {
    /// `contact-listener check-config`: validate a configuration and print what is in force.
    package struct CheckConfig: ParsableCommand {
        /// Help for `check-config`.
        package static let configuration = CommandConfiguration(
            commandName: "check-config",
            abstract: "Validate the configuration and print the effective settings.",
            discussion: """
                Exits 0 when the file is valid and every handler can be built (folders writable, \
                options known); otherwise prints FILE:LINE: KEY: REASON and exits 78.
                """)

        @Option(name: .long, help: ArgumentHelp("The configuration file.", valueName: "file"))
        var config: String?

        /// Creates the command (ArgumentParser needs it).
        package init() {}

        /// Runs `check-config`.
        package func run() throws {
            let configuration: ListenerConfiguration
            do {
                configuration = try ConfigurationLoader.load(explicit: config)
                // A dry build proves the handlers' options and that their files could be
                // created, without creating anything.
                try ContactListener.registry.makeHandlers(configuration.handlers, dryRun: true).forEach { $0.close() }
            } catch {
                Runtime.complain("\(error)")
                throw ExitCode(ExitStatus.configuration)
            }
            print(Self.render(configuration))
        }

        /// The effective configuration as YAML.
        static func render(_ configuration: ListenerConfiguration) -> String {
            let limits = configuration.limits
            var lines = [
                "# effective configuration (from \(configuration.source))",
                "listen: \(configuration.listen.map { "\"\($0)\"" } ?? "null  # the socket on fd 0 / from systemd")",
                "socket_mode: \"0\(String(configuration.socketMode, radix: 8))\"",
                "socket_group: \(configuration.socketGroup ?? "null")",
                "threads: \(configuration.threads)",
                "log_level: \(configuration.logLevel)",
                "limits:",
                "  max_body_bytes: \(limits.maxBodyBytes)",
                "  max_vars: \(limits.maxVars)",
                "  max_depth: \(limits.maxDepth)",
                "  max_key_bytes: \(limits.maxKeyBytes)",
                "  max_value_bytes: \(limits.maxValueBytes)",
                "  max_parts: \(limits.maxParts)",
                "  max_header_bytes: \(limits.maxHeaderBytes)",
            ]
            lines.append("verify:")
            lines += configuration.verify.summary.map { "  \($0)" }
            if let spool = configuration.spool {
                lines += [
                    "spool:",
                    "  path: \(spool.path)",
                    "  retry: [\(spool.retry.delays.map { "\($0)ms" }.joined(separator: ", "))]",
                    "  dedup_window: \(spool.dedupWindow)ms",
                    "  retention: \(spool.retention)ms",
                ]
            } else {
                lines.append("spool: off  # handlers take each event before the answer")
                if let dedup = configuration.dedup {
                    lines += ["dedup:  # replays of a stored event are recognised here", "  path: \(dedup.path)", "  window: \(dedup.window)ms"]
                }
            }
            if let console = configuration.console {
                // The users' names only: a hash is no password, but it is no one's business.
                lines += [
                    "console:",
                    "  path: \(console.path)",
                    "  users: [\(console.users.keys.sorted().joined(separator: ", "))]  # hashes not shown",
                    "  allow_from: \(console.allowFromSummary ?? "any  # the login form is open to every address; consider allow_from")",
                ]
            }
            lines.append("handlers:")
            for handler in configuration.handlers {
                lines.append("  - type: \(handler.type)")
                lines.append("    name: \(handler.name)")
                for key in handler.options.keys where key != "type" && key != "name" {
                    // Shown as written: `${VAR}` stays unexpanded, so no secret from the
                    // environment is printed; nested options are summarised.
                    guard let node = handler.options[key] else { continue }
                    let written = node.node.scalar?.string ?? (node.node.sequence != nil ? "[…]" : "{…}")
                    let shown = key == "path" ? handler.resolve(path: (try? node.string()) ?? written) : written
                    lines.append("    \(key): \(shown)")
                }
            }
            return lines.joined(separator: "\n")
        }
    }

    /// `contact-listener handlers`: the handler types this binary knows.
    package struct Handlers: ParsableCommand {
        /// Help for `handlers`.
        package static let configuration = CommandConfiguration(
            abstract: "List the handler types and their options.")

        /// Creates the command (ArgumentParser needs it).
        package init() {}

        /// Runs `handlers`.
        package func run() {
            for factory in ContactListener.registry.all {
                print("\(factory.type): \(factory.summary)")
                print("  name: a unique name for logs and the spool (default: the type)")
                print("  map: rename or drop custom fields first, e.g. {fields: {\"First Name\": first_name, \"17\": company}, drop: [Notes]}")
                print("  rate: with a spool, at most this many deliveries per period, evenly paced, e.g. 10/s or 190/10s (a 429's wait pauses the handler anyway)")
                for option in factory.options { print("  \(option.name): \(option.help)") }
                print("")
            }
        }
    }
}
