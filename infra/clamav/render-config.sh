#!/usr/bin/env bash
# Writes clamd.conf and freshclam.conf into $1 (default $CLAMAV_CONF_DIR or /run/clamav) from
# the templates beside this script and the environment:
#   MAX_FILE_SIZE_MB       the front's cap; clamd's stream/file limit is this + 8 MiB (default 100)
#   CLAMD_MAX_SCAN_MB      clamd's MaxScanSize (default: 4x the stream limit, at most 4000):
#                          what clamd scans inside a stream (embedded content counts again),
#                          so at the stream limit a large clean file is flagged
#                          Heuristics.Limits.Exceeded.MaxScanSize
#   CLAMAV_MIRROR_URL      http(s) URL of the signature mirror (PrivateMirror); empty = ClamAV's CDN;
#                          file:///dir = a mounted mirror (Terraform mounts the cvdupdate bucket),
#                          which freshclam cannot read directly: entrypoint.sh serves it on
#                          127.0.0.1:$CLAMAV_MIRROR_LOCAL_PORT (default 8099) for PrivateMirror
#   FRESHCLAM_CHECKS       update checks per day (default 12)
#   CLAMD_PORT, CLAMD_MAX_THREADS, CLAMAV_DB_DIR, CLAMAV_DB_OWNER, TMPDIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-${CLAMAV_CONF_DIR:-/run/clamav}}"

integer() {  # name value minimum maximum
  [[ "$2" =~ ^[0-9]+$ ]] && (( $2 >= $3 && $2 <= $4 )) || {
    echo "render-config: $1 must be an integer in $3..$4, got '$2'" >&2; exit 2; }
}
max_mb="${MAX_FILE_SIZE_MB:-100}"
integer MAX_FILE_SIZE_MB "$max_mb" 1 3900
limit_mb=$(( max_mb + 8 ))
default_scan_mb=$(( limit_mb * 4 > 4000 ? 4000 : limit_mb * 4 ))
scan_mb="${CLAMD_MAX_SCAN_MB:-$default_scan_mb}"
integer CLAMD_MAX_SCAN_MB "$scan_mb" "$limit_mb" 4000
checks="${FRESHCLAM_CHECKS:-12}"
integer FRESHCLAM_CHECKS "$checks" 1 50
port="${CLAMD_PORT:-3310}"
integer CLAMD_PORT "$port" 1 65535
threads="${CLAMD_MAX_THREADS:-8}"
integer CLAMD_MAX_THREADS "$threads" 1 64
mirror="${CLAMAV_MIRROR_URL:-}"
rm -f "$out/mirror-dir"
if [[ "$mirror" == file://* ]]; then
  dir="${mirror#file://}"
  [[ "$dir" =~ ^/[A-Za-z0-9._/-]+$ && "$dir" != *..* ]] || {
    echo "render-config: CLAMAV_MIRROR_URL file:// needs an absolute path, got '$mirror'" >&2
    exit 2; }
  local_port="${CLAMAV_MIRROR_LOCAL_PORT:-8099}"
  integer CLAMAV_MIRROR_LOCAL_PORT "$local_port" 1 65535
  mkdir -p "$out"
  printf '%s %s\n' "$local_port" "${dir%/}" > "$out/mirror-dir"
  mirror_line="PrivateMirror http://127.0.0.1:$local_port"
elif [[ -n "$mirror" ]]; then
  [[ "$mirror" =~ ^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?$ ]] || {
    echo "render-config: CLAMAV_MIRROR_URL must be an http(s) URL, got '$mirror'" >&2; exit 2; }
  mirror_line="PrivateMirror ${mirror%/}"
else
  echo "render-config: CLAMAV_MIRROR_URL is empty; using ClamAV's CDN" >&2
  mirror_line="DatabaseMirror database.clamav.net"
fi

mkdir -p "$out"
render() {
  sed -e "s|@LIMIT_MB@|$limit_mb|g" -e "s|@SCAN_MB@|$scan_mb|g" -e "s|@CHECKS@|$checks|g" \
      -e "s|@CLAMD_PORT@|$port|g" -e "s|@MAX_THREADS@|$threads|g" \
      -e "s|@DB_DIR@|${CLAMAV_DB_DIR:-/var/lib/clamav}|g" \
      -e "s|@DB_OWNER@|${CLAMAV_DB_OWNER:-clamav}|g" -e "s|@TMP_DIR@|${TMPDIR:-/tmp}|g" \
      -e "s|@CONF_DIR@|$out|g" -e "s|@MIRROR_LINE@|$mirror_line|g" "$1" > "$2"
}
render "$here/clamd.conf" "$out/clamd.conf"
render "$here/freshclam.conf" "$out/freshclam.conf"
