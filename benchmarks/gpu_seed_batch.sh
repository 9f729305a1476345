#!/usr/bin/env bash
# Seed batching on a GPU, every variant the experiment-sweep issue asks for, in one go.
#
# Runs with nothing but torch, numpy and pyyaml (the device machine's Python): the package is
# taken from include/ on PYTHONPATH, not installed. Each variant's Markdown table goes to
# stdout and to $OUT/seed_batch_<variant>.md (OUT defaults to ./gpu_seed_batch); the GPU and
# driver to $OUT/nvidia-smi.txt. The figures go in docs/benchmarks.md ("Seed-batched training").
#
#   bash benchmarks/gpu_seed_batch.sh             # 8 seeds, the recall example's production config
#   SEEDS=16 bash benchmarks/gpu_seed_batch.sh
#
# Every variant compares the batch with the same seeds run one after another in the same warm
# process with the same optimisations, and prints the largest per-seed accuracy difference
# (CUDA: float tolerance, as batched GEMMs round differently); --reference also runs the
# reference solution (recall.train_and_evaluate) seed by seed and compares against it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu_seed_batch}"
SEEDS="${SEEDS:-8}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD/include${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

{ nvidia-smi || echo "nvidia-smi: not found"; } > "$OUT/nvidia-smi.txt" 2>&1
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name(0))"

run() {  # run NAME ARGS...: one variant, its table kept
    local name="$1"; shift
    echo "== $name: bench_seed_batch.py --device cuda --seeds $SEEDS $*"
    "$PY" benchmarks/bench_seed_batch.py --device cuda --seeds "$SEEDS" "$@" | tee "$OUT/seed_batch_$name.md"
}

run plain --reference
run fused --optimizer fused
run compiled --compile reduce-overhead
run fused_compiled --optimizer fused --compile reduce-overhead
