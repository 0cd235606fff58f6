#!/usr/bin/env bash
# Installs Debian's `chromium` package for tests/witnessnet/test_status_pages_browser.py, only
# when /usr/bin/chromium is missing. Idempotent. Playwright drives this binary through its
# executable path: `playwright install` (a browser download) is never used.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-chromium.sh: /usr/bin/chromium missing and not root; install Debian's" \
        "'chromium' package (apt-get install chromium)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends chromium fonts-dejavu-core; then
    apt-get update
    apt-get install -y --no-install-recommends chromium fonts-dejavu-core
fi
[ -x /usr/bin/chromium ]
