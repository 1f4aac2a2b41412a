#!/usr/bin/env bash
# Installs the Debian packages the service needs on a fresh machine: clamd (clamav-daemon),
# libmagic (python-magic's MIME sniffing), Node.js and npm (the web app's build) and Chromium
# (the browser tests). Does nothing when all are already present.
# Checks capture a command's output first and then match it: `cmd | grep -q` under pipefail
# can fail when grep exits early and cmd gets SIGPIPE.
set -euo pipefail

have_clamd() { command -v clamd >/dev/null 2>&1 || [ -x /usr/sbin/clamd ]; }
have_magic() {
  local libs
  libs="$(ldconfig -p 2>/dev/null || true)"
  [[ "$libs" == *libmagic.so.1* ]]
}
have_node() { command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; }
have_chromium() { [ -x /usr/bin/chromium ]; }

packages=()
have_clamd || packages+=(clamav-daemon clamdscan)
have_magic || packages+=(libmagic1)
have_node || packages+=(nodejs npm)
have_chromium || packages+=(chromium)
if [ "${#packages[@]}" -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to apt-get install ${packages[*]}" >&2; exit 1; }
  SUDO="sudo"
fi

echo "Installing ${packages[*]} from Debian's packages..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  "${packages[@]}" >/dev/null
have_clamd && have_magic && have_node && have_chromium
