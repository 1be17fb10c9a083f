#!/usr/bin/env bash
# The speedrun on one node of 8×H100: FineWeb-Edu shards, a tokenizer trained on them, and base training of a
# depth-24 model under torchrun with the h100x8 preset.
#   bash runs/speedrun.sh            # the real run
#   bash runs/speedrun.sh --dry-run  # resolve and check the configuration, memory and hours; no GPU needed
# Environment: NUM_SHARDS (web shards to download, the validation shard included; default 400), NPROC (default 8),
# WANDB_RUN (a Weights & Biases run name; default dummy, i.e. off).
set -euo pipefail
cd "$(dirname "$0")/.."
bash runs/setup.sh >/dev/null
source .venv/bin/activate
base=$(python -c 'from nanochat_lit.common import base_dir; print(base_dir())')
NUM_SHARDS=${NUM_SHARDS:-400} NPROC=${NPROC:-8} WANDB_RUN=${WANDB_RUN:-dummy}
data="$base/data/fineweb-edu"
train=(torchrun --standalone --nproc_per_node="$NPROC" -m nanochat_lit.train --preset h100x8 --data-dir "$data" --run "$WANDB_RUN" --model-tag speedrun)

if [ "${1:-}" = "--dry-run" ]; then
  echo "== dry run: would run"
  echo "   nanochat_lit_data --sources web --num-shards $NUM_SHARDS --output $data"
  echo "   nanochat_lit_tok train --preset h100x8 --text-dir $data"
  echo "   nanochat_lit_tok eval --no-compare"
  echo "   ${train[*]}"
  echo "== training plan for $NPROC GPUs"
  nanochat_lit_train --preset h100x8 --device cuda --nproc-per-node "$NPROC" --dry-run --peak-tflops 989
  exit 0
fi
python -c 'import torch, sys; sys.exit(0 if torch.cuda.device_count() >= 1 else "error: no CUDA GPU; use --dry-run to check the plan")'
nanochat_lit_data --sources web --num-shards "$NUM_SHARDS" --output "$data"
nanochat_lit_tok train --preset h100x8 --text-dir "$data"
nanochat_lit_tok eval --no-compare
"${train[@]}"
