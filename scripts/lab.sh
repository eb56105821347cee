#!/usr/bin/env bash
# Interactive use: Jupyter Notebook on notebooks/ with the committed Deno kernel (Debian's jupyter-notebook;
# JupyterLab is not packaged for Debian 12). Listens on 127.0.0.1:8888 unless --port/--ip are given.
# Run options reach the kernel like the main job's: --data PATH [--spec FILE] for your own logs, or
# --rows N --seed S --corrupt R for the generated default. Everything else goes to Jupyter.
set -euo pipefail
export CTRLAB_CALLER_CWD="$PWD"  # --data/--spec paths are relative to where the script was run
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh"
if ! dpkg-query -W -f='${Status}' jupyter-notebook 2>/dev/null | grep -q "install ok installed"; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq jupyter-notebook >/dev/null
fi
run_args=(); jupyter_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data|--spec|--rows|--seed|--corrupt|--zoo|--run-id) run_args+=("$1" "$2"); shift 2 ;;
    *) jupyter_args+=("$1"); shift ;;
  esac
done
# the run configuration, as the notebooks read it (CTRLAB_* variables); own logs are checked against their spec here
eval "$(cd "$ROOT" && deno run -A cli/ctrlab.ts env "${run_args[@]}")"
cd "$ROOT/notebooks"
extra=(); [ "$(id -u)" -eq 0 ] && extra+=(--allow-root)
exec /usr/bin/jupyter notebook --ip 127.0.0.1 --no-browser --notebook-dir "$ROOT/notebooks" "${extra[@]}" "${jupyter_args[@]}"
