# Sourced by the scripts: Deno on PATH, the committed Jupyter kernelspec, quiet colours.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$ROOT/.tools/node_modules/.bin:$PATH"
export JUPYTER_PATH="$ROOT/jupyter"
export DENO_NO_UPDATE_CHECK=1
export DENO_V8_FLAGS=--expose-gc  # lets lib/util/memory.ts free nodejs-polars frames between phases
# Mesa's software Vulkan (the WebGPU adapter on GPU-less machines) wants a runtime dir
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/ctrlab-xdg-$(id -u)"; mkdir -p -m 700 "$XDG_RUNTIME_DIR"; fi
