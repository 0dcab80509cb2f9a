#!/usr/bin/env bash
# Builds the Microsoft Teams app package (manifest.json + icons, zipped) for upload to Teams.
# Usage: scripts/teams-package.sh <bot-app-id> [output.zip]
#   <bot-app-id>: the Microsoft App ID of the Azure Bot registration (a GUID).
set -euo pipefail
cd "$(dirname "$0")/.."
app_id="${1:-}"
out="${2:-target/otpbot-teams.zip}"
if ! [[ "$app_id" =~ ^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$ ]]; then
  echo "usage: $0 <bot-app-id (GUID)> [output.zip]" >&2
  exit 2
fi
mkdir -p "$(dirname "$out")"
python3 - "$app_id" "$out" <<'PY'
import sys, zipfile
app_id, out = sys.argv[1], sys.argv[2]
manifest = open("manifest/teams/manifest.json", encoding="utf-8").read().replace("{{BOT_APP_ID}}", app_id.lower())
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("manifest.json", manifest)
    z.write("manifest/teams/color.png", "color.png")
    z.write("manifest/teams/outline.png", "outline.png")
print(f"wrote {out}")
PY
