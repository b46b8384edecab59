#!/usr/bin/env bash
# Builds the dashboard into ui/dist (embedded by the loglynx binary and served at /ui/).
# Installs npm dependencies first unless node_modules already matches package-lock.json.
set -euo pipefail

cd "$(dirname "$0")/../ui"

if ! command -v npm >/dev/null 2>&1; then
  echo "build-ui: npm not found: install Node.js 20+ (with npm) to build the dashboard" >&2
  exit 1
fi

stamp=node_modules/.loglynx-lock.sha256
if [ -f package-lock.json ]; then
  want="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "build-ui: node_modules is up to date"
  else
    npm ci --no-audit --no-fund
    echo "$want" >"$stamp"
  fi
else
  npm install --no-audit --no-fund
fi

npm run build
