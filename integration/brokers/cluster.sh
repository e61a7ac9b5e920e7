#!/usr/bin/env bash
# Start or stop one broker cluster of integration/cluster_*.py in the background, the way
# start.sh/stop.sh handle a single broker (a PID file, a log, a bounded wait for readiness).
#   integration/brokers/cluster.sh start rabbitmq|activemq|artemis   # prints the failover URI
#   integration/brokers/cluster.sh stop  rabbitmq|activemq|artemis
# Ports are picked free at start; the URI is printed and kept in $STOMP_BROKERS_DIR/cluster-NAME.uri.
# The integration tests start their own clusters: this is for trying a cluster by hand.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/ports.env"
action="${1:-}" name="${2:-}"
case "$name" in rabbitmq|activemq|artemis) ;; *) echo "usage: $0 start|stop rabbitmq|activemq|artemis" >&2; exit 2;; esac
dir="$STOMP_BROKERS_DIR/cluster-$name"
pidfile="$dir.pid" logfile="$dir.log" urifile="$dir.uri"
mkdir -p "$STOMP_BROKERS_DIR"
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
case "$action" in
start)
    if running; then echo "cluster $name already running (pid $(cat "$pidfile")): $(cat "$urifile")"; exit 0; fi
    rm -rf "$dir"; mkdir -p "$dir"
    cd "$here/../.."
    setsid python -m integration.cluster serve "$name" --root "$dir" >"$logfile" 2>&1 &
    echo $! >"$pidfile"  # python's own PID: stop sends it SIGTERM, and it stops every node
    deadline=$(( $(date +%s) + ${STOMP_BROKERS_START_TIMEOUT:-180} ))
    until grep -q '^READY ' "$logfile" 2>/dev/null; do
        if ! running || [ "$(date +%s)" -ge "$deadline" ]; then
            echo "cluster $name did not start; log: $logfile" >&2; tail -20 "$logfile" >&2
            running && kill -TERM "$(cat "$pidfile")"; rm -f "$pidfile"; exit 1
        fi
        sleep 1
    done
    sed -n 's/^READY //p' "$logfile" >"$urifile"
    echo "cluster $name pid=$(cat "$pidfile") $(cat "$urifile")"
    ;;
stop)
    if ! running; then echo "cluster $name not running"; rm -f "$pidfile"; exit 0; fi
    pid=$(cat "$pidfile"); kill -TERM "$pid"
    for _ in $(seq 1 "${STOMP_BROKERS_STOP_TIMEOUT:-60}"); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then echo "cluster $name (pid $pid) did not stop" >&2; exit 1; fi
    rm -f "$pidfile" "$urifile"; echo "cluster $name stopped"
    ;;
*) echo "usage: $0 start|stop rabbitmq|activemq|artemis" >&2; exit 2;;
esac
