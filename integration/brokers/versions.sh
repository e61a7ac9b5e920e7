#!/usr/bin/env bash
# Print the broker versions (installed; pid if running) as JSON, and refresh $STOMP_BROKERS_DIR/versions.json.
set -euo pipefail
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
write_versions_json
cat "$STOMP_BROKERS_DIR/versions.json"
