#!/usr/bin/env bash
# Interactive use: JupyterLab 4 (from the project's .venv, scripts/pyenv.sh) on notebooks/ with the committed
# Deno kernel. Listens on 127.0.0.1:8888 unless --port/--ip are given, and prints the URL to open.
# Run options reach the kernel like the main job's: --data PATH [--spec FILE] for your own logs, or
# --rows N --seed S --corrupt R for the generated default, --backend, --threads. Everything else goes to Jupyter.
set -euo pipefail
export CTRLAB_CALLER_CWD="$PWD"  # --data/--spec paths are relative to where the script was run
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/pyenv.sh"
run_args=(); jupyter_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data|--spec|--rows|--seed|--corrupt|--zoo|--run-id|--backend|--threads) run_args+=("$1" "$2"); shift 2 ;;
    *) jupyter_args+=("$1"); shift ;;
  esac
done
# the run configuration, as the notebooks read it (CTRLAB_* variables); own logs are checked against their spec here
eval "$(cd "$ROOT" && deno run -A cli/ctrlab.ts env "${run_args[@]}")"
cd "$ROOT/notebooks"
extra=(); [ "$(id -u)" -eq 0 ] && extra+=(--allow-root)
echo "lab: JupyterLab $("$ROOT/.venv/bin/jupyter" lab --version) on $ROOT/notebooks; open the http://127.0.0.1:… URL it prints below"
exec "$ROOT/.venv/bin/jupyter" lab --ip 127.0.0.1 --no-browser --ServerApp.root_dir="$ROOT/notebooks" "${extra[@]}" "${jupyter_args[@]}"
