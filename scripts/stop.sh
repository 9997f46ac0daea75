#!/usr/bin/env bash
# `make stop`: stop what `make run` started, by PID.
set -uo pipefail
cd "$(dirname "$0")/.."
run=$PWD/data/run
quiet=${1:-}
if [ -f "$run/nginx.pid" ]; then
  kill "$(cat "$run/nginx.pid")" 2>/dev/null && [ -z "$quiet" ] && echo "nginx stopped"
  rm -f "$run/nginx.pid"
fi
if [ -f "$run/listener.pid" ]; then
  pid=$(cat "$run/listener.pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    [ -z "$quiet" ] && echo "listener stopped"
  fi
  rm -f "$run/listener.pid"
fi
exit 0
