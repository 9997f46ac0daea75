import ContactListenerKit
import ContactListenerRuntime
import ListenerSupport
import ArgumentParser

extension ContactListener {
    /// `contact-listener spool …`: look into the spool and act on dead letters.
    package struct SpoolCommand: ParsableCommand {
        /// Help for `spool`.
        package static let configuration = CommandConfiguration(
            commandName: "spool",
            abstract: "Inspect the durable spool: counts, failed and dead deliveries, retries, purges.",
            discussion: """
                Every accepted event waits in the spool until each handler has it. A delivery is \
                pending, delivered, failed (retried on the schedule) or dead (every attempt \
                failed; retry it by hand once the backend is fixed).

                Examples:
                  contact-listener spool status
                  contact-listener spool list --state dead
                  contact-listener spool show 42
                  contact-listener spool retry --all-dead --handler crm
                  contact-listener spool purge --delivered --older-than 30d
                """,
            subcommands: [Status.self, List.self, Show.self, Retry.self, Purge.self])

        /// Creates the command (ArgumentParser needs it).
        package init() {}

        /// Options shared by the spool subcommands.
        struct Common: ParsableArguments {
            @Option(name: .long, help: ArgumentHelp("The configuration file (it names the spool).", valueName: "file"))
            var config: String?

            @Flag(name: .long, help: "Print JSON for scripts.")
            var json = false

            /// Opens the configured spool, or explains why it can't.
            func openSpool() throws -> Spool {
                let configuration: ListenerConfiguration
                do {
                    configuration = try ConfigurationLoader.load(explicit: config)
                } catch {
                    Runtime.complain("\(error)")
                    throw ExitCode(ExitStatus.configuration)
                }
                guard let spoolConfiguration = configuration.spool else {
                    Runtime.complain("\(configuration.source) configures no spool; add `spool: /var/lib/contact-listener/spool.db`")
                    throw ExitCode(ExitStatus.configuration)
                }
                do {
                    return try Spool(configuration: spoolConfiguration, handlerNames: configuration.handlers.map(\.name))
                } catch {
                    Runtime.complain("can't open the spool \(spoolConfiguration.path): \(error)")
                    throw ExitCode(1)
                }
            }
        }

        /// `spool status`.
        struct Status: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Count deliveries by handler and state.")
            @OptionGroup var common: Common

            func run() throws {
                let counts = try common.openSpool().status()
                if common.json {
                    var writer = JSONWriter()
                    counts.write(to: &writer)
                    print(writer.string)
                    return
                }
                if counts.entries.isEmpty { print("the spool is empty"); return }
                print(pad("handler", 20) + DeliveryState.allCases.map { pad($0.rawValue, 11) }.joined())
                for handler in counts.handlers {
                    let cells = DeliveryState.allCases.map { state in pad(String(counts.count(handler, state)), 11) }
                    print(pad(handler, 20) + cells.joined())
                }
            }
        }

        /// `spool list`.
        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List deliveries, newest first.")
            @OptionGroup var common: Common
            @Option(name: .long, help: ArgumentHelp("pending, delivered, failed or dead.", valueName: "state"))
            var state: String?
            @Option(name: .long, help: ArgumentHelp("Only this handler.", valueName: "name"))
            var handler: String?
            @Option(name: .long, help: "At most this many rows.")
            var limit = 100

            func run() throws {
                var filter: DeliveryState?
                if let state {
                    guard let parsed = DeliveryState(rawValue: state) else {
                        throw ValidationError("--state must be one of \(DeliveryState.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    filter = parsed
                }
                let entries = try common.openSpool().list(state: filter, handler: handler, limit: limit)
                if common.json {
                    var writer = JSONWriter()
                    writer.beginArray()
                    for entry in entries { write(entry, to: &writer) }
                    writer.endArray()
                    print(writer.string)
                    return
                }
                if entries.isEmpty { print("no deliveries match"); return }
                print(pad("id", 8) + pad("handler", 14) + pad("state", 11) + pad("tries", 7) + pad("received", 26) + "transaction / last error")
                for entry in entries {
                    let detail = [entry.transactionID ?? "-", entry.lastError.map { "— \($0.prefix(80))" } ?? ""].joined(separator: " ")
                    print(pad(String(entry.eventID), 8) + pad(entry.handler, 14) + pad(entry.state.rawValue, 11)
                          + pad(String(entry.attempts), 7) + pad(Timestamp.format(milliseconds: entry.receivedAt), 26) + detail)
                }
            }
        }

        /// `spool show ID`.
        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show one spooled event and its deliveries.")
            @OptionGroup var common: Common
            @Argument(help: "The spool id (from `spool list`).")
            var id: Int64

            func run() throws {
                let spool = try common.openSpool()
                guard let json = try spool.eventJSON(id: id) else {
                    Runtime.complain("no event \(id) in the spool (purged, or never there); see `spool list`")
                    throw ExitCode(1)
                }
                let entries = try spool.list(eventID: id)
                if common.json {
                    var writer = JSONWriter()
                    writer.beginObject()
                    writer.key("id")
                    writer.raw(String(id))
                    writer.key("event")
                    writer.raw(json)
                    writer.key("deliveries")
                    writer.beginArray()
                    for entry in entries { write(entry, to: &writer) }
                    writer.endArray()
                    writer.endObject()
                    print(writer.string)
                    return
                }
                print("event \(id): \(json)")
                for entry in entries {
                    var line = "  \(entry.handler): \(entry.state.rawValue) after \(entry.attempts) attempt(s)"
                    if entry.state == .failed || entry.state == .pending {
                        line += ", next at \(Timestamp.format(milliseconds: entry.nextAttemptAt))"
                    }
                    if let error = entry.lastError { line += "; last error: \(error)" }
                    print(line)
                }
            }
        }

