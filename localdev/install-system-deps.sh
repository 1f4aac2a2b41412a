#!/usr/bin/env bash
# Installs the Debian packages the service needs on a fresh machine: clamd (clamav-daemon)
# and libmagic (python-magic's MIME sniffing). Does nothing when both are already present.
set -euo pipefail

have_clamd() { command -v clamd >/dev/null 2>&1 || [ -x /usr/sbin/clamd ]; }
have_magic() { ldconfig -p 2>/dev/null | grep -q 'libmagic\.so\.1'; }

if have_clamd && have_magic; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to apt-get install clamav-daemon libmagic1" >&2; exit 1; }
  SUDO="sudo"
fi

echo "Installing clamav-daemon and libmagic1 from Debian's packages..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  clamav-daemon clamdscan libmagic1 >/dev/null
have_clamd && have_magic
