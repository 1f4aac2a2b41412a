#!/usr/bin/env bash
# Installs the Debian packages the service needs on a fresh machine: clamd (clamav-daemon),
# libmagic (python-magic's MIME sniffing), Node.js and npm (the web app's build) and Chromium
# (the browser tests). Does nothing when all are already present.
#
# No check pipes into a reader that can stop early (`cmd | grep -q`): under pipefail the
# writer then dies of SIGPIPE (exit 141) whenever the match comes before its last write, and
# the check fails at random. Checks capture the output first, then test it.
# tests/test_setup_scripts.py runs the checks in a loop and scans every script for the pattern.
set -euo pipefail

have_clamd() { command -v clamd >/dev/null 2>&1 || [ -x /usr/sbin/clamd ]; }
have_magic() {
  local cache
  cache="$(ldconfig -p 2>/dev/null)" || return 1
  [[ "$cache" == *libmagic.so.1* ]]
}
have_node() { command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; }
have_chromium() { [ -x /usr/bin/chromium ]; }

install_system_deps() {
  local packages=()
  have_clamd || packages+=(clamav-daemon clamdscan)
  have_magic || packages+=(libmagic1)
  have_node || packages+=(nodejs npm)
  have_chromium || packages+=(chromium)
  if [ "${#packages[@]}" -eq 0 ]; then
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "need root or sudo to apt-get install ${packages[*]}" >&2; return 1; }
    sudo="sudo"
  fi
  echo "Installing ${packages[*]} from Debian's packages..."
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null
  have_clamd && have_magic && have_node && have_chromium
}

# Sourced (by the tests), only the functions are defined.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  install_system_deps
fi