        /// `spool retry`.
        struct Retry: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Put dead (or failed) deliveries back in line now.",
                discussion: "The running listener (or the next CGI request, or `drain`) delivers them.")
            @OptionGroup var common: Common
            @Argument(help: "The spool id of one event.")
            var id: Int64?
            @Flag(name: .long, help: "Every dead delivery.")
            var allDead = false
            @Option(name: .long, help: ArgumentHelp("Only this handler.", valueName: "name"))
            var handler: String?

            func validate() throws {
                if (id == nil) == !allDead { throw ValidationError("give one spool id, or --all-dead") }
            }

            func run() throws {
                let count = try common.openSpool().retry(eventID: id, handler: handler)
                if common.json { print("{\"requeued\":\(count)}") } else { print("\(count) deliver\(count == 1 ? "y" : "ies") queued again") }
            }
        }

        /// `spool purge`.
        struct Purge: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete delivered events older than a given age.")
            @OptionGroup var common: Common
            @Flag(name: .long, help: "Required: only events every handler has (the only kind that may go).")
            var delivered = false
            @Option(name: .long, help: ArgumentHelp("An age like 30d, 12h or 90m.", valueName: "age"))
            var olderThan: String

            func validate() throws {
                if !delivered { throw ValidationError("purge removes delivered events only; say so with --delivered") }
                if DurationText.milliseconds(olderThan) == nil { throw ValidationError("--older-than takes an age like 30d, 12h or 90m") }
            }

            func run() throws {
                let age = DurationText.milliseconds(olderThan) ?? 0
                let count = try common.openSpool().purgeDelivered(receivedBefore: Clock.milliseconds() - age)
                if common.json { print("{\"purged\":\(count)}") } else { print("\(count) delivered event\(count == 1 ? "" : "s") purged") }
            }
        }
    }

    /// `contact-listener drain`: deliver what is due, for cron in CGI setups.
    package struct Drain: ParsableCommand {
        /// Help for `drain`.
        package static let configuration = CommandConfiguration(
            abstract: "Deliver pending and due spooled events, then exit (for cron in CGI setups).",
            discussion: "Example crontab line: * * * * * /path/to/contact-listener drain --config /path/to/contact-listener.yaml")

        @Option(name: .long, help: ArgumentHelp("The configuration file.", valueName: "file"))
        var config: String?

        @Option(name: .long, help: ArgumentHelp("Stop after this long (default 50s, so a minutely cron never overlaps).", valueName: "duration"))
        var maxTime = "50s"

        /// Creates the command (ArgumentParser needs it).
        package init() {}

        /// Runs `drain`.
        package func run() throws {
            guard let budget = DurationText.milliseconds(maxTime) else { throw ValidationError("--max-time takes a duration like 50s") }
            let service: ListenerService
            do {
                service = try Runtime.makeService(configPath: config, environment: ProcessEnvironment.current)
            } catch {
                Runtime.complain("\(error)")
                throw ExitCode(ExitStatus.configuration)
            }
            guard service.spool != nil else {
                Runtime.complain("no spool is configured, so there is nothing to drain")
                service.shutdown()
                throw ExitCode(ExitStatus.configuration)
            }
            let attempts = service.drain(milliseconds: budget)
            service.shutdown()
            print("\(attempts) deliver\(attempts == 1 ? "y" : "ies") attempted")
        }
    }
}

/// Left-aligns `text` in a column of `width`.
private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

/// One delivery as a JSON object.
private func write(_ entry: Spool.Entry, to writer: inout JSONWriter) {
    writer.beginObject()
    writer.key("id"); writer.raw(String(entry.eventID))
    writer.key("handler"); writer.string(entry.handler)
    writer.key("state"); writer.string(entry.state.rawValue)
    writer.key("attempts"); writer.int(entry.attempts)
    writer.key("transactionid"); writer.optionalString(entry.transactionID)
    writer.key("received_at"); writer.string(Timestamp.format(milliseconds: entry.receivedAt))
    writer.key("next_attempt_at"); writer.string(Timestamp.format(milliseconds: entry.nextAttemptAt))
    writer.key("last_error"); writer.optionalString(entry.lastError)
    writer.endObject()
}
