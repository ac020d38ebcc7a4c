#!/usr/bin/env bash
# The GPU measurements of docs/gpu.md in one sitting, on a Linux server with an NVIDIA GPU (no network needed):
#   bash scripts/gpu-check.sh [OUTDIR]      in the project root: after npm ci, or with a bundle made there by
#                                           ../shared/gpu/pack.sh (.gpu-bundle), whose Node, packages and Vulkan
#                                           loader are used (the sources measured are this checkout's, not the bundle's)
# Prints the adapter and the device trainer checked against js; A-D and P on the device trainer beside PyTorch
# CUDA (eager, torch.compile, CUDA graph) where python3 has torch with CUDA; the per-pass cost curve, steps/s by
# steps per submission and where a step's time goes; and the paper-size sweep; every figure also as JSON in
# OUTDIR (default /tmp/gpu-check). Most important first; each step has its own time limit (9 minutes in all, and
# up to a minute to unpack).
set -u
out=$(mkdir -p "${1:-/tmp/gpu-check}" && cd "${1:-/tmp/gpu-check}" && pwd)
bundle=$(pwd)/.gpu-bundle
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  if [ -x /tmp/gpu-node/node ]; then export PATH=/tmp/gpu-node:$PATH
  elif [ -f "$bundle/node.xz" ]; then mkdir -p /tmp/gpu-node && xz -dc "$bundle/node.xz" > /tmp/gpu-node/node && chmod +x /tmp/gpu-node/node && export PATH=/tmp/gpu-node:$PATH
  else echo "gpu-check: no Node >= 20 (and no bundle to take it from)" >&2; exit 2; fi
fi
# The Vulkan loader from the bundle's Debian packages where the server lacks it (unpacked aside, no root needed).
if ! { /sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null; } | grep -q libvulkan.so.1 && [ -d "$bundle/debs" ] && command -v dpkg >/dev/null; then
  mkdir -p /tmp/gpu-libs && for f in "$bundle"/debs/*.deb; do dpkg -x "$f" /tmp/gpu-libs; done
  export LD_LIBRARY_PATH=/tmp/gpu-libs/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
if [ ! -e node_modules ]; then
  # Only the packages from the bundle: the code measured is this checkout's.
  if [ -f "$bundle/proj.tar.xz" ]; then
    rm -rf /tmp/gpu-proj && mkdir -p /tmp/gpu-proj && xz -dc "$bundle/proj.tar.xz" | tar -x -C /tmp/gpu-proj proj/node_modules && ln -s /tmp/gpu-proj/proj/node_modules node_modules
  else echo "gpu-check: run in the project root after npm ci, or with a bundle (../shared/gpu/pack.sh)" >&2; exit 2; fi
fi
tsx=node_modules/.bin/tsx
step() { local t=$1; shift; echo "=== $(date +%T) $*" | tee -a "$out/all.log"; timeout "$t" "$@" 2>&1 | tee -a "$out/all.log"; echo "--- rc ${PIPESTATUS[0]}" | tee -a "$out/all.log"; }
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && [ ! -f /usr/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
# SUPERPOSITION_WEBGPU_SOFTWARE=1 accepts a CPU rasteriser: a dry run of this script on a machine without a GPU.
sw=; [ "${SUPERPOSITION_WEBGPU_SOFTWARE:-}" = 1 ] && sw=--software
# The Python whose torch sees a CUDA device (the anchor columns), else one with torch at all.
python=python3
for p in python3 /usr/bin/python3; do if $p -c 'import torch' 2>/dev/null; then python=$p; break; fi; done
for p in python3 /usr/bin/python3; do if $p -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then python=$p; break; fi; done
echo "gpu-check: $(git rev-parse HEAD 2>/dev/null || echo 'no git') $(git status --porcelain 2>/dev/null | grep -q . && echo '(with uncommitted changes)')" | tee -a "$out/all.log"
step 20 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
step 60 $tsx scripts/backends.ts $sw
step 270 $tsx scripts/bench-train.ts --configs A,B,C,D,P --backend gpujs:webgpu --trainers device --anchors torch-cuda --python $python --runs 2 --steps 64 --json "$out/train.json"
step 100 $tsx scripts/bench-device.ts $sw --configs P,C,D --k 16,64,256 --json "$out/device.json"
step 90 $tsx scripts/bench-phase.ts --backends gpujs:webgpu --measure-steps 256 --python $python --json "$out/phase.json"
echo "=== $(date +%T) done; JSON in $out" | tee -a "$out/all.log"
