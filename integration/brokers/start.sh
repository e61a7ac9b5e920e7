#!/usr/bin/env bash
# Start integration brokers as background processes: start.sh [activemq|rabbitmq|artemis|apollo|all]...
# Per-broker config, PID file and log live in $STOMP_BROKERS_DIR/<name>/. Waits (bounded) until the
# STOMP port answers CONNECT with CONNECTED. A broker already running is left alone.
# Prints one line per broker: name, version, ports, PID.
set -euo pipefail
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

JAVA="${STOMP_BROKERS_JAVA:-java}"

wait_ready() {  # name port [extra wait_stomp args]
  local name="$1" port="$2"; shift 2
  local pid; pid="$(cat "$(pid_file "$name")")"
  local end=$((SECONDS + START_TIMEOUT))
  while [ $SECONDS -lt $end ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$(log_file "$name")" >&2 || true
      rm -f "$(pid_file "$name")"
      die "$name exited during startup (log: $(log_file "$name"))"
    fi
    if python3 "$BROKERS_HERE/wait_stomp.py" "$STOMP_BROKERS_HOST" "$port" --timeout 2 \
         --login "$STOMP_BROKERS_LOGIN" --passcode "$STOMP_BROKERS_PASSCODE" "$@" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  tail -n 40 "$(log_file "$name")" >&2 || true
  die "$name: STOMP port $port gave no CONNECTED within ${START_TIMEOUT}s (log: $(log_file "$name"); still running as PID $pid)"
}

wait_listening() {  # name port: a WebSocket listener opens (bounded wait)
  local end=$((SECONDS + 30))
  until python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2).close()' \
      "$STOMP_BROKERS_HOST" "$2" 2>/dev/null; do
    [ $SECONDS -lt $end ] || die "$1: WebSocket port $2 did not open"
    sleep 0.5
  done
}

port_free_or_die() {  # name port...
  local name="$1" p; shift
  for p in "$@"; do
    if ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
      die "$name: port $p is already in use by another process (not started by these scripts): $(ss -Hltnp "sport = :$p" | head -1)"
    fi
  done
}

