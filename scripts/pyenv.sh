#!/usr/bin/env bash
# Project-local Python environments, built from Debian's python3 by the scripts that need them, never
# system-wide, every version pinned in a lock file; rebuilt when the lock changes. Idempotent.
#   bash scripts/pyenv.sh         .venv/        JupyterLab 4 (scripts/lab.sh) and what the interop tests use
#                                               (onnxruntime, pyarrow, DuckDB): python/requirements.lock
#   bash scripts/pyenv.sh spark   .venv-spark/  PySpark (Spark itself, for --engine spark; Java from the machine):
#                                               python/spark-requirements.lock
#   bash scripts/pyenv.sh bench   .venv-bench/  PyTorch, the peer bench:train compares against (never tests or runs):
#                                               python/bench-requirements.lock
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-}" in
  "") VENV="$ROOT/.venv"; LOCK="$ROOT/python/requirements.lock" ;;
  spark) VENV="$ROOT/.venv-spark"; LOCK="$ROOT/python/spark-requirements.lock" ;;
  bench) VENV="$ROOT/.venv-bench"; LOCK="$ROOT/python/bench-requirements.lock" ;;
  *) echo "pyenv: unknown environment '$1' (none, spark or bench)" >&2; exit 2 ;;
esac
want=$(sha256sum "$LOCK" | cut -d' ' -f1)
# one builder at a time: a second caller (two Spark runs on a fresh clone) waits, then finds the environment made
mkdir -p "$VENV"
exec 9>"$VENV/.building"
flock 9
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.lock-sha256" 2>/dev/null)" = "$want" ]; then exit 0; fi
if ! /usr/bin/python3 -c "import ensurepip, venv" 2>/dev/null; then
  echo "pyenv: installing Debian's python3-venv"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
fi
if [ "${1:-}" = spark ] && ! command -v java >/dev/null; then
  echo "pyenv: Spark needs Java (17 or later); none on PATH" >&2; exit 1
fi
echo "pyenv: creating $VENV from ${LOCK#$ROOT/}"
find "$VENV" -mindepth 1 -maxdepth 1 ! -name .building -exec rm -rf {} +  # the lock file stays, held
/usr/bin/python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$LOCK"
echo "$want" > "$VENV/.lock-sha256"
