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
# RIM_TEST_BACKEND picks the backends: both (the default: the whole suite on SQLite, then on a
# 3-node cluster: PostgreSQL + Redis, tests/cluster.ts), sqlite or cluster (one of them). The cluster run leaves out the files listed in tests/cluster.skip (printed
# below, with their reasons). Whatever runs, the last line sums it: "N passed, N failed".
backend=${RIM_TEST_BACKEND:-both}
case "$backend" in sqlite | cluster | both) ;; *) echo "RIM_TEST_BACKEND must be sqlite, cluster or both (got $backend)" >&2; exit 2 ;; esac
total_passed=0
total_failed=0
status=0

# One bun test run: tees its output, adds its counts to the totals.
run() {
  local label=$1
  shift
  local log
  log=$(mktemp)
  echo "== $label: bun test $*" >&2
  bun test "$@" 2>&1 | tee "$log"
  local st=${PIPESTATUS[0]}
  local passed failed
  passed=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
  failed=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
  rm -f "$log"
  if [ "$st" -ne 0 ] && [ "$failed" = 0 ]; then failed=1; fi
  echo "== $label: $passed passed, $failed failed" >&2
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  [ "$st" -ne 0 ] && status=$st
  return 0
}

# Without PostgreSQL or Redis (not root, so not installed above), the files that start them are left
# out with a warning, as the browser tests are without Chromium; on CI they run and fail saying why.
sqlite_args=("$@")
absent=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || [ -n "${RIM_TEST_PG_URL:-}" ] || absent+=(postgresql)
command -v redis-server >/dev/null || [ -n "${RIM_TEST_REDIS_URL:-}" ] || absent+=(redis-server)
if [ ${#absent[@]} -gt 0 ] && [ -z "${CI:-}" ] && [ $# -eq 0 ]; then
  needing=$(grep -l -E 'from "\./(services|cluster\.kit)"' tests/*.test.ts | grep -v '^tests/binary\.test\.ts$')
  echo "== ${absent[*]} not installed (npm test installs them as root: apt-get install -y ${absent[*]}); left out: $(echo $needing | sed 's#tests/##g')" >&2
  sqlite_args=()
  for f in tests/*.test.ts; do echo "$needing" | grep -qxF "$f" || sqlite_args+=("./$f"); done
fi
# Nor can the cluster run: left out the same way, said, never silently.
if [ ${#absent[@]} -gt 0 ] && [ -z "${CI:-}" ] && [ "$backend" = both ]; then
  echo "== ${absent[*]} not installed: the cluster run (RIM_TEST_BACKEND=cluster) is left out" >&2
  backend=sqlite
fi
if [ "$backend" != cluster ]; then
  RIM_TEST_BACKEND=sqlite run "SQLite" "${sqlite_args[@]}"
fi
if [ "$backend" != sqlite ]; then
  skip=$(grep -vE '^(#|$)' tests/cluster.skip)
  echo "== cluster: files left out (tests/cluster.skip):" >&2
  echo "$skip" | sed 's/\t/: /; s/^/   /' >&2
  echo "== cluster: tests skipped inside the files that run (skipIf(cluster), the reason in the comment above each):" >&2
  grep -n -B2 'skipIf(cluster)' tests/*.test.ts | grep -E 'Skipped on the cluster|skipIf\(cluster\)' | sed -E 's/^(tests\/[^:-]+)[:-][0-9]+[:-] *(\/\/ Skipped on the cluster \(RIM_TEST_BACKEND=cluster\): )?/   \1: /' >&2
  skipped=$(echo "$skip" | cut -f1)
  # The files given (or every test file), less the skipped ones; other arguments pass through.
  files=()
  args=()
  for a in "$@"; do case "$a" in *.test.ts | tests/*) files+=("$a") ;; *) args+=("$a") ;; esac; done
  [ ${#files[@]} -eq 0 ] && files=(tests/*.test.ts)
  chosen=()
  for f in "${files[@]}"; do echo "$skipped" | grep -qxF "$(basename "$f")" || chosen+=("./$f"); done
  if [ ${#chosen[@]} -gt 0 ]; then
    # A file's first cluster starts PostgreSQL (initdb) and Redis: seconds on a loaded machine, more than bun's 5 s for a hook.
    RIM_TEST_BACKEND=cluster run "cluster (3 nodes, PostgreSQL + Redis)" --timeout 30000 "${args[@]}" "${chosen[@]}"
  fi
fi
echo "$total_passed passed, $total_failed failed"
exit "$status"
