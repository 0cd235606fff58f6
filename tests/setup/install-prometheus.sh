#!/usr/bin/env bash
# Installs Debian's `prometheus` package (which ships promtool) for tests/deploy/, only when
# prometheus or promtool is missing. Idempotent. The packaged service is never started: the
# tests run the binary themselves on 127.0.0.1 with a temporary storage directory.
set -euo pipefail
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-prometheus.sh: prometheus/promtool missing and not root; install Debian's" \
        "'prometheus' package (apt-get install prometheus) or put both binaries on PATH" >&2
    exit 1
fi
# policy-rc.d exit 101 tells invoke-rc.d not to start the daemon the package installs; it is
# removed again afterwards unless it was there before.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    made_policy=1
fi
cleanup() { if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends prometheus; then
    apt-get update
    apt-get install -y --no-install-recommends prometheus
fi
# A systemd host would have enabled the unit; stop it if it was started anyway.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl stop prometheus || true
fi
command -v prometheus >/dev/null && command -v promtool >/dev/null
