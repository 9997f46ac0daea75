/// Size, count and depth limits applied while decoding, so hostile input is refused
/// whole (never truncated the way PHP does with a mere warning).
package struct FormLimits: Sendable, Equatable {
    /// Largest request body accepted, in bytes (PHP's `post_max_size` is 8M).
    package var maxBodyBytes: Int
    /// Most variables (`name=value` pairs, multipart parts, JSON leaves) in one request.
    package var maxVars: Int
    /// Deepest nesting of `[…]` levels or JSON containers (PHP's `max_input_nesting_level`).
    /// Never above `depthCeiling`: a larger value is lowered to it.
    package var maxDepth: Int {
        didSet { if maxDepth > Self.depthCeiling { maxDepth = Self.depthCeiling } }
    }
    /// Longest variable name, in bytes after URL-decoding.
    package var maxKeyBytes: Int
    /// Longest single value, in bytes after URL-decoding.
    package var maxValueBytes: Int
    /// Most parts in a multipart body, file parts included (PHP's
    /// `max_multipart_body_parts` defaults to max_input_vars + max_file_uploads).
    package var maxParts: Int = 10_020
    /// Largest total of the request's parameters and headers (FastCGI params or the CGI
    /// environment), names and values together. libfcgi reads params without a cap, so
    /// this is checked as soon as they are in (431 when exceeded).
    package var maxHeaderBytes: Int = 64 * 1024

    /// The deepest `maxDepth` allowed: 512, json_decode's default depth.
    ///
    /// Decoding is iterative for form bodies, but the JSON reader, the JSON writers and the
    /// release of a tree recurse once per level. A release build exhausts a 1 MiB worker
    /// stack somewhere between 1,600 and 6,400 levels (a debug build's JSON reader already
    /// near 300), so an unbounded `max_depth` from the configuration would let one hostile
    /// request crash the listener. 512 keeps a wide margin in release builds.
    package static let depthCeiling = 512

    /// The defaults: as safe as PHP's, and roomy enough for real contacts.
    package static let `default` = FormLimits(
        maxBodyBytes: 8 * 1024 * 1024, maxVars: 10_000, maxDepth: 64,
        maxKeyBytes: 4096, maxValueBytes: 8 * 1024 * 1024)

    /// Creates a set of limits.
    package init(maxBodyBytes: Int, maxVars: Int, maxDepth: Int, maxKeyBytes: Int, maxValueBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
        self.maxVars = maxVars
        self.maxDepth = min(maxDepth, Self.depthCeiling)
        self.maxKeyBytes = maxKeyBytes
        self.maxValueBytes = maxValueBytes
    }
}
