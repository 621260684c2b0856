#!/usr/bin/env bash
# Both GPU benchmarks of issue 6 in one go, for a lent H100/H200: torch + torchvision + resnet_core only.
# Sized for about 6-8 minutes (compile times on a cold machine are the unknown); each part has its own time
# limit and prints progress lines, so a cut-short run still reports what it measured. Tables land in $OUT.
#   bash benchmarks/gpu_all.sh                                 # everything
#   DEPTHS=20,56 COMPILE=off,on bash benchmarks/gpu_all.sh     # less, when device time is short
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp}"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv || true
timeout "${EPOCH_LIMIT:-480}" python benchmarks/gpu_epoch.py --depths "${DEPTHS:-20,56,110}" \
    --compile "${COMPILE:-off,on,cudagraphs}" 2>&1 | tee "$out/gpu_epoch.txt"
timeout "${PACKING_LIMIT:-150}" python benchmarks/gpu_packing.py 2>&1 | tee "$out/gpu_packing.txt"
