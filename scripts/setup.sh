#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian machine with Node/npm: Debian packages (Jupyter's nbclient/nbconvert,
# Chromium for report screenshots, Mesa's software Vulkan for a WebGPU adapter without a GPU), Deno from npm
# (pinned in .tools/package-lock.json), and the npm packages the code imports (pinned in deno.lock).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

APT_PACKAGES=(jupyter-nbconvert python3-nbclient jupyter-client chromium mesa-vulkan-drivers libvulkan1)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .tools/node_modules/.bin/deno ]; then
  echo "setup: installing Deno from npm"
  (cd .tools && npm ci --no-audit --no-fund --loglevel=error)  # exactly the lock (every platform pinned); never rewrites it
fi
export PATH="$ROOT/.tools/node_modules/.bin:$PATH"

# npm packages for the code (node_modules/, exactly as locked). deno.json says "nodeModulesDir": "manual": only this
# step writes node_modules. With "auto", every Deno kernel re-linked it on its first npm import, so a notebook
# starting beside another could pull plotly.js out from under that one's page export.
deno install --frozen --quiet
