#!/usr/bin/env bash
# Install what the network fault tests (tests/netfaults) drive the kernel with: `ip` and `tc`
# (iproute2) and `nft` (nftables). Idempotent: does nothing when all three are on PATH.
# Run as root on Debian or Ubuntu; the test fixture runs it when a tool is missing.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v tc >/dev/null || missing+=(iproute2)
command -v nft >/dev/null || missing+=(nftables)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-iproute2.sh: need root to install ${missing[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "install-iproute2.sh: no apt-get; install ${missing[*]} by hand" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2046
apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
