#!/usr/bin/env bash
# `make run`: build in release mode and start the listener behind a private nginx on
# 127.0.0.1:8080 (override with PORT=...), storing events under ./data/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
port=${PORT:-8080}
data=$root/data
run=$data/run
mkdir -p "$data" "$run" "$data/nginx"

bash scripts/install-deps.sh libfcgi-dev libmariadb-dev libsqlite3-dev libsodium-dev pkg-config nginx-light curl sqlite3
echo "building (release)…"
swift build -c release --product contact-listener 2>&1 | tail -1
bin=$(swift build -c release --show-bin-path)/contact-listener

bash scripts/stop.sh quiet

# The default configuration for a first run: the embedded SQLite database behind the
# durable spool, both under ./data/.
config=$data/contact-listener.yaml
if [ ! -f "$config" ]; then
  cat > "$config" <<YAML
# contact-listener configuration written by \`make run\`; edit and run \`make run\` again.
listen: "unix:$run/listener.sock"
threads: 4
status_path: /contact-listener/status
ping_path: /contact-listener/ping
spool: spool.db             # relative to this file: $data/spool.db
handlers:
  - type: sqlite
    path: contacts.db       # $data/contacts.db
YAML
fi
"$bin" check-config --config "$config" >/dev/null

# nginx's workers must reach the socket: as root they run as root here (a local trial);
# deploy/nginx/ shows the production setup with www-data and socket_group.
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root root;"
cat > "$data/nginx/nginx.conf" <<NGINX
$user_line
worker_processes 1;
pid $run/nginx.pid;
error_log $data/nginx/error.log;
events { worker_connections 256; }
http {
  access_log $data/nginx/access.log;
  client_body_temp_path $data/nginx/body;
  fastcgi_temp_path $data/nginx/fastcgi;
  proxy_temp_path $data/nginx/proxy;
  uwsgi_temp_path $data/nginx/uwsgi;
  scgi_temp_path $data/nginx/scgi;
  server {
    listen 127.0.0.1:$port;
    include $root/deploy/nginx/contact-listener.conf;
  }
}
NGINX
cp /etc/nginx/fastcgi_params "$data/nginx/fastcgi_params"
sed "s#unix:/run/contact-listener/listener.sock#unix:$run/listener.sock#" deploy/nginx/contact-listener.conf > "$data/nginx/contact-listener.conf"
sed -i "s#include $root/deploy/nginx/contact-listener.conf#include $data/nginx/contact-listener.conf#" "$data/nginx/nginx.conf"

nohup "$bin" serve --config "$config" >>"$data/listener.log" 2>&1 &
echo $! > "$run/listener.pid"
for _ in $(seq 50); do [ -S "$run/listener.sock" ] && break; sleep 0.1; done
[ -S "$run/listener.sock" ] || { echo "the listener did not start; see $data/listener.log" >&2; tail -5 "$data/listener.log" >&2; exit 1; }
nginx -p "$data/nginx" -c "$data/nginx/nginx.conf" -e "$data/nginx/error.log"

url="http://127.0.0.1:$port/contact-listener"
cat <<TEXT

contact-listener is running behind nginx.
  listener: pid $(cat "$run/listener.pid"), socket $run/listener.sock, log $data/listener.log
  nginx:    $url (config $data/nginx/nginx.conf)
  contacts: $data/contacts.db (SQLite), spool $data/spool.db
  status:   $url/status?html

Try it:
  curl -s -d 'transactionid=t-1&contact[email]=ann%40example.com&fields[0][name]=First%20Name&fields[0][value]=Ann' $url
  $bin send-test $url
  sqlite3 $data/contacts.db 'SELECT email, phone, first_seen_at, last_seen_at FROM contacts'

Next:
  - This config has no verify: rule, so only this machine may send (others get 403).
    For your real site, $bin init --nginx DIR --host YOUR-SERVER
    writes a config with a fresh token and prints the URL to give the platform
    (Automation → action "Synch Contact to Third Party" → URL).
  - Production: copy deploy/nginx/contact-listener.conf into your server block (it keeps the
    location private), and run the listener as a service (deploy/).
  - A web console for events and dead letters (README "Console"): run
      $bin console passwd admin
    and add to $config
      console:
        path: /contact-listener/console
        users:
          <the line it printed>
    then make run again and open $url/console.
  - Stop everything: make stop
TEXT
