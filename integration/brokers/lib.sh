# Shared helpers for start.sh / stop.sh / versions.sh (sourced, not run).
# shellcheck disable=SC2034  # variables used by the scripts that source this file
# shellcheck shell=bash
BROKERS_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=ports.env
. "$BROKERS_HERE/ports.env"

ALL_BROKERS=(activemq rabbitmq artemis apollo)
ACTIVEMQ_HOME="$STOMP_BROKERS_INSTALL_DIR/apache-activemq-$ACTIVEMQ_VERSION"
ARTEMIS_HOME="$STOMP_BROKERS_INSTALL_DIR/apache-artemis-$ARTEMIS_VERSION"
APOLLO_HOME="$STOMP_BROKERS_INSTALL_DIR/apache-apollo-$APOLLO_VERSION"
RABBITMQ_BIN=/usr/lib/rabbitmq/bin
START_TIMEOUT="${STOMP_BROKERS_START_TIMEOUT:-90}"
STOP_TIMEOUT="${STOMP_BROKERS_STOP_TIMEOUT:-20}"

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

broker_dir() { printf '%s/%s' "$STOMP_BROKERS_DIR" "$1"; }
pid_file() { printf '%s/%s/%s.pid' "$STOMP_BROKERS_DIR" "$1" "$1"; }
log_file() { printf '%s/%s/%s.log' "$STOMP_BROKERS_DIR" "$1" "$1"; }

# PID recorded for broker $1 if that process is still alive and was started by us
# (its command line or environment mentions our state dir); empty otherwise.
running_pid() {
  local f pid
  f="$(pid_file "$1")"
  [ -f "$f" ] || return 0
  pid="$(cat "$f" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  if { tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF "$STOMP_BROKERS_DIR" \
     || { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qF "$STOMP_BROKERS_DIR"; then
    printf '%s' "$pid"
  fi
}

broker_version() {
  case "$1" in
    activemq) [ -f "$ACTIVEMQ_HOME/bin/activemq.jar" ] && printf '%s' "$ACTIVEMQ_VERSION" ;;
    rabbitmq) dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null | sed 's/-.*//' ;;
    artemis) [ -x "$ARTEMIS_HOME/bin/artemis" ] && printf '%s' "$ARTEMIS_VERSION" ;;
    apollo) [ -f "$APOLLO_HOME/.installed" ] && printf '%s' "$APOLLO_VERSION" ;;
  esac
  return 0
}

broker_ports() {
  case "$1" in
    activemq) printf 'stomp=%s stomp+ssl=%s ws=%s openwire=%s' "$ACTIVEMQ_STOMP_PORT" "$ACTIVEMQ_STOMP_SSL_PORT" "$ACTIVEMQ_WS_PORT" "$ACTIVEMQ_OPENWIRE_PORT" ;;
    rabbitmq) printf 'stomp=%s ws=%s amqp=%s dist=%s' "$RABBITMQ_STOMP_PORT" "$RABBITMQ_WS_PORT" "$RABBITMQ_AMQP_PORT" "$RABBITMQ_DIST_PORT" ;;
    artemis) printf 'stomp=%s core=%s' "$ARTEMIS_STOMP_PORT" "$ARTEMIS_CORE_PORT" ;;
    apollo) printf 'stomp=%s' "$APOLLO_STOMP_PORT" ;;
  esac
}

stomp_port() {
  case "$1" in
    activemq) echo "$ACTIVEMQ_STOMP_PORT" ;; rabbitmq) echo "$RABBITMQ_STOMP_PORT" ;;
    artemis) echo "$ARTEMIS_STOMP_PORT" ;; apollo) echo "$APOLLO_STOMP_PORT" ;;
  esac
}

# Environment for every rabbitmq-* command aimed at our node (never the system default node).
rabbitmq_env() {
  local d; d="$(broker_dir rabbitmq)"
  export HOME="$d/home"
  export RABBITMQ_NODENAME="$RABBITMQ_NODE_NAME"
  export RABBITMQ_USE_LONGNAME=false
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$RABBITMQ_AMQP_PORT"
  export RABBITMQ_DIST_PORT
  export RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$d/mnesia"
  export RABBITMQ_LOG_BASE="$d/log"
  export RABBITMQ_PID_FILE="$d/rabbitmq-erlang.pid"
  export RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf"
  export ERL_EPMD_PORT="$RABBITMQ_EPMD_PORT"
  export ERL_EPMD_ADDRESS=127.0.0.1
  # keep Erlang distribution on loopback too
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_STATE_MARKER="$STOMP_BROKERS_DIR"
}

# Write STATE/versions.json with what is installed and running.
write_versions_json() {
  mkdir -p "$STOMP_BROKERS_DIR"
  local b first=1 out="{"
  for b in "${ALL_BROKERS[@]}"; do
    [ $first -eq 1 ] || out+=","
    first=0
    out+="\"$b\":{\"version\":\"$(broker_version "$b")\",\"stomp_port\":$(stomp_port "$b"),\"pid\":\"$(running_pid "$b")\"}"
  done
  out+="}"
  printf '%s\n' "$out" >"$STOMP_BROKERS_DIR/versions.json.tmp"
  mv "$STOMP_BROKERS_DIR/versions.json.tmp" "$STOMP_BROKERS_DIR/versions.json"
}
