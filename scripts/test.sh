#!/usr/bin/env bash
# `npm test`: installs what it needs (Bun, packages, Chromium for the browser
# test), runs the whole suite and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-bun.sh
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Chromium for the browser test..." >&2
  (apt-get update -qq && apt-get install -y -qq chromium) >&2 || echo "could not install Chromium" >&2
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
