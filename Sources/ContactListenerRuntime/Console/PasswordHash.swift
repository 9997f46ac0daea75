import CSodium

/// The console users' password hashes: argon2id in libsodium's encoded form
/// (`$argon2id$v=19$m=65536,t=2,p=1$salt$hash`), made by `contact-listener console passwd`.
/// The one file that calls libsodium (docs/console.md, "Passwords").
///
/// Interactive limits (2 passes over 64 MiB) make one guess cost about 0.1 s and 64 MiB
/// of memory: slow for an attacker with the hash, quick enough for a login. The login form
/// is rate-limited besides (`ConsoleSessions`), so the work is never spent on a flood.
package enum PasswordHash {
    /// Why a hash could not be made.
    package struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        package let description: String
    }

    /// libsodium's one-time setup (thread-safe, idempotent); false if it failed.
    private static let ready: Bool = sodium_init() >= 0

    /// The encoded argon2id hash of `password`, with a fresh random salt.
    package static func make(_ password: String) throws(Failure) -> String {
        guard ready else { throw Failure(description: "libsodium could not be initialized") }
        var encoded = [CChar](repeating: 0, count: Int(crypto_pwhash_STRBYTES))
        // The C string's buffer is never empty (it ends in NUL), and its length is passed
        // apart, so a password with a NUL inside is hashed whole.
        let bytes = password.utf8CString
        let status = bytes.withUnsafeBufferPointer { password -> Int32 in
            guard let base = password.baseAddress else { return -1 }
            return crypto_pwhash_str_alg(
                &encoded, base, UInt64(password.count - 1),
                UInt64(crypto_pwhash_opslimit_interactive()), crypto_pwhash_memlimit_interactive(),
                crypto_pwhash_ALG_ARGON2ID13)
        }
        guard status == 0 else { throw Failure(description: "argon2id failed (out of memory?)") }
        return String(decoding: encoded.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True when `password` matches `hash`; false for any other password and for a hash
    /// libsodium cannot read.
    static func verify(_ password: String, against hash: String) -> Bool {
        guard ready, isWellFormed(hash) else { return false }
        var encoded = Array(hash.utf8CString)
        let bytes = password.utf8CString
        return bytes.withUnsafeBufferPointer { password in
            guard let base = password.baseAddress else { return false }
            return crypto_pwhash_str_verify(&encoded, base, UInt64(password.count - 1)) == 0
        }
    }

    /// True for what `make` writes: argon2id, shorter than libsodium's buffer. Anything
    /// else in `console.users` is a configuration error, so a plain-text password never
    /// works as one.
    static func isWellFormed(_ hash: String) -> Bool {
        hash.hasPrefix("$argon2id$v=19$") && hash.utf8.count < Int(crypto_pwhash_STRBYTES)
            && !hash.utf8.contains { $0 < 0x21 || $0 > 0x7e }
    }

    /// A hash (of 24 random bytes nobody kept) verified against when the user name is
    /// unknown, so that an unknown name costs the same time as a wrong password: no user
    /// enumeration. A constant, with `make`'s parameters: made on first use it would cost an
    /// unknown name an extra argon2id run in every CGI process. Knowing its password would
    /// not help: a login needs a configured user as well.
    static let decoy = "$argon2id$v=19$m=65536,t=2,p=1$kxEp4R9mUtUzybQ2/G6ciA$3+vg4/7qlOlxQFzUqN0T4vihzY5HmzQVcpvmRTOdRRc"
}
