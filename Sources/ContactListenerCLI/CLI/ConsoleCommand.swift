import ContactListenerRuntime
import ListenerSupport
import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

extension ContactListener {
    /// `contact-listener console …`: the operator's web console.
    package struct ConsoleCommand: ParsableCommand {
        /// Help for `console`.
        package static let configuration = CommandConfiguration(
            commandName: "console",
            abstract: "The operator's web console: events, deliveries, dead letters (see `console passwd`).",
            discussion: """
                The listener serves the console itself under console.path, through the same \
                nginx or Apache location as the listener (FastCGI or CGI). It needs the spool and \
                at least one user:

                  spool: /var/lib/contact-listener/spool.db
                  console:
                    path: /contact-listener/console
                    users:
                      admin: "$argon2id$…"      # from: contact-listener console passwd admin
                    allow_from: [192.0.2.0/24]  # optional

                Then open https://your-site/contact-listener/console and log in.
                """,
            subcommands: [Passwd.self])

        /// Creates the command (ArgumentParser needs it).
        package init() {}

        /// `console passwd NAME`: hash a password for `console.users`.
        struct Passwd: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print the console.users line for a user: an argon2id hash of the password you type.",
                discussion: """
                    Asks for the password twice on a terminal (nothing is echoed), or reads one \
                    line from standard input otherwise. Paste the printed line under \
                    console.users in the configuration and reload the listener \
                    (`systemctl reload contact-listener`, or SIGHUP). The password itself is \
                    never stored or printed.

                    Example:
                      contact-listener console passwd admin
                    """)

            @Argument(help: ArgumentHelp("The user name (1 to 64 visible ASCII characters).", valueName: "name"))
            var name: String

            /// Passwords shorter than this are refused: the hash slows guessing down, it
            /// can't make a short password long.
            static let minimumLength = 10

            func validate() throws {
                guard !name.isEmpty, name.utf8.count <= 64, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "\"") }) else {
                    throw ValidationError("a user name is 1 to 64 visible ASCII characters, without ':' or '\"'")
                }
            }

            func run() throws {
                let password: String
                if isatty(0) == 1 {
                    guard let first = Self.readHidden(prompt: "Password for \(name): "),
                          let second = Self.readHidden(prompt: "Again: ") else { throw ExitCode(1) }
                    guard first == second else {
                        Runtime.complain("the two passwords differ; nothing was printed")
                        throw ExitCode(1)
                    }
                    password = first
                } else {
                    guard let line = readLine(strippingNewline: true) else {
                        Runtime.complain("no password on standard input")
                        throw ExitCode(1)
                    }
                    password = line
                }
                guard password.count >= Self.minimumLength else {
                    Runtime.complain("use at least \(Self.minimumLength) characters; nothing was printed")
                    throw ExitCode(1)
                }
                let hash: String
                do {
                    hash = try PasswordHash.make(password)
                } catch {
                    Runtime.complain("\(error)")
                    throw ExitCode(1)
                }
                print("\(name): \"\(hash)\"")
                if isatty(1) == 1 {
                    Runtime.complain("paste the line above under console.users in the configuration, then reload the listener")
                }
            }

            /// One line from the terminal with echo off; nil at end of input.
            static func readHidden(prompt: String) -> String? {
                Runtime.write(prompt, to: 2)
                var saved = termios()
                let hasTerminal = tcgetattr(0, &saved) == 0
                if hasTerminal {
                    var quiet = saved
                    quiet.c_lflag &= ~tcflag_t(ECHO)
                    tcsetattr(0, TCSAFLUSH, &quiet)
                }
                defer {
                    if hasTerminal {
                        tcsetattr(0, TCSAFLUSH, &saved)
                        Runtime.write("\n", to: 2)
                    }
                }
                return readLine(strippingNewline: true)
            }
        }
    }
}
