#!/usr/bin/env bash
# `npm run build`: installs what it needs (Bun from npm when missing), then
# compiles the single executable dist/rim (extra flags pass through to bun build).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-bun.sh
exec bun build src/main.ts --compile --minify --outfile dist/rim "$@"
