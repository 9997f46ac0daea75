import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private nginx instance in front of a listener: `nginx -p DIR -c DIR/nginx.conf
/// -g 'daemon off;'` with its own pid file, logs, temp folders and loopback port. The
/// system's nginx (its config, its pid file, its service) is never touched.
final class Nginx: Sendable {
    let process: ChildProcess
    /// The HTTP port on 127.0.0.1.
    let port: Int
    /// nginx's folder inside the test directory.
    let prefix: String

    private init(process: ChildProcess, port: Int, prefix: String) {
        self.process = process
        self.port = port
        self.prefix = prefix
    }

    /// Starts nginx passing `/hook` to `upstream` (`unix:/path` or `127.0.0.1:PORT`), and
    /// waits until it answers on its port (retrying with another port if that one got taken).
    /// With `keepalive`, nginx keeps up to that many idle connections to the listener
    /// (`upstream { keepalive N; }` + `fastcgi_keep_conn on`). With `ipv6`, it also listens
    /// on `[::1]` (IPv6 clients). Request headers reach the listener as `HTTP_*` params
    /// (nginx's default), so a client's `X-Forwarded-For` arrives unchanged.
    static func start(
        in directory: TestDirectory, upstream: ListenerEndpoint, clientMaxBodySize: String = "1m", keepalive: Int? = nil,
        ipv6: Bool = false
    ) async throws -> Nginx {
        let binary = try tool("nginx", package: "nginx-light")
        let prefix = try directory.folder("nginx")
        try directory.folder("nginx/logs")
        try directory.folder("nginx/tmp")
        var lastError: Error = TestFailure("no attempt")
        for attempt in 1...5 {
            let port = try Network.freePort()
            let conf = try directory.write("nginx/nginx.conf", configuration(prefix: prefix, port: port, upstream: upstream, clientMaxBodySize: clientMaxBodySize, keepalive: keepalive, ipv6: ipv6))
            let process = try ChildProcess(
                name: "nginx", executable: binary,
                arguments: ["-p", prefix + "/", "-c", conf, "-e", "\(prefix)/logs/error.log", "-g", "daemon off;"],
                environment: childEnvironment(), directory: prefix,
                stdoutPath: "\(prefix)/logs/stdout.\(attempt).log", stderrPath: "\(prefix)/logs/stderr.\(attempt).log")
            let nginx = Nginx(process: process, port: port, prefix: prefix)
            let ready = try await offload {
                poll(timeout: 30) { !process.isRunning || Network.isListening(port: port, processTree: process.pid) }
            }
            if ready && process.isRunning { return nginx }
            process.stop(signal: SIGKILL)
            lastError = TestFailure("nginx did not start on 127.0.0.1:\(port)\n\(nginx.diagnostics())")
            if !nginx.errorLog.contains("in use") { throw lastError }
        }
        throw lastError
    }

    /// nginx.conf: one worker, `user nobody nogroup` when run as root, every path inside
    /// `prefix`, the standard FastCGI params written out (no dependency on /etc/nginx).
    static func configuration(prefix: String, port: Int, upstream: ListenerEndpoint, clientMaxBodySize: String, keepalive: Int?, ipv6: Bool = false) -> String {
        let pass: String
        if keepalive != nil {
            pass = "fastcgi_keep_conn on; fastcgi_pass listener;"
        } else {
            pass = "fastcgi_pass \(upstream.nginxUpstream);"
        }
        let params = """
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param SCRIPT_NAME $fastcgi_script_name;
            fastcgi_param REQUEST_URI $request_uri;
            fastcgi_param DOCUMENT_URI $document_uri;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param REQUEST_SCHEME $scheme;
            fastcgi_param GATEWAY_INTERFACE CGI/1.1;
            fastcgi_param SERVER_SOFTWARE nginx/$nginx_version;
            fastcgi_param REMOTE_ADDR $remote_addr;
            fastcgi_param REMOTE_PORT $remote_port;
            fastcgi_param SERVER_ADDR $server_addr;
            fastcgi_param SERVER_PORT $server_port;
            fastcgi_param SERVER_NAME $server_name;
            """.replacingOccurrences(of: "\n", with: "\n                    ")
        let upstreamBlock = keepalive.map { "upstream listener { server \(upstream.nginxUpstream); keepalive \($0); }" } ?? ""
        return """
        \(Network.isRoot ? "user nobody nogroup;" : "# not root: workers keep our user")
        worker_processes 1;
        pid \(prefix)/nginx.pid;
        error_log \(prefix)/logs/error.log info;
        events { worker_connections 1024; }
        http {
            access_log \(prefix)/logs/access.log;
            client_body_temp_path \(prefix)/tmp/body;
            fastcgi_temp_path \(prefix)/tmp/fastcgi;
            proxy_temp_path \(prefix)/tmp/proxy;
            scgi_temp_path \(prefix)/tmp/scgi;
            uwsgi_temp_path \(prefix)/tmp/uwsgi;
            \(upstreamBlock)
            server {
                listen 127.0.0.1:\(port);
                \(ipv6 ? "listen [::1]:\(port);" : "")
                server_name localhost;
                client_max_body_size \(clientMaxBodySize);
                location = /hook {
                    \(params)
                    \(pass)
                }
                # The operator's console (tests that configure `console.path: /console`).
                location ^~ /console {
                    \(params)
                    \(pass)
                }
            }
        }

        """
    }

    /// nginx's error log (where "connect() failed" and the like show up).
    var errorLog: String { readText("\(prefix)/logs/error.log") }

    /// The command and both logs' ends, for failure messages.
    func diagnostics() -> String {
        let tail = errorLog.split(separator: "\n").suffix(15).joined(separator: "\n")
        return "\(process.diagnostics())\n--- error.log (end) ---\n\(tail)"
    }

    /// Fast shutdown (SIGTERM to the master, by PID), SIGKILL after a timeout.
    func stop() {
        process.stop(signal: SIGTERM, timeout: 10)
    }
}
