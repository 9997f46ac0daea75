/// The exit statuses the command line uses, from sysexits.h, so a service manager or a
/// script can tell a bad configuration from a failure of the system.
enum ExitStatus {
    /// `EX_USAGE` (64): the command was used wrongly (no socket to listen on).
    static let usage: Int32 = 64
    /// `EX_OSERR` (71): the system refused (a socket that can't be opened, a thread that
    /// can't start).
    static let systemError: Int32 = 71
    /// `EX_CONFIG` (78): the configuration is wrong; its error names file, line and key.
    static let configuration: Int32 = 78
}
