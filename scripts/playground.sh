#!/usr/bin/env bash
# Runs the Microsoft 365 Agents Playground pinned in tests/playground (a local Teams emulator)
# confined to this machine's loopback: the project's own Node preload refuses every connection,
# DNS lookup and datagram that would leave it (the playground's bundled telemetry SDK looks up
# its ingestion host and probes the cloud metadata address even with --disable-telemetry), and
# binds its servers to 127.0.0.1. The tests start the playground through this same script.
#
#   scripts/playground.sh -e http://127.0.0.1:3000/teams/messages -c msteams --disable-telemetry
#
# The playground writes its log to devTools/m365agentsplayground.log in the working directory
# (M365_AGENTS_PLAYGROUND_LOGFILE moves it). That log holds every message in clear, codes
# included: delete it when done. devTools/ is git-ignored.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cli="$root/tests/playground/node_modules/@microsoft/m365agentsplayground/cli.js"
if [ ! -f "$cli" ]; then
  echo "the playground is not installed: run (cd tests/playground && npm ci)" >&2
  exit 1
fi
export APPLICATION_INSIGHTS_NO_STATSBEAT=true
exec node --require "$root/tests/playground/loopback-only.cjs" "$cli" "$@"
