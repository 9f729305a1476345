#!/usr/bin/env bash
# Seed batching on a GPU: everything the GPU issue asks for, in one process and one time budget.
#
# Runs with nothing but torch, numpy and pyyaml (the device machine's Python): the package is
# taken from include/ on PYTHONPATH, not installed. benchmarks/gpu_seed_batch.py does the work
# (its docstring lists the phases); this wrapper keeps the GPU's description beside its figures:
# $OUT/gpu_seed_batch.json (every phase, written as each ends), $OUT/nvidia-smi.txt, $OUT/log.txt.
# The figures go in docs/benchmarks.md ("Seed-batched training").
#
#   bash benchmarks/gpu_seed_batch.sh                      # 8 and 16 seeds, production config
#   BUDGET=300 SEEDS=8 bash benchmarks/gpu_seed_batch.sh   # start no phase after 300 s
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu_seed_batch}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD/include${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 CUBLAS_WORKSPACE_CONFIG=:4096:8

{ nvidia-smi || echo "nvidia-smi: not found"; } > "$OUT/nvidia-smi.txt" 2>&1
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name(0))"
"$PY" benchmarks/gpu_seed_batch.py --device cuda --seeds "${SEEDS:-8,16}" --budget "${BUDGET:-400}" --out "$OUT" \
    2>&1 | tee "$OUT/log.txt"
