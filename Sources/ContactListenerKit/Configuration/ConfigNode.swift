@preconcurrency package import Yams

// `@unchecked`: Yams.Node is an immutable value tree that Yams doesn't annotate Sendable.
/// A position in a parsed configuration file: typed accessors that report the file,
/// line and key path of a bad value, and expand `${VAR}` from the environment.
public struct ConfigNode: @unchecked Sendable {
    /// The YAML node (JSON is YAML too).
    package let node: Node
    /// The dotted key path of this node (`handlers[0]`).
    public let path: String
    /// The file it came from.
    public let file: String
    /// The environment used for `${VAR}` expansion.
    let environment: [String: String]

    /// Wraps `node`, found at `path` in `file`.
    package init(node: Node, path: String, file: String, environment: [String: String]) {
        self.node = node
        self.path = path
        self.file = file
        self.environment = environment
    }

    /// A node built by the program (defaults, shorthands): a mapping of plain strings.
    ///
    /// Built with Yams' basic resolver and `treeConstructor()`: `Node`'s string literals use
    /// `Resolver.default`, whose first use compiles ICU regular expressions, and
    /// `Constructor.default`; either would dominate a CGI request.
    package static func built(_ pairs: KeyValuePairs<String, String>, path: String, file: String, environment: [String: String]) -> ConfigNode {
        let constructor = treeConstructor()
        let tag = { Tag(.implicit, .basic, constructor) }
        let mapping = Node.Mapping(pairs.map { (Node.scalar(.init($0.key, tag())), Node.scalar(.init($0.value, tag()))) }, tag(), .block)
        return ConfigNode(node: .mapping(mapping), path: path, file: file, environment: environment)
    }

    /// A Yams constructor without tag handlers: a `Node` tree needs none, and
    /// `Constructor.default` builds three tables of them on every use.
    package static func treeConstructor() -> Constructor { Constructor([:], [:], [:]) }

    /// An error about this node.
    public func error(_ reason: String) -> ConfigurationError {
        ConfigurationError(file: file, line: node.mark.map { $0.line }, key: path, reason: reason)
    }

    private func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The keys of a mapping, in file order.
    ///
    /// By index, not through `Mapping.keys`: that lazy view's generic metadata is built at
    /// run time on first use, a protocol-conformance scan of the whole binary per process.
    public var keys: [String] {
        guard let mapping = node.mapping else { return [] }
        var keys: [String] = []
        keys.reserveCapacity(mapping.count)
        var index = mapping.startIndex
        while index < mapping.endIndex {
            if let key = mapping[index].key.string { keys.append(key) }
            index = mapping.index(after: index)
        }
        return keys
    }

    /// Fails unless this node is a mapping whose keys are all in `allowed`.
    public func requireMapping(allowed: [String]) throws(ConfigurationError) {
        guard node.mapping != nil else { throw error("expected a mapping of keys to values") }
        for key in keys where !allowed.contains(key) {
            throw ConfigurationError(
                file: file, line: self[key]?.node.mark.map { $0.line }, key: childPath(key),
                reason: "unknown key; known keys here are: \(allowed.joined(separator: ", "))")
        }
    }

    /// The child under `key`, or nil when absent (or null).
    public subscript(key: String) -> ConfigNode? {
        guard let mapping = node.mapping, let child = mapping[key] else { return nil }
        if case .scalar(let scalar) = child, scalar.style == .plain, scalar.string == "null" || scalar.string == "~" || scalar.string.isEmpty {
            return nil
        }
        return ConfigNode(node: child, path: childPath(key), file: file, environment: environment)
    }

    /// The elements of a sequence.
    public func elements() throws(ConfigurationError) -> [ConfigNode] {
        guard let sequence = node.sequence else { throw error("expected a list") }
        // By index, like `keys`: `enumerated()` instantiates its generic wrapper at run time.
        var elements: [ConfigNode] = []
        elements.reserveCapacity(sequence.count)
        var index = sequence.startIndex
        while index < sequence.endIndex {
            elements.append(ConfigNode(node: sequence[index], path: "\(path)[\(elements.count)]", file: file, environment: environment))
            index = sequence.index(after: index)
        }
        return elements
    }

    /// This scalar as a string, with `${VAR}` and `${VAR:-default}` expanded.
    public func string() throws(ConfigurationError) -> String {
        guard let scalar = node.scalar else { throw error("expected a single value, not a list or mapping") }
        return try expand(scalar.string)
    }

    /// This scalar as an integer; accepts `8388608`, `8M`, `64k`, `1G` for sizes.
    public func int() throws(ConfigurationError) -> Int {
        let text = try string()
        let multipliers: [Character: Int] = ["k": 1024, "K": 1024, "m": 1 << 20, "M": 1 << 20, "g": 1 << 30, "G": 1 << 30]
        var digits = Substring(text)
        var multiplier = 1
        if let last = digits.last, let factor = multipliers[last] {
            multiplier = factor
            digits = digits.dropLast()
        }
        guard let value = Int(digits), value >= 0 else {
            throw error("expected a non-negative whole number (like 8388608 or 8M), got '\(text)'")
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        if overflow { throw error("number '\(text)' is too large") }
        return product
    }

    /// This scalar as a boolean (`true`/`false`, `yes`/`no`, `on`/`off`).
    public func bool() throws(ConfigurationError) -> Bool {
        switch try string().lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        case let other: throw error("expected true or false, got '\(other)'")
        }
    }

    /// One value or a list of them (`token: x` or `token: [x, y]`), as a list of nodes.
    package func items() throws(ConfigurationError) -> [ConfigNode] {
        node.sequence != nil ? try elements() : [self]
    }

    /// One string or a list of strings, as a list.
    public func stringList() throws(ConfigurationError) -> [String] {
        var result: [String] = []
        for item in try items() { result.append(try item.string()) }
        return result
    }

    /// Expands `${VAR}` and `${VAR:-default}`; an unset variable without default is an error.
    func expand(_ text: String) throws(ConfigurationError) -> String {
        guard text.contains("${") else { return text }
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw error("unterminated '${' in '\(text)'")
            }
            let expression = rest[start.upperBound..<end]
            let parts = expression.split(separator: ":-", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            if let value = environment[name] {
                result += value
            } else if parts.count == 2 {
                result += parts[1]
            } else {
                throw error("environment variable \(name) is not set; set it for the listener, or write the value in place of ${\(name)} (${\(name):-default} gives a fallback)")
            }
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}

extension Substring {
    /// The first range of `needle` (no Foundation needed).
    func range(of needle: String) -> Range<Index>? {
        var index = startIndex
        while index < endIndex {
            if self[index...].hasPrefix(needle) {
                return index..<self.index(index, offsetBy: needle.count)
            }
            index = self.index(after: index)
        }
        return nil
    }
}
