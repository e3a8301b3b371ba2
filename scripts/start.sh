#!/usr/bin/env bash
# `npm start`: installs what it needs, then serves on ./data/rim.db (flags pass through).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-bun.sh
exec bun src/main.ts serve "$@"
