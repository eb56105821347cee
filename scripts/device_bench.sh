#!/usr/bin/env bash
# bench:train's WebGPU side beside PyTorch on CUDA, on a GPU machine with no network: unpacks what
# scripts/device_pack.sh put in .device/ (carry it), then runs one short, alternating bench and writes its log to
# $OUT/bench_gpu.log. Set-up takes seconds; the bench about 5 minutes.
#   BENCH_ARGS  the bench's arguments (default below)   TORCH  a Python that imports torch (default python3)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/artifacts}
[ -f .device/deno.xz ] || {
  echo "device_bench: no .device/ (run bash scripts/device_pack.sh here, then carry .device)" >&2
  exit 1
}
BIN=$(mktemp -d)
xz -dc .device/deno.xz >"$BIN/deno" && chmod +x "$BIN/deno"
# only a bare checkout (the device machine's copy) gets the packed node_modules: never replace a set-up one
if [ -e node_modules ] && [ ! -f node_modules/.from-device-pack ]; then
  echo "device_bench: node_modules is already set up here; this script is for a bare GPU machine" >&2
  exit 1
fi
rm -rf node_modules && tar -xJf .device/node_modules.tar.xz && touch node_modules/.from-device-pack
if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  for f in .device/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
# the NVIDIA driver's Vulkan and EGL files where the device machines mount them
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
export PATH="$BIN:$PATH" DENO_NO_UPDATE_CHECK=1 NPM_CONFIG_REGISTRY=http://127.0.0.1:9/ DENO_DIR="$BIN/cache"
[ -n "${XDG_RUNTIME_DIR:-}" ] || export XDG_RUNTIME_DIR="$BIN/xdg" && mkdir -p -m 700 "$XDG_RUNTIME_DIR"
nvidia-smi -L 2>/dev/null || true
set -o pipefail
# shellcheck disable=SC2086
deno run -A bench/train_bench.ts ${BENCH_ARGS:---backends webgpu --batches 1024,4096 --models dnn,mmoe,din-L20 --rounds 3 --seconds 3 --torch-device cuda} \
  --torch "${TORCH:-python3}" 2>&1 | tee "$OUT/bench_gpu.log"
