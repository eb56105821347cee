#!/usr/bin/env bash
# Packs what `bench:train` needs on a GPU machine that has no network (a device machine lent to a session):
# the deno binary, the npm packages the bench loads on WebGPU (their whole dependency closure, as
# `deno install` laid it out), and the Vulkan loader that Deno's WebGPU opens. Run it here after
# `bash scripts/setup.sh`; it writes .device/ (ignored by git), well under the 64 MiB a device call carries.
# On the device, with .device carried: `bash scripts/device_bench.sh` (it reads nothing else from the network).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ -x .tools/node_modules/deno/deno ] && [ -d node_modules/.deno ] || {
  echo "device_pack: run bash scripts/setup.sh first" >&2
  exit 1
}
rm -rf .device && mkdir -p .device

xz -T0 -9 -c .tools/node_modules/deno/deno >.device/deno.xz

# the packages' folders under node_modules/.deno, following each one's dependency links
declare -A seen=()
queue=(node_modules/onnxruntime-web node_modules/onnxruntime-common node_modules/onnx-proto)
dirs=("${queue[@]}") # the top-level links
while [ ${#queue[@]} -gt 0 ]; do
  real=$(realpath "${queue[0]}") && queue=("${queue[@]:1}")
  pkgdir=${real%/node_modules/*} # node_modules/.deno/<name>@<version>
  pkgdir=${pkgdir#"$ROOT"/}
  [ -n "${seen[$pkgdir]:-}" ] && continue
  seen[$pkgdir]=1
  dirs+=("$pkgdir")
  for dep in "$pkgdir"/node_modules/* "$pkgdir"/node_modules/@*/*; do
    [ -L "$dep" ] && queue+=("$(realpath "$dep")")
  done
done
# onnxruntime-web ships every variant; WebGPU in Deno loads the WebGPU bundle and its wasm
tar -cJf .device/node_modules.tar.xz \
  --exclude='*.map' --exclude='ort.webgl*' --exclude='ort.all*' --exclude='ort.wasm*' --exclude='ort.jspi*' \
  --exclude='ort.js' --exclude='ort.min.js' --exclude='ort.mjs' --exclude='ort.min.mjs' --exclude='ort.bundle*' \
  --exclude='*.jspi.*' --exclude='onnxruntime-web/lib' --exclude='onnxruntime-web/docs' \
  "${dirs[@]}"

# Debian's Vulkan loader, for a machine that has the GPU's driver but no loader (Deno's WebGPU needs one)
(cd .device && apt-get download libvulkan1 >/dev/null 2>&1) || {
  apt-get update -qq && (cd .device && apt-get download libvulkan1)
}

du -sh .device/*
echo "device_pack: $(du -sb .device | cut -f1) bytes in .device/"
