#!/usr/bin/env bash
# `npm test`: installs what it needs (Bun, packages, Chromium for the browser
# test), runs the whole suite and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-bun.sh
# Debian packages the tests start themselves (Chromium for the browser tests; PostgreSQL and
# Redis for the cluster tests, run from their binaries on free ports, never as system services).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} for the tests..." >&2
  # A system service the packages may start listens on the default ports; the tests never use it.
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >&2 || echo "could not install ${missing[*]}" >&2
fi
log=$(mktemp)
bun test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
failed=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
exit "$status"
