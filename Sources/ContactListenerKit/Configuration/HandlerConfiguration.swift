import ListenerSupport

/// One configured handler: its type, unique name and raw options, checked by its factory.
public struct HandlerConfiguration: Sendable {
    /// The handler type (`jsonl`, …).
    public var type: String
    /// A unique name (defaults to the type), used in logs and the spool.
    public var name: String
    /// The handler's mapping from the config file.
    public var options: ConfigNode
    /// The directory relative paths resolve against (the config file's).
    public var baseDirectory: String
    /// True for `check-config`: check options and that paths could be created, but create,
    /// open and connect nothing (a check run as root must not leave root-owned files behind).
    public var dryRun = false

    /// A handler of `type` called `name`, configured by `options`; relative paths resolve
    /// against `baseDirectory`.
    package init(type: String, name: String, options: ConfigNode, baseDirectory: String) {
        self.type = type
        self.name = name
        self.options = options
        self.baseDirectory = baseDirectory
    }

    /// In a dry run, fails unless `path` (a file) could be created or opened for writing;
    /// returns true when the caller should stop there.
    public func checkWritable(path: String, at node: ConfigNode) throws(ConfigurationError) -> Bool {
        guard dryRun else { return false }
        if FileSystem.exists(path) {
            if !FileSystem.isWritable(path) { throw node.error("\(path) is not writable by this user") }
            return true
        }
        var ancestor = FileSystem.directory(of: path)
        while !FileSystem.exists(ancestor) { ancestor = FileSystem.directory(of: ancestor) }
        if !FileSystem.isDirectory(ancestor) {
            throw node.error("can't create \(path): \(ancestor) is not a folder")
        }
        if !FileSystem.isWritable(ancestor) {
            throw node.error("can't create \(path): \(ancestor) is not writable by this user")
        }
        return true
    }

    /// Resolves a possibly relative path against `baseDirectory`.
    public func resolve(path: String) -> String {
        FileSystem.resolve(path, against: baseDirectory)
    }
}
