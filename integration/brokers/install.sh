#!/usr/bin/env bash
# Install the integration brokers: install.sh [activemq|rabbitmq|artemis|apollo|all]...
# Idempotent: anything already installed is skipped. Quiet unless something fails.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=ports.env
. "$HERE/ports.env"

log() { printf 'install: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# run CMD quietly; on failure show its output and fail
quiet() {
  local out
  if ! out="$("$@" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "command failed: $*"
  fi
}

APT_UPDATED=0
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$APT_UPDATED" -eq 0 ]; then
    # update once per run (and only if the lists look old or a package is not known)
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -720 2>/dev/null)" ] \
       || ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
      quiet apt-get update -q
    fi
    APT_UPDATED=1
  fi
  quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# mvn_fetch G:A:V:TYPE[:CLASSIFIER] DIR -> copies the artifact into DIR
mvn_fetch() {
  command -v mvn >/dev/null || apt_install maven
  quiet mvn -q -B dependency:copy -Dartifact="$1" -DoutputDirectory="$2" -Dmdep.overWriteIfNewer=true
}

mvn_unpack() {  # group:artifact:version:tar.gz:bin -> unpacked into $STOMP_BROKERS_INSTALL_DIR
  mkdir -p "$STOMP_BROKERS_INSTALL_DIR"
  local tmp; tmp="$(mktemp -d)"
  mvn_fetch "$1" "$tmp"
  tar -xzf "$tmp"/*.tar.gz -C "$STOMP_BROKERS_INSTALL_DIR"
  rm -rf "$tmp"
}

# ActiveMQ Classic: the Apache distribution (Debian's activemq 5.17 package has no ws transport).
# mvn keeps the archive in ~/.m2, so a second install (or a wiped install dir) downloads nothing.
install_activemq() {
  local dest="$STOMP_BROKERS_INSTALL_DIR/apache-activemq-$ACTIVEMQ_VERSION"
  [ -f "$dest/bin/activemq.jar" ] && return 0
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  mvn_unpack "org.apache.activemq:apache-activemq:$ACTIVEMQ_VERSION:tar.gz:bin"
  [ -f "$dest/bin/activemq.jar" ] || die "activemq.jar not found at $dest after unpacking"
  [ -n "$(find "$dest/lib" -name 'activemq-http-*.jar' -print -quit)" ] \
    || die "activemq: no activemq-http jar in $dest/lib (needed by the ws connector)"
}

install_rabbitmq() {
  apt_install rabbitmq-server
  # the Debian package may start (or try to start) a default node; we never use it. No systemd here.
  command -v rabbitmq-server >/dev/null || die "rabbitmq-server missing after install"
}

install_artemis() {
  local dest="$STOMP_BROKERS_INSTALL_DIR/apache-artemis-$ARTEMIS_VERSION"
  [ -x "$dest/bin/artemis" ] && return 0
  mvn_unpack "org.apache.activemq:apache-artemis:$ARTEMIS_VERSION:tar.gz:bin"
  [ -x "$dest/bin/artemis" ] || die "artemis not found at $dest after unpacking"
}

# Apollo 1.7.1: the distribution archive (apache-apollo:1.7.1:tar.gz:unix-distro) is NOT on Maven
# Central ("Could not find artifact org.apache.activemq:apache-apollo:tar.gz:unix-distro:1.7.1"),
# but its module jars are. So we assemble an Apollo home from them: apollo-cli (main class
# org.apache.activemq.apollo.cli.Apollo) + apollo-stomp + their dependencies, plus a log4j binding
# and JAXB/activation (javax.xml.bind left the JDK in Java 11; with these jars Apollo runs on Java 17).
install_apollo() {
  local dest="$STOMP_BROKERS_INSTALL_DIR/apache-apollo-$APOLLO_VERSION"
  [ -f "$dest/.installed" ] && return 0
  command -v mvn >/dev/null || apt_install maven
  rm -rf "$dest"; mkdir -p "$dest"
  cat >"$dest/pom.xml" <<EOT
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.stomp-enterprise</groupId>
  <artifactId>apollo-assembly</artifactId>
  <version>$APOLLO_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.activemq</groupId><artifactId>apollo-cli</artifactId><version>$APOLLO_VERSION</version></dependency>
    <dependency><groupId>org.apache.activemq</groupId><artifactId>apollo-broker</artifactId><version>$APOLLO_VERSION</version></dependency>
    <dependency><groupId>org.apache.activemq</groupId><artifactId>apollo-stomp</artifactId><version>$APOLLO_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-log4j12</artifactId><version>1.6.1</version></dependency>
    <dependency><groupId>log4j</groupId><artifactId>log4j</artifactId><version>1.2.17</version></dependency>
    <dependency><groupId>javax.xml.bind</groupId><artifactId>jaxb-api</artifactId><version>2.3.1</version></dependency>
    <dependency><groupId>com.sun.xml.bind</groupId><artifactId>jaxb-impl</artifactId><version>2.3.9</version></dependency>
    <dependency><groupId>com.sun.xml.bind</groupId><artifactId>jaxb-core</artifactId><version>2.3.0.1</version></dependency>
    <dependency><groupId>javax.activation</groupId><artifactId>activation</artifactId><version>1.1.1</version></dependency>
  </dependencies>
</project>
EOT
  (cd "$dest" && quiet mvn -q -B dependency:copy-dependencies -DoutputDirectory="$dest/lib" -DincludeScope=runtime)
  [ -f "$dest/lib/apollo-cli-$APOLLO_VERSION.jar" ] || die "apollo: apollo-cli jar missing after mvn"
  touch "$dest/.installed"
}

targets=("$@"); [ "${#targets[@]}" -eq 0 ] && targets=(all)
for t in "${targets[@]}"; do
  case "$t" in
    all) install_activemq; install_rabbitmq; install_artemis; install_apollo ;;
    activemq|rabbitmq|artemis|apollo) "install_$t" ;;
    *) die "unknown broker '$t' (activemq|rabbitmq|artemis|apollo|all)" ;;
  esac
done
