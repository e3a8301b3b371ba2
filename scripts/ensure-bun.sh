# Sourced by the start and test scripts: puts Bun on PATH (from npm, where
# the binary ships inside the package) and installs the project's packages.
if ! command -v bun >/dev/null 2>&1; then
  echo "installing Bun from npm..." >&2
  npm install -g bun >&2 || { echo "could not install Bun (npm install -g bun)" >&2; exit 1; }
  hash -r
fi
bun install --frozen-lockfile >&2 || bun install >&2
