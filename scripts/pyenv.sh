#!/usr/bin/env bash
# The project-local Python environment, .venv/: JupyterLab 4 (scripts/lab.sh) and what the interop tests use
# (onnxruntime, pyarrow, DuckDB), every version pinned in python/requirements.lock. Built from Debian's python3
# by the scripts that need it, never system-wide; rebuilt when the lock changes. Idempotent.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
LOCK="$ROOT/python/requirements.lock"
want=$(sha256sum "$LOCK" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.lock-sha256" 2>/dev/null)" = "$want" ]; then exit 0; fi
if ! /usr/bin/python3 -c "import ensurepip, venv" 2>/dev/null; then
  echo "pyenv: installing Debian's python3-venv"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
fi
echo "pyenv: creating $VENV from python/requirements.lock"
rm -rf "$VENV"
/usr/bin/python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$LOCK"
echo "$want" > "$VENV/.lock-sha256"