# ---------------------------------------------------------------- ActiveMQ Classic
activemq_config() {
  local d conf ks pass=changeit
  d="$(broker_dir activemq)"; conf="$d/conf"; ks="$conf/broker.p12"
  mkdir -p "$conf" "$d/data"
  if [ ! -f "$ks" ] || [ ! -f "$ACTIVEMQ_CA_FILE" ]; then
    # a tiny CA, and a server cert it signs with SAN IP:127.0.0.1,DNS:localhost
    rm -f "$conf"/ca.p12 "$ks" "$conf"/*.csr "$conf"/*.pem
    local kt=(keytool -noprompt -storetype PKCS12 -storepass "$pass" -keypass "$pass")
    "${kt[@]}" -genkeypair -keystore "$conf/ca.p12" -alias ca -keyalg RSA -keysize 2048 -validity 3650 \
      -dname "CN=stomp-enterprise test CA" -ext bc:c=ca:true,pathlen:0 -ext ku:c=keyCertSign,cRLSign >/dev/null 2>&1
    "${kt[@]}" -exportcert -rfc -keystore "$conf/ca.p12" -alias ca -file "$ACTIVEMQ_CA_FILE" >/dev/null 2>&1
    "${kt[@]}" -genkeypair -keystore "$ks" -alias broker -keyalg RSA -keysize 2048 -validity 3650 \
      -dname "CN=localhost" >/dev/null 2>&1
    "${kt[@]}" -certreq -keystore "$ks" -alias broker -file "$conf/broker.csr" >/dev/null 2>&1
    "${kt[@]}" -gencert -keystore "$conf/ca.p12" -alias ca -infile "$conf/broker.csr" -outfile "$conf/broker.pem" \
      -rfc -validity 3650 -ext san=ip:127.0.0.1,dns:localhost -ext ku:c=digitalSignature,keyEncipherment \
      -ext eku=serverAuth >/dev/null 2>&1
    "${kt[@]}" -importcert -keystore "$ks" -alias ca -file "$ACTIVEMQ_CA_FILE" >/dev/null 2>&1
    "${kt[@]}" -importcert -keystore "$ks" -alias broker -file "$conf/broker.pem" >/dev/null 2>&1
    [ -s "$ACTIVEMQ_CA_FILE" ] || die "activemq: could not create $ACTIVEMQ_CA_FILE"
  fi
  # 5.18 logs through log4j2 (-Dlog4j2.configurationFile): WARN to the console (our log file)
  cat >"$conf/log4j2.properties" <<EOT
rootLogger.level=WARN
rootLogger.appenderRef.console.ref=Console
logger.broker.name=org.apache.activemq.broker.BrokerService
logger.broker.level=INFO
logger.connector.name=org.apache.activemq.broker.TransportConnector
logger.connector.level=INFO
appender.console.type=Console
appender.console.name=Console
appender.console.layout.type=PatternLayout
appender.console.layout.pattern=%d %-5p [%t] %c{1} - %m%n
EOT
  local opts="transport.maxFrameSize=$BROKER_MAX_FRAME_ACTIVEMQ"
  cat >"$conf/activemq.xml" <<EOT
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
                           http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="stomp-enterprise"
          dataDirectory="$d/data" persistent="false" deleteAllMessagesOnStartup="true"
          useJmx="false" schedulerSupport="false">
    <plugins>
      <simpleAuthenticationPlugin anonymousAccessAllowed="false">
        <users>
          <authenticationUser username="$STOMP_BROKERS_LOGIN" password="$STOMP_BROKERS_PASSCODE" groups="users,admins"/>
        </users>
      </simpleAuthenticationPlugin>
    </plugins>
    <systemUsage>
      <systemUsage>
        <memoryUsage><memoryUsage percentOfJvmHeap="60"/></memoryUsage>
        <tempUsage><tempUsage limit="1 gb"/></tempUsage>
      </systemUsage>
    </systemUsage>
    <sslContext>
      <sslContext keyStore="file:$ks" keyStorePassword="$pass" keyStoreType="PKCS12"/>
    </sslContext>
    <transportConnectors>
      <transportConnector name="openwire" uri="tcp://127.0.0.1:$ACTIVEMQ_OPENWIRE_PORT"/>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:$ACTIVEMQ_STOMP_PORT?$opts"/>
      <transportConnector name="stomp+ssl" uri="stomp+ssl://127.0.0.1:$ACTIVEMQ_STOMP_SSL_PORT?$opts"/>
$(activemq_ws_connector "$opts")
    </transportConnectors>
  </broker>
</beans>
EOT
}

# the ws connector (none when ACTIVEMQ_WS_PORT is 0): Jetty takes text messages up to 64 KiB
# by default (a bigger one is closed with 1009), raised to the STOMP frame limit
activemq_ws_connector() {  # connector options
  [ "${ACTIVEMQ_WS_PORT:-0}" = 0 ] && return 0
  printf '      <transportConnector name="ws" uri="ws://127.0.0.1:%s?%s&amp;websocket.maxTextMessageSize=%s"/>' \
    "$ACTIVEMQ_WS_PORT" "$1" "$BROKER_MAX_FRAME_ACTIVEMQ"
}

start_activemq() {
  [ -f "$ACTIVEMQ_HOME/bin/activemq.jar" ] || die "activemq is not installed: run install.sh activemq"
  local d; d="$(broker_dir activemq)"
  local ws=(); [ "${ACTIVEMQ_WS_PORT:-0}" = 0 ] || ws=("$ACTIVEMQ_WS_PORT")
  port_free_or_die activemq "$ACTIVEMQ_STOMP_PORT" "$ACTIVEMQ_STOMP_SSL_PORT" "$ACTIVEMQ_OPENWIRE_PORT" "${ws[@]}"
  activemq_config
  (cd "$d" && exec setsid "$JAVA" -Xms64m -Xmx512m -Djava.awt.headless=true \
      -Dactivemq.home="$ACTIVEMQ_HOME" -Dactivemq.base="$d" -Dactivemq.conf="$d/conf" \
      -Dactivemq.data="$d/data" -Djava.io.tmpdir="$d/data" \
      -Dlog4j2.configurationFile="file:$d/conf/log4j2.properties" \
      -jar "$ACTIVEMQ_HOME/bin/activemq.jar" start "xbean:file:$d/conf/activemq.xml" \
      </dev/null >"$(log_file activemq)" 2>&1) &
  echo $! >"$(pid_file activemq)"
  wait_ready activemq "$ACTIVEMQ_STOMP_PORT"
  python3 "$BROKERS_HERE/wait_stomp.py" "$STOMP_BROKERS_HOST" "$ACTIVEMQ_STOMP_SSL_PORT" --ssl "$ACTIVEMQ_CA_FILE" \
    --login "$STOMP_BROKERS_LOGIN" --passcode "$STOMP_BROKERS_PASSCODE" --timeout 15 \
    || die "activemq: stomp+ssl port $ACTIVEMQ_STOMP_SSL_PORT did not answer CONNECTED"
  [ "${#ws[@]}" -eq 0 ] || wait_listening activemq "$ACTIVEMQ_WS_PORT"
}

# ---------------------------------------------------------------- RabbitMQ
start_rabbitmq() {
  [ -x "$RABBITMQ_BIN/rabbitmq-server" ] || die "rabbitmq is not installed: run install.sh rabbitmq"
  local d; d="$(broker_dir rabbitmq)"
  port_free_or_die rabbitmq "$RABBITMQ_STOMP_PORT" "$RABBITMQ_AMQP_PORT" "$RABBITMQ_DIST_PORT" "$RABBITMQ_WS_PORT"
  mkdir -p "$d/home" "$d/mnesia" "$d/log"
  (
    rabbitmq_env
    if [ ! -f "$HOME/.erlang.cookie" ]; then
      umask 077; head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$HOME/.erlang.cookie"
    fi
    chmod 400 "$HOME/.erlang.cookie"
    cat >"$RABBITMQ_CONFIG_FILE" <<EOT
listeners.tcp.1 = 127.0.0.1:$RABBITMQ_AMQP_PORT
stomp.listeners.tcp.1 = 127.0.0.1:$RABBITMQ_STOMP_PORT
web_stomp.tcp.ip = 127.0.0.1
web_stomp.tcp.port = $RABBITMQ_WS_PORT
loopback_users.guest = true
# rabbitmq_stomp 3.10 has no frame limit of its own; the message (body) limit is max_message_size
max_message_size = $BROKER_MAX_FRAME_RABBITMQ
log.file.level = warning
log.console = false
EOT
    echo "[]." >"$RABBITMQ_ADVANCED_CONFIG_FILE"
    : >"$RABBITMQ_CONF_ENV_FILE"
    [ -f "$RABBITMQ_ENABLED_PLUGINS_FILE" ] && grep -q rabbitmq_web_stomp "$RABBITMQ_ENABLED_PLUGINS_FILE" \
      || "$RABBITMQ_BIN/rabbitmq-plugins" enable --offline rabbitmq_stomp rabbitmq_web_stomp >"$d/plugins.log" 2>&1 \
      || { cat "$d/plugins.log" >&2; die "rabbitmq: rabbitmq-plugins enable --offline rabbitmq_stomp rabbitmq_web_stomp failed"; }
    cd "$d"
    # a /bin/sh wrapper that runs beam.smp as its child; the PID file gets beam's PID below
    exec setsid "$RABBITMQ_BIN/rabbitmq-server" </dev/null >"$(log_file rabbitmq)" 2>&1
  ) &
  echo $! >"$(pid_file rabbitmq)"
  wait_ready rabbitmq "$RABBITMQ_STOMP_PORT" --host "$RABBITMQ_VHOST"
  # Web STOMP (STOMP over WebSocket) starts with the node
  wait_listening rabbitmq "$RABBITMQ_WS_PORT"
  # record the Erlang VM itself (RABBITMQ_PID_FILE), not the shell wrapper
  local beam
  beam="$(cat "$d/rabbitmq-erlang.pid" 2>/dev/null || true)"
  [[ "$beam" =~ ^[0-9]+$ ]] && kill -0 "$beam" 2>/dev/null && echo "$beam" >"$(pid_file rabbitmq)"
  # remember the epmd our node started (on its private port) so stop.sh can end it
  local epmd
  epmd="$(ss -Hltnp "sport = :$RABBITMQ_EPMD_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)"
  [ -n "$epmd" ] && echo "$epmd" >"$d/epmd.pid"
  return 0
}

# ---------------------------------------------------------------- Artemis
artemis_config() {
  local d inst stamp; d="$(broker_dir artemis)"; inst="$d/instance"
  stamp="$ARTEMIS_VERSION $ARTEMIS_STOMP_PORT $ARTEMIS_CORE_PORT $ARTEMIS_WS_MAX_FRAME $STOMP_BROKERS_LOGIN $STOMP_BROKERS_PASSCODE prefixes"
  # (re)create the instance when it is missing or the settings changed
  if [ ! -f "$inst/etc/broker.xml" ] || [ "$(cat "$inst/.settings" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$inst"; mkdir -p "$d"
    "$ARTEMIS_HOME/bin/artemis" create "$inst" --silent --force --host 127.0.0.1 --name stomp-enterprise \
      --user "$STOMP_BROKERS_LOGIN" --password "$STOMP_BROKERS_PASSCODE" --require-login --no-web \
      --no-amqp-acceptor --no-hornetq-acceptor --no-mqtt-acceptor --disable-persistence \
      --default-port "$ARTEMIS_CORE_PORT" --java-memory 512M >"$d/create.log" 2>&1 \
      || { cat "$d/create.log" >&2; die "artemis create failed"; }
    # the generated profile says -Xms512M -Xmx<java-memory>; keep the start heap small
    sed -i 's/-Xms512M/-Xms64M/' "$inst/etc/artemis.profile"
    # move the STOMP acceptor from 61613 to our port (stompMaxFramePayloadLength: WebSocket only);
    # /queue/ and /topic/ prefixes map to anycast and multicast addresses, as every other broker
    # here treats them (without them the first subscriber decides, and a queue can act as a topic)
    sed -i -E "s#<acceptor name=\"stomp\">tcp://127.0.0.1:61613\?#<acceptor name=\"stomp\">tcp://127.0.0.1:$ARTEMIS_STOMP_PORT?stompMaxFramePayloadLength=$ARTEMIS_WS_MAX_FRAME;anycastPrefix=/queue/;multicastPrefix=/topic/;#" \
      "$inst/etc/broker.xml"
    grep -q "127.0.0.1:$ARTEMIS_STOMP_PORT" "$inst/etc/broker.xml" || die "artemis: could not set the STOMP acceptor port"
    if grep -Eq '(61613|61616|5672|1883|5445|8161)[^0-9]' "$inst/etc/broker.xml" "$inst/etc/bootstrap.xml"; then
      die "artemis: a default port is still configured in $inst/etc"
    fi
    printf '%s' "$stamp" >"$inst/.settings"
  fi
}

start_artemis() {
  [ -x "$ARTEMIS_HOME/bin/artemis" ] || die "artemis is not installed: run install.sh artemis"
  local d; d="$(broker_dir artemis)"
  port_free_or_die artemis "$ARTEMIS_STOMP_PORT" "$ARTEMIS_CORE_PORT"
  artemis_config
  # bin/artemis execs java, so $! is the broker's own PID
  (cd "$d" && STOMP_BROKERS_DIR="$STOMP_BROKERS_DIR" exec setsid "$d/instance/bin/artemis" run \
      </dev/null >"$(log_file artemis)" 2>&1) &
  echo $! >"$(pid_file artemis)"
  wait_ready artemis "$ARTEMIS_STOMP_PORT"
}

# ---------------------------------------------------------------- Apollo
apollo_java() {
  "$JAVA" -Dapollo.home="$APOLLO_HOME" "$@"
}

apollo_config() {
  local d inst; d="$(broker_dir apollo)"; inst="$d/instance"
  if [ ! -f "$inst/etc/login.config" ]; then
    rm -rf "$inst"; mkdir -p "$d"
    # `apollo create` writes login.config, log4j.properties, a keystore, ...; we replace apollo.xml
    apollo_java -cp "$APOLLO_HOME/lib/*" org.apache.activemq.apollo.cli.Apollo create "$inst" \
      >"$d/create.log" 2>&1 || { cat "$d/create.log" >&2; die "apollo create failed"; }
  fi
  # users: admin/password (Apollo's default) and guest/guest; both in group "users"
  printf 'admin=password\n%s=%s\n' "$STOMP_BROKERS_LOGIN" "$STOMP_BROKERS_PASSCODE" >"$inst/etc/users.properties"
  printf 'admins=admin\nusers=admin|%s\n' "$STOMP_BROKERS_LOGIN" >"$inst/etc/groups.properties"
  # no store: memory only (Apollo logs a warning "does not have valid store configured"); no web admin.
  # Without a store a queue cannot swap messages out: once what it holds passes its tail_buffer
  # (640 KB by default, about 5,000 small messages) Apollo stops reading its producers and answers
  # no RECEIPT until consumers drain it. 64 MB per queue keeps the suite's bursts (a few thousand
  # messages, resent ones included) in memory; the heap (-Xmx512m) bounds the total.
  cat >"$inst/etc/apollo.xml" <<EOT
<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<broker xmlns="http://activemq.apache.org/schema/activemq/apollo">
  <log_category console="console" security="security" connection="connection" audit="audit"/>
  <authentication domain="apollo"/>
  <access_rule allow="admins" action="*"/>
  <access_rule allow="*" action="connect" kind="connector"/>
  <virtual_host id="stomp-enterprise">
    <host_name>localhost</host_name>
    <host_name>127.0.0.1</host_name>
    <host_name>/</host_name>
    <access_rule allow="users" action="connect create destroy send receive consume"/>
    <queue tail_buffer="64M"/>
  </virtual_host>
  <connector id="tcp" bind="tcp://127.0.0.1:$APOLLO_STOMP_PORT" connection_limit="2000">
    <stomp max_data_length="$BROKER_MAX_FRAME_APOLLO"/>
  </connector>
</broker>
EOT
}

start_apollo() {
  [ -f "$APOLLO_HOME/.installed" ] || die "apollo is not installed: run install.sh apollo"
  local d inst; d="$(broker_dir apollo)"; inst="$d/instance"
  port_free_or_die apollo "$APOLLO_STOMP_PORT"
  apollo_config
  (cd "$d" && exec setsid "$JAVA" -Xms32m -Xmx512m -Djava.awt.headless=true \
      -Djava.util.logging.config.file="$inst/etc/jul.properties" \
      -Dapollo.home="$APOLLO_HOME" -Dapollo.base="$inst" -Djava.io.tmpdir="$inst/tmp" \
      -classpath "$inst/etc:$APOLLO_HOME/lib/*" org.apache.activemq.apollo.cli.Apollo run \
      </dev/null >"$(log_file apollo)" 2>&1) &
  echo $! >"$(pid_file apollo)"
  wait_ready apollo "$APOLLO_STOMP_PORT"
}

start_one() {
  local name="$1" pid
  mkdir -p "$(broker_dir "$name")"
  pid="$(running_pid "$name")"
  if [ -z "$pid" ]; then
    # a PID file whose process is gone is stale (one still alive is kept: the port check reports it)
    local old; old="$(cat "$(pid_file "$name")" 2>/dev/null || true)"
    if [ -n "$old" ] && ! kill -0 "$old" 2>/dev/null; then rm -f "$(pid_file "$name")"; fi
    "start_$name"
    pid="$(running_pid "$name")"
  fi
  printf '%-9s %-8s %-45s pid=%s\n' "$name" "$(broker_version "$name")" "$(broker_ports "$name")" "$pid"
}

write_env_file() {
  # the resolved settings, as plain KEY=VALUE lines, for test suites
  ( set -o posix; set ) | grep -E '^(STOMP_BROKERS_|ACTIVEMQ_|RABBITMQ_(STOMP|WS|AMQP|DIST|EPMD|NODE_NAME|VHOST)|ARTEMIS_|APOLLO_|BROKER_MAX_FRAME_)' \
    | grep -v -E '^(ARTEMIS_HOME|APOLLO_HOME|ACTIVEMQ_HOME)=' >"$STOMP_BROKERS_DIR/brokers.env.tmp"
  mv "$STOMP_BROKERS_DIR/brokers.env.tmp" "$STOMP_BROKERS_DIR/brokers.env"
}

targets=("$@"); [ "${#targets[@]}" -eq 0 ] && targets=(all)
[ "${targets[*]}" = all ] && targets=("${ALL_BROKERS[@]}")
mkdir -p "$STOMP_BROKERS_DIR"
write_env_file
rc=0
for t in "${targets[@]}"; do
  case "$t" in
    activemq|rabbitmq|artemis|apollo) ( start_one "$t" ) || rc=1 ;;
    *) die "unknown broker '$t' (activemq|rabbitmq|artemis|apollo|all)" ;;
  esac
done
write_versions_json
exit $rc
