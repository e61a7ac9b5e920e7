#!/usr/bin/env bash
# Stop brokers started by start.sh: stop.sh [activemq|rabbitmq|artemis|apollo|all]...
# Only the PIDs recorded in $STOMP_BROKERS_DIR/<name>/<name>.pid are signalled (SIGTERM, then
# SIGKILL after $STOMP_BROKERS_STOP_TIMEOUT s); RabbitMQ is stopped with `rabbitmqctl shutdown`
# against our own node first. PID files are removed.
set -euo pipefail
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

wait_gone() {  # pid seconds
  local end=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null && [ $SECONDS -lt "$end" ]; do sleep 0.2; done
  ! kill -0 "$1" 2>/dev/null
}

term_then_kill() {  # name pid
  kill -TERM "$2" 2>/dev/null || true
  if ! wait_gone "$2" "$STOP_TIMEOUT"; then
    log "$1: PID $2 still alive ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
    kill -KILL "$2" 2>/dev/null || true
    wait_gone "$2" 5 || die "$1: PID $2 survived SIGKILL"
  fi
}

stop_rabbitmq_extra() {  # pid
  local d; d="$(broker_dir rabbitmq)"
  if [ -n "$1" ]; then
    ( rabbitmq_env; timeout "$STOP_TIMEOUT" "$RABBITMQ_BIN/rabbitmqctl" shutdown >"$d/shutdown.log" 2>&1 ) \
      || log "rabbitmq: rabbitmqctl shutdown failed (see $d/shutdown.log); signalling PID $1"
    wait_gone "$1" 5 || true
  fi
}

stop_epmd() {
  local d f pid; d="$(broker_dir rabbitmq)"; f="$d/epmd.pid"
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = epmd ] \
     && { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qx "ERL_EPMD_PORT=$RABBITMQ_EPMD_PORT"; then
    term_then_kill epmd "$pid"
  fi
  rm -f "$f"
}

stop_one() {
  local name="$1" pid
  pid="$(running_pid "$name")"
  [ "$name" = rabbitmq ] && stop_rabbitmq_extra "$pid"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    term_then_kill "$name" "$pid"
  fi
  rm -f "$(pid_file "$name")"
  [ "$name" = rabbitmq ] && stop_epmd
  return 0
}

targets=("$@"); [ "${#targets[@]}" -eq 0 ] && targets=(all)
[ "${targets[*]}" = all ] && targets=("${ALL_BROKERS[@]}")
rc=0
for t in "${targets[@]}"; do
  case "$t" in
    activemq|rabbitmq|artemis|apollo) ( stop_one "$t" ) || rc=1 ;;
    *) die "unknown broker '$t' (activemq|rabbitmq|artemis|apollo|all)" ;;
  esac
done
[ -d "$STOMP_BROKERS_DIR" ] && write_versions_json
exit $rc
