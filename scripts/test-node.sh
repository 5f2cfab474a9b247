#!/usr/bin/env bash
# The Node.js binding (bindings/node): installs its npm packages from the committed lock file
# (@napi-rs/cli, typescript; ps-list for bench/node.mjs), builds the addon with the unwinding
# `bindings` profile, checks that the committed index.js and index.d.ts are what napi generates,
# type-checks the typings and runs the node:test suite. Jobs need the `tether` program as their
# supervisor: it is built (debug; a no-op after scripts/test.sh's build) and named by TETHER_BIN.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT/bindings/node"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi

# npm warns that some of the CLI's own dependencies prefer Node 22 (EBADENGINE); they run on 20.
npm ci --no-audit --no-fund --loglevel=error
npx napi build --platform --profile bindings
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
  ! git diff --quiet -- index.js index.d.ts; then
  git --no-pager diff --stat -- index.js index.d.ts
  echo "test-node: index.js or index.d.ts differ from what napi generates: commit the new ones" >&2
  exit 1
fi
npx tsc -p test/tsconfig.json
(cd "$ROOT" && cargo build -q -p tether-cli)
export TETHER_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/tether"
node --test test/*.test.js
