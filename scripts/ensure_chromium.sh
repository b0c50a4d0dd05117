#!/usr/bin/env bash
# The browser test needs Chromium. Install Debian's package where we may (root with apt-get);
# elsewhere say how, and the browser test skips with that reason.
set -euo pipefail
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser test"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
else
  echo "Chromium not found: install it (e.g. 'sudo apt-get install chromium') to run the browser test" >&2
fi
