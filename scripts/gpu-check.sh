#!/usr/bin/env bash
# The GPU measurements of docs/gpu.md in one sitting, on a Linux server with an NVIDIA GPU (no network needed):
#   bash scripts/gpu-check.sh [OUTDIR]          (in the project root, after npm ci; or after ../shared/gpu/check.sh
#                                               unpacked the bundle: it then runs in /tmp/gpu-proj/proj)
# Prints the adapter and the device trainer checked against js, the per-pass cost curve and steps/s by steps per
# submission, A-D and P on the device trainer beside PyTorch CUDA (eager, torch.compile, CUDA graph) where
# python3 has torch with CUDA, and the paper-size sweep; every figure also as JSON in OUTDIR (default
# /tmp/gpu-check). Each step has its own time limit; the whole takes about 8 minutes on one H100.
set -u
out=$(mkdir -p "${1:-/tmp/gpu-check}" && cd "${1:-/tmp/gpu-check}" && pwd)
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  if [ -x /tmp/gpu-node/node ]; then export PATH=/tmp/gpu-node:$PATH
  elif [ -f .gpu-bundle/node.xz ]; then mkdir -p /tmp/gpu-node && xz -dc .gpu-bundle/node.xz > /tmp/gpu-node/node && chmod +x /tmp/gpu-node/node && export PATH=/tmp/gpu-node:$PATH
  else echo "gpu-check: no Node >= 20 (and no bundle to take it from)" >&2; exit 2; fi
fi
[ -d node_modules ] || { [ -d /tmp/gpu-proj/proj/node_modules ] && cd /tmp/gpu-proj/proj; } || { echo "gpu-check: run in the project root after npm ci" >&2; exit 2; }
tsx=node_modules/.bin/tsx
step() { local t=$1; shift; echo "=== $(date +%T) $*" | tee -a "$out/all.log"; timeout "$t" "$@" 2>&1 | tee -a "$out/all.log"; echo "--- rc ${PIPESTATUS[0]}" | tee -a "$out/all.log"; }
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && [ ! -f /usr/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
# SUPERPOSITION_WEBGPU_SOFTWARE=1 accepts a CPU rasteriser: a dry run of this script on a machine without a GPU.
sw=; [ "${SUPERPOSITION_WEBGPU_SOFTWARE:-}" = 1 ] && sw=--software
python=python3; [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch' 2>/dev/null && python=/usr/bin/python3
step 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
step 90 $tsx scripts/backends.ts $sw
step 150 $tsx scripts/bench-device.ts $sw --configs P,C,D --k 16,64,256 --json "$out/device.json"
step 240 $tsx scripts/bench-train.ts --configs A,B,C,D,P --backend gpujs:webgpu --anchors torch-cuda --python $python --steps 20 --json "$out/train.json"
step 120 $tsx scripts/bench-phase.ts --backends gpujs:webgpu --measure-steps 256 --python $python --json "$out/phase.json"
echo "=== $(date +%T) done; JSON in $out" | tee -a "$out/all.log"
