#!/usr/bin/env bash
# A 6 GB laptop GPU (RTX 4050 class): tokenizer, dataset and base training with the laptop-6gb preset.
#   bash runs/laptop_gpu.sh            # the real run (needs a CUDA GPU)
#   bash runs/laptop_gpu.sh --dry-run  # resolve and check the configuration, estimate memory; no GPU needed
# Set PEAK_TFLOPS to your GPU's dense bf16 peak to get a time estimate in the dry run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash runs/setup.sh >/dev/null
source .venv/bin/activate
base=$(python -c 'from nanochat_lit.common import base_dir; print(base_dir())')
train=(nanochat_lit_train --preset laptop-6gb --data-dir "$base/data/laptop" --model-tag laptop)

if [ "${1:-}" = "--dry-run" ]; then
  echo "== dry run: would run"
  echo "   nanochat_lit_tok train --preset laptop-6gb"
  echo "   nanochat_lit_data --preset laptop-6gb --output $base/data/laptop"
  echo "   ${train[*]}"
  echo "== training plan"
  "${train[@]}" --device cuda --dry-run ${PEAK_TFLOPS:+--peak-tflops "$PEAK_TFLOPS"}
  exit 0
fi
python -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "error: no CUDA GPU; use runs/runcpu.sh, or --dry-run to check the plan")'
nanochat_lit_tok train --preset laptop-6gb
nanochat_lit_data --preset laptop-6gb --output "$base/data/laptop"
"${train[@]}"
