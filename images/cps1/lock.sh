#!/usr/bin/env bash
# Pin the runtime dependencies of the services image: resolve the hooks, api, console, gateway
# and cli extras in a fresh venv and write exact versions to requirements.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet "$root[hooks,api,console,gateway,cli]"
"$tmp/venv/bin/pip" freeze --exclude cps1 | sort >"$root/images/cps1/requirements.txt"
echo "wrote images/cps1/requirements.txt ($(wc -l <"$root/images/cps1/requirements.txt") packages)"
