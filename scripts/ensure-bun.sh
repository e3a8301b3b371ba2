# Sourced (from the project root) by scripts/start.sh, test.sh and build.sh:
# puts a usable Bun on PATH, then installs the project's packages.
#
# Bun is a devDependency of the project: the npm package `bun` ships the
# binary itself, so nothing is ever installed globally and no root is needed.
# In order, the first usable one wins (usable: runs, and is at least the
# version package.json pins):
#   1. a bun already on PATH (npm scripts put node_modules/.bin there first);
#   2. node_modules/.bin/bun, from `bun install` or `npm install`;
#   3. .tools/node_modules/.bin/bun, left by an earlier run of this script;
#   4. otherwise the pinned `bun` package is installed from npm into .tools/
#      (a local prefix, never -g) and used from there.
rim_bun_want=$(sed -n 's/^ *"bun": *"\([0-9][0-9.]*\)".*/\1/p' package.json | head -n 1)
rim_bun_want=${rim_bun_want:-1.4.5}

rim_bun_usable() {
  local v
  v=$("$1" --version 2>/dev/null) || return 1
  [ -n "$v" ] && [ "$(printf '%s\n%s\n' "$rim_bun_want" "$v" | sort -V | head -n 1)" = "$rim_bun_want" ]
}

rim_bun_use() {
  export PATH="$(cd "$1" && pwd):$PATH"
  hash -r
}

if ! { command -v bun >/dev/null 2>&1 && rim_bun_usable bun; }; then
  if rim_bun_usable node_modules/.bin/bun; then
    rim_bun_use node_modules/.bin
  elif rim_bun_usable .tools/node_modules/.bin/bun; then
    rim_bun_use .tools/node_modules/.bin
  else
    echo "installing Bun $rim_bun_want from npm into .tools/ ..." >&2
    command -v npm >/dev/null 2>&1 || { echo "no usable Bun and no npm: install Node.js and npm, or Bun $rim_bun_want" >&2; exit 1; }
    # --ignore-scripts=false: the package's postinstall puts the platform's binary in place.
    npm install --prefix .tools --no-save --no-package-lock --no-audit --no-fund --ignore-scripts=false "bun@$rim_bun_want" >&2 \
      && rim_bun_usable .tools/node_modules/.bin/bun \
      || { echo "could not install Bun $rim_bun_want from npm (npm install --prefix .tools bun@$rim_bun_want)" >&2; exit 1; }
    rim_bun_use .tools/node_modules/.bin
  fi
fi
unset -f rim_bun_usable rim_bun_use
bun install --frozen-lockfile >&2 || bun install >&2
