import ContactListenerKit
import ListenerSupport
import Logging
@preconcurrency import Yams

/// The listener's effective configuration: what `check-config` prints and `serve` uses.
package struct ListenerConfiguration: Sendable {
    /// Where the config came from (a path, or "built-in defaults").
    package var source: String
    /// The FastCGI listening address; nil means "the socket handed over on fd 0 / by systemd".
    package var listen: ListenAddress?
    /// Permission bits of a unix socket (default 0660: the web server's group may connect).
    package var socketMode: UInt32 = 0o660
    /// Group that owns a unix socket (e.g. `www-data`); nil keeps the process's group.
    package var socketGroup: String?
    /// Worker threads in the FastCGI accept loop.
    ///
    /// 16 by default, though the work is CPU-bound on few cores: with durable storage (the
    /// default) a worker spends most of a request waiting for the disk, and group commit can
    /// put into one fsync only the events its workers hold (BENCHMARKS.md measures 4 against
    /// 16).
    package var threads: Int = 16
    /// Decoding limits.
    package var limits: FormLimits = .default
    /// Handlers in the order they take each event.
    package var handlers: [HandlerConfiguration]
    /// Minimum log level (`trace` … `critical`).
    package var logLevel: Logger.Level = .info
    /// The durable spool; nil hands events straight to the handlers before the answer.
    package var spool: SpoolConfiguration?
    /// Each handler's `rate:`, by handler name (only with a spool: it keeps the bucket).
    package var rates: [String: DeliveryRate] = [:]
    /// Where replays are recognised when there is no spool (nil with a spool, which
    /// deduplicates by itself).
    package var dedup: DedupConfiguration?
    /// A file for the log lines instead of stderr; reopened on SIGUSR1 (log rotation).
    package var logFile: String?
    /// The path of the status page (`?json`, `?html`, `?prometheus`); nil turns it off.
    /// The `verify:` rules protect it like the listener itself.
    package var statusPath: String?
    /// The path that answers `pong`, for health checks; nil turns it off.
    package var pingPath: String?
    /// Who may get an event stored: tokens, signatures, address ranges, methods (`verify:`).
    package var verify: VerificationRules = .none
    /// The operator's web console (`console:`); nil turns it off. Needs the spool, which
    /// holds the events it shows and its sessions.
    package var console: ConsoleConfiguration?

    /// The top-level keys a config file may use.
    package static let topLevelKeys = ["listen", "socket_mode", "socket_group", "threads", "limits", "handlers", "log_level", "spool", "verify", "status_path", "ping_path", "log_file", "dedup", "console"]

    /// The built-in defaults: the embedded SQLite database `./data/contacts.db`, behind the
    /// durable spool `./data/spool.db`.
    package static func defaults(environment: [String: String] = ProcessEnvironment.current) -> ListenerConfiguration {
        let node = ConfigNode.built(
            ["type": "sqlite", "path": "data/contacts.db"], path: "handlers[0]", file: "built-in defaults", environment: environment)
        var configuration = ListenerConfiguration(
            source: "built-in defaults",
            handlers: [HandlerConfiguration(type: "sqlite", name: "sqlite", options: node, baseDirectory: ".")])
        configuration.spool = SpoolConfiguration(path: "data/spool.db")
        return configuration
    }

    /// Parses YAML (or JSON) `text` read from `file`; relative paths resolve against `baseDirectory`.
    package static func parse(
        _ text: String, file: String, baseDirectory: String,
        environment: [String: String] = ProcessEnvironment.current
    ) throws(ConfigurationError) -> ListenerConfiguration {
        let parsed: Node?
        do {
            // Each argument spelled out, because each default is costly in a process that
            // serves one request: the default resolver compiles regular expressions through
            // ICU (the largest part of a CGI request's start-up), the default constructor builds
            // tables a Node tree never uses (`ConfigNode.treeConstructor`), and the default
            // encoding reads all of ProcessInfo's environment to look for YAMS_DEFAULT_ENCODING.
            parsed = try Parser(yaml: text, resolver: .basic, constructor: ConfigNode.treeConstructor(), encoding: .utf8)
                .singleRoot()
        } catch let error as YamlError {
            let (line, reason) = Self.describe(error, text: text)
            throw ConfigurationError(file: file, line: line, key: "", reason: "not valid YAML or JSON: \(reason)")
        } catch {
            throw ConfigurationError(file: file, line: nil, key: "", reason: "not valid YAML or JSON: \(error)")
        }
        var configuration = defaults(environment: environment)
        configuration.source = file
        // In a file, the default handler's path is relative to the file's folder, and the
        // spool is on only when `spool:` says so (without it, handlers take each event
        // before the answer).
        configuration.handlers = configuration.handlers.map { handler in
            var handler = handler
            handler.baseDirectory = baseDirectory
            return handler
        }
        configuration.spool = nil
        configuration.dedup = DedupConfiguration(baseDirectory: baseDirectory)
        guard let parsed else { return configuration }  // an empty file means the default handler
        let root = ConfigNode(node: parsed, path: "", file: file, environment: environment)
        try root.requireMapping(allowed: topLevelKeys)

        if let listen = root["listen"] {
            let text = try listen.string()
            guard let address = ListenAddress(text) else {
                throw listen.error("expected 'unix:/path/to.sock' or 'HOST:PORT', got '\(text)'")
            }
            configuration.listen = address
        }
        if let mode = root["socket_mode"] {
            let text = try mode.string()
            guard let bits = UInt32(text, radix: 8), bits <= 0o777 else {
                throw mode.error("expected octal permission bits like \"0660\", got '\(text)'")
            }
            configuration.socketMode = bits
        }
        configuration.socketGroup = try root["socket_group"]?.string()
        if let threads = root["threads"] {
            configuration.threads = try threads.int()
            guard (1...1024).contains(configuration.threads) else { throw threads.error("must be between 1 and 1024") }
        }
        if let limits = root["limits"] {
            configuration.limits = try parseLimits(limits)
        }
        if let level = root["log_level"] {
            guard let parsed = Logger.Level(rawValue: try level.string()) else {
                throw level.error("expected one of trace, debug, info, notice, warning, error, critical")
            }
            configuration.logLevel = parsed
        }
        for (key, slot) in [("status_path", \ListenerConfiguration.statusPath), ("ping_path", \ListenerConfiguration.pingPath)] {
            guard let node = root[key] else { continue }
            let path = try node.string()
            guard path.hasPrefix("/") else { throw node.error("expected a URL path starting with /, like /contact-listener/status") }
            configuration[keyPath: slot] = path
        }
        if let logFile = root["log_file"] {
            let path = try logFile.string()
            configuration.logFile = FileSystem.resolve(path, against: baseDirectory)
        }
        if let verify = root["verify"] {
            configuration.verify = try VerificationRules(node: verify)
        }
        if let spool = root["spool"] {
            if spool.node.scalar != nil {
                // `spool: /path/spool.db` is short for `spool: { path: … }`; `spool: off` disables it.
                let text = try spool.string()
                if !["off", "false", "no", "none"].contains(text.lowercased()) {
                    let mapping = ConfigNode.built(["path": text], path: spool.path, file: file, environment: environment)
                    configuration.spool = try SpoolConfiguration(node: mapping, baseDirectory: baseDirectory)
                }
            } else {
                configuration.spool = try SpoolConfiguration(node: spool, baseDirectory: baseDirectory)
            }
        }
        if let node = root["dedup"] {
            guard configuration.spool == nil else {
                throw node.error("with a spool, the spool recognises replays itself (spool.dedup_window); remove `dedup:`")
            }
            configuration.dedup = try DedupConfiguration(node: node, baseDirectory: baseDirectory)
        } else {
            configuration.dedup = configuration.spool == nil ? DedupConfiguration(baseDirectory: baseDirectory) : nil
        }
        if let console = root["console"] {
            guard configuration.spool != nil else {
                throw console.error("the console shows the spool's events and keeps its sessions there; add `spool: data/spool.db`")
            }
            let parsed = try ConsoleConfiguration(node: console)
            for (key, other) in [("status_path", configuration.statusPath), ("ping_path", configuration.pingPath)] {
                if let other, parsed.serves(other) {
                    throw console.error("console.path '\(parsed.path)' contains \(key) '\(other)'; give the console a path of its own")
                }
            }
            configuration.console = parsed
        }
        if let handlers = root["handlers"] {
            configuration.handlers = []
            var names: Set<String> = []
            let elements = try handlers.elements()
            guard !elements.isEmpty else {
                throw handlers.error("an empty list would acknowledge every event and drop it; name at least one handler, or leave `handlers:` out for the SQLite database data/contacts.db")
            }
            for element in elements {
                try element.requireMapping(allowed: element.keys)  // each handler checks its own keys
                guard let type = try element["type"]?.string() else {
                    throw element.error("every handler needs a 'type' (see `contact-listener handlers`)")
                }
                let name = try element["name"]?.string() ?? type
                guard names.insert(name).inserted else {
                    throw element.error("two handlers are named '\(name)'; give one a 'name:'")
                }
                if let rate = element["rate"] {
                    guard configuration.spool != nil else {
                        throw rate.error("a rate needs the spool, where events wait their turn (add `spool: data/spool.db`); without one each request would wait for its handler")
                    }
                    configuration.rates[name] = try DeliveryRate(node: rate)
                }
                configuration.handlers.append(
                    HandlerConfiguration(type: type, name: name, options: element, baseDirectory: baseDirectory))
            }
        }
        return configuration
    }

    /// Yams' error as a line number and a one-line reason (its own text spans several
    /// lines with a source excerpt, which doesn't fit the `FILE:LINE: REASON` form).
    static func describe(_ error: YamlError, text: String) -> (line: Int?, reason: String) {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let detail = context.map { " (\($0.text))" } ?? ""
            return (mark.line, "\(problem)\(detail) at column \(mark.column)")
        case let .duplicatedKeysInMapping(duplicates, context):
            // Yams marks the mapping; the line worth showing is the key's second appearance.
            let key = duplicates.sorted().first ?? ""
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let hits = lines.indices.filter { index in
                let trimmed = lines[index].trimmingCharacters(in: " \t-")
                return trimmed.hasPrefix("\(key):") || trimmed.hasPrefix("\"\(key)\":") || trimmed.hasPrefix("'\(key)':")
            }
            let line = hits.count >= 2 ? hits[1] + 1 : context.mark.line
            return (line, "duplicate key \(duplicates.sorted().map { "'\($0)'" }.joined(separator: ", "))")
        case let .reader(problem, _, _, _):
            return (nil, problem)
        default:
            let text = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            return (nil, text)
        }
    }

    private static func parseLimits(_ node: ConfigNode) throws(ConfigurationError) -> FormLimits {
        try node.requireMapping(allowed: ["max_body_bytes", "max_vars", "max_depth", "max_key_bytes", "max_value_bytes", "max_parts", "max_header_bytes"])
        var limits = FormLimits.default
        func positive(_ key: String) throws(ConfigurationError) -> Int? {
            guard let child = node[key] else { return nil }
            let value = try child.int()
            if value < 1 { throw child.error("must be at least 1") }
            return value
        }
        limits.maxBodyBytes = try positive("max_body_bytes") ?? limits.maxBodyBytes
        limits.maxVars = try positive("max_vars") ?? limits.maxVars
        if let depth = try positive("max_depth") {
            // Readers, writers and freeing a tree recurse once per level; beyond this the
            // worker threads' stacks are at risk.
            if depth > FormLimits.depthCeiling, let node = node["max_depth"] {
                throw node.error("at most \(FormLimits.depthCeiling) (json_decode's default depth); PHP's own default is 64")
            }
            limits.maxDepth = depth
        }
        limits.maxKeyBytes = try positive("max_key_bytes") ?? limits.maxKeyBytes
        limits.maxValueBytes = try positive("max_value_bytes") ?? limits.maxValueBytes
        limits.maxParts = try positive("max_parts") ?? limits.maxParts
        limits.maxHeaderBytes = try positive("max_header_bytes") ?? limits.maxHeaderBytes
        return limits
    }
}
