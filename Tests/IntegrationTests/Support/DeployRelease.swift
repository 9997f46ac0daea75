import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The static release (`make release`, i.e. scripts/release.sh) that the shared-hosting
/// test uploads. CI runs `make test` only, so the test suite builds it itself, ONCE per run
/// (every test that needs it awaits the same build), in the scratch folder release.sh uses
/// (`.build-release`, or $SCRATCH): a first build takes many minutes on 2 cores, a
/// repeated one only re-links what changed. $CONTACT_LISTENER_RELEASE_TARBALL names an
/// existing dist/…tar.gz instead (nothing is built then).
///
/// If the static link fails, the linker's complaint is kept in `staticFailure`, and the
/// plain release build (same sources, `-c release`, dynamic) is used instead, which the
/// test says in its output.
enum DeployRelease {
    struct Build: Sendable {
        /// The tarball release.sh produced (nil in the fallback).
        var tarball: String?
        /// The binary to upload: inside the unpacked tarball, or the fallback build.
        var binary: String?
        /// Why the static build failed (the linker's error lines), nil when it worked.
        var staticFailure: String?
        /// What release.sh (and the fallback) printed, for failure messages.
        var log: String
        /// How long the build took.
        var seconds: Double
    }

    /// Builds once; later callers get the same result.
    static func build() async throws -> Build {
        try await shared.value
    }

    private static let shared = Task<Build, Error>.detached {
        try await offload { try runBuild() }
    }

    /// The environment for builds: the runner's PATH and HOME (swift lives in /opt/swift
    /// and keeps its caches under HOME), nothing else.
    private static var buildEnvironment: [String: String] {
        let environment = ProcessInfo.processInfo.environment
        var result = childEnvironment()
        if let path = environment["PATH"] { result["PATH"] = path + ":" + (result["PATH"] ?? "") }
        result["HOME"] = environment["HOME"] ?? "/root"
        if let scratch = environment["SCRATCH"] { result["SCRATCH"] = scratch }
        return result
    }

    private static func runBuild() throws -> Build {
        let started = Date()
        if let given = ProcessInfo.processInfo.environment["CONTACT_LISTENER_RELEASE_TARBALL"], !given.isEmpty {
            guard FileManager.default.fileExists(atPath: given) else {
                throw TestFailure("CONTACT_LISTENER_RELEASE_TARBALL=\(given) does not exist")
            }
            return Build(tarball: given, binary: nil, staticFailure: nil, log: "(given by CONTACT_LISTENER_RELEASE_TARBALL)", seconds: 0)
        }
        let repository = DeployRecipe.repository
        let logFolder = "\(repository)/.build-release-logs"
        try FileManager.default.createDirectory(atPath: logFolder, withIntermediateDirectories: true)
        let bash = try tool("bash", package: "bash")
        let release = try ChildProcess(
            name: "scripts/release.sh", executable: bash, arguments: ["scripts/release.sh"],
            environment: buildEnvironment, directory: repository,
            stdoutPath: "\(logFolder)/release.out", stderrPath: "\(logFolder)/release.err")
        guard let exit = release.waitForExit(timeout: 60 * 60) else {
            release.stop(signal: SIGTERM)
            throw TestFailure("scripts/release.sh did not finish within an hour\n\(release.diagnostics())")
        }
        let log = release.stdout + "\n" + release.stderr
        if exit == .exited(0) {
            guard let tarball = release.stdout.split(separator: "\n").last(where: { $0.hasPrefix("dist/") && $0.hasSuffix(".tar.gz") }) else {
                throw TestFailure("scripts/release.sh printed no dist/….tar.gz line:\n\(log.suffix(3000))")
            }
            return Build(tarball: "\(repository)/\(tarball)", binary: nil, staticFailure: nil, log: log,
                         seconds: Date().timeIntervalSince(started))
        }
        // The static link failed (or something else did): keep the linker's words, then
        // take the plain release binary release.sh links from (built already unless the
        // compile itself failed) so the test can still run the recipe.
        let errorLines = log.split(separator: "\n").filter {
            $0.contains("error") || $0.contains("undefined reference") || $0.contains("ld.") || $0.contains("cannot find")
        }.prefix(40).joined(separator: "\n")
        let failure = "scripts/release.sh \(exit):\n" + (errorLines.isEmpty ? String(log.suffix(3000)) : errorLines)
        let swift = try tool("swift", package: "(the Swift toolchain)")
        let scratch = ProcessInfo.processInfo.environment["SCRATCH"] ?? ".build-release"
        let fallback = try ChildProcess(
            name: "swift build -c release", executable: swift,
            arguments: ["build", "-c", "release", "--product", "contact-listener", "--scratch-path", scratch],
            environment: buildEnvironment, directory: repository,
            stdoutPath: "\(logFolder)/fallback.out", stderrPath: "\(logFolder)/fallback.err")
        guard fallback.waitForExit(timeout: 60 * 60) == .exited(0) else {
            throw TestFailure("the static build failed AND the release build failed\n\(failure)\n\(fallback.diagnostics())")
        }
        return Build(tarball: nil, binary: "\(repository)/\(scratch)/release/contact-listener", staticFailure: failure,
                     log: log + "\n" + fallback.stdout, seconds: Date().timeIntervalSince(started))
    }

    /// Unpacks the release into `directory/unpacked` (checking its .sha256 first) and
    /// returns the folder `contact-listener-VERSION-linux-x86_64`.
    static func unpack(_ tarball: String, into directory: TestDirectory) throws -> String {
        let target = try directory.folder("unpacked")
        let name = URL(fileURLWithPath: tarball).lastPathComponent
        if FileManager.default.fileExists(atPath: "\(tarball).sha256") {
            let expected = readText("\(tarball).sha256").split(separator: " ").first.map(String.init) ?? "(empty)"
            let sum = try runCommand([tarball], in: directory, executable: try tool("sha256sum", package: "coreutils"), timeout: 60)
            let actual = sum.stdout.split(separator: " ").first.map(String.init) ?? "(none)"
            guard sum.exit == .exited(0), actual == expected else {
                throw TestFailure("\(name): sha256 \(actual) but \(name).sha256 says \(expected)")
            }
        }
        let tar = try runCommand(["-xzf", tarball, "-C", target], in: directory, executable: try tool("tar", package: "tar"), timeout: 120)
        guard tar.exit == .exited(0) else { throw TestFailure("tar -xzf \(tarball) failed: \(tar)") }
        let folder = "\(target)/\(name.replacingOccurrences(of: ".tar.gz", with: ""))"
        guard FileManager.default.isExecutableFile(atPath: "\(folder)/contact-listener") else {
            throw TestFailure("the release has no executable \(folder)/contact-listener: \(try FileManager.default.contentsOfDirectory(atPath: target))")
        }
        return folder
    }
}
