#!/bin/sh
# deploy-guarded.sh — drop-in replacement for the policy's guarded deploy
# script (shared/agent-config/scripts/deploy-guarded.sh).
#
# The old script refused `wrangler deploy` when any tracked file differed
# from origin/main. `guard deploy` does that and more: it fetches first,
# also refuses stale checkouts, staged changes, dirty submodules and
# untracked files, allows one deploy per worker at a time, records the
# version Cloudflare assigned in the deploy ledger and the team's git notes,
# and runs the configured verification ([deploy] in guard.toml).
#
# Usage: deploy-guarded.sh [--env ENV] [--config FILE] [--no-fetch]
#                          [--allow-untracked] [-- wrangler args...]
# Exit codes: 0 deployed, 1 refused or verified bad, 2 usage or
# configuration, 3 wrangler or the Cloudflare API failed.
set -eu

if ! command -v guard >/dev/null 2>&1; then
  echo "deploy-guarded.sh: guard is not installed or not on PATH" >&2
  echo "deploy-guarded.sh: install it with: go install github.com/guardcm/guard/cmd/guard@latest" >&2
  exit 2
fi
exec guard deploy "$@"
