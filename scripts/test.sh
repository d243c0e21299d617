#!/usr/bin/env bash
# Runs every test guard has — the README's test command and what CI runs.
#
# It installs what the tests need and fails (never skips) when a tool is
# missing: the end-to-end tests drive the real git and the real wrangler
# (pinned in tools/wrangler/package-lock.json) against guard's own
# Cloudflare API emulator on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "test.sh: $1 is required but not installed ($2)" >&2
    exit 1
  fi
}
need go "https://go.dev/dl/"
need git "apt-get install git"
need node "apt-get install nodejs, or install Node.js 20+"
need npm "it ships with Node.js"
need ssh-keygen "apt-get install openssh-client (signed deploy records)"

# The pinned wrangler: reinstall when the lockfile changed since the last
# install (npm writes node_modules/.package-lock.json as its own record).
lock=tools/wrangler/package-lock.json
installed=tools/wrangler/node_modules/.package-lock.json
if [ ! -x tools/wrangler/node_modules/.bin/wrangler ] || [ "$lock" -nt "$installed" ]; then
  echo "test.sh: installing the pinned wrangler (npm ci)" >&2
  npm ci --prefix tools/wrangler --no-audit --no-fund --loglevel=error
fi
tools/wrangler/node_modules/.bin/wrangler --version >/dev/null

go vet ./...
# -p 2: this project's machines have two cores; the end-to-end packages
# start wrangler (node) processes of their own.
# -timeout: cmd/guard runs every end-to-end script (the real wrangler each
# time); go test's default 10 minutes is too close on a loaded machine.
go test -p 2 -count=1 -timeout 25m "$@" ./...
# The tests of code used from several goroutines at once, under the race
# detector too: without it a missing lock passes unnoticed.
go test -race -count=1 -timeout 10m -run 'Concurrent|Race' ./internal/gitx ./lease
