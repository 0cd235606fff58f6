#!/usr/bin/env bash
# Installs Debian's `openssh-client` package (ssh-agent, ssh-add, ssh-keygen) for the witness's
# ssh-agent signing tests, only when one of them is missing. Idempotent.
set -euo pipefail
if command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null \
    && command -v ssh-keygen >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-openssh-client.sh: ssh-agent/ssh-add missing and not root; install Debian's" \
        "'openssh-client' package (apt-get install openssh-client)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends openssh-client; then
    apt-get update
    apt-get install -y --no-install-recommends openssh-client
fi
command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null && command -v ssh-keygen >/dev/null
