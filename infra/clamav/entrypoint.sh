#!/usr/bin/env bash
# The clamav container: render the configs, fetch signatures from the mirror, start clamd,
# wait until it answers, start the freshclam daemon, then exec gunicorn serving the front
# (functions/clamav_front.py) on $PORT. Runs under tini -g, so SIGTERM reaches every process.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
conf="${CLAMAV_CONF_DIR:-/run/clamav}"
db="${CLAMAV_DB_DIR:-/var/lib/clamav}"
bash "$here/render-config.sh" "$conf"

# 0. A mounted mirror (CLAMAV_MIRROR_URL=file:///dir): freshclam only speaks http(s) to a
#    PrivateMirror, so serve the directory on loopback for it, read-only, for the container's life.
if [[ -f "$conf/mirror-dir" ]]; then
  read -r mirror_port mirror_dir < "$conf/mirror-dir"
  python3 -m http.server --bind 127.0.0.1 --directory "$mirror_dir" "$mirror_port" \
    >/dev/null 2>&1 &
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$mirror_port") 2>/dev/null && break
    sleep 0.1
  done
fi

# 1. Signatures. A database already in the image (BAKE_DATABASE) or left by an earlier start
#    is used when the mirror is down; with none at all the container must not start.
if ! freshclam --config-file="$conf/freshclam.conf" --stdout; then
  if ! compgen -G "$db/*.c[lv]d" >/dev/null && ! compgen -G "$db/*.[hn]db" >/dev/null; then
    echo "entrypoint: no signatures and the mirror is unreachable" >&2
    exit 1
  fi
  echo "entrypoint: freshclam failed; starting with the database already present" >&2
fi

# 2. clamd (loading the official database takes a while and about 1 GiB).
clamd --config-file="$conf/clamd.conf" &
clamd_pid=$!
clamdscan --config-file="$conf/clamd.conf" --ping "${CLAMD_START_ATTEMPTS:-240}:1" >/dev/null || {
  echo "entrypoint: clamd did not answer" >&2; kill "$clamd_pid" 2>/dev/null || true; exit 1; }

# 3. Updates in the background; clamd reloads after each (NotifyClamd).
freshclam --config-file="$conf/freshclam.conf" --daemon --foreground --stdout &

# 4. The front. One process, threads, no worker timeout (a 100 MiB scan outlasts 30 s);
#    h2c is accepted as well as HTTP/1.1, so the service may run with --use-http2, which
#    lifts Cloud Run's 32 MiB limit on HTTP/1 request bodies (POST /scan of large files).
export CLAMAV_SERVICE_HOST=127.0.0.1 CLAMAV_SERVICE_PORT="${CLAMD_PORT:-3310}"
exec gunicorn --bind "0.0.0.0:${PORT:-8080}" --workers 1 --worker-class gthread \
  --threads "${FRONT_THREADS:-8}" --timeout 0 --graceful-timeout 10 --log-level warning \
  --http-protocols h2,h1 --http2-cleartext both --forwarded-allow-ips '*' \
  --chdir "${APP_DIR:-/app}" functions.clamav_front:app
