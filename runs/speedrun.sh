#!/usr/bin/env bash
# The speedrun on one node of 8×H100: FineWeb-Edu shards and a tokenizer trained on them, base training of a depth-24
# model, then mid-training, SFT and RL, each followed by its evaluation; every stage under torchrun with the h100x8 preset.
#   bash runs/speedrun.sh            # the real run
#   bash runs/speedrun.sh --dry-run  # resolve and check every stage's configuration, memory and hours; no GPU needed
# The report card (report.md and report.html in the base directory's report/) is reset at the start and generated at the end.
# Environment: NUM_SHARDS (web shards to download, the validation shard included; default 400), NPROC (default 8),
# WANDB_RUN (a Weights & Biases run name; default dummy, i.e. off).
set -euo pipefail
cd "$(dirname "$0")/.."
bash runs/setup.sh >/dev/null
source .venv/bin/activate
base=$(python -c 'from nanochat_lit.common import base_dir; print(base_dir())')
NUM_SHARDS=${NUM_SHARDS:-400} NPROC=${NPROC:-8} WANDB_RUN=${WANDB_RUN:-dummy}
data="$base/data/fineweb-edu"
torchrun=(torchrun --standalone --nproc_per_node="$NPROC")
train=("${torchrun[@]}" -m nanochat_lit.train --preset h100x8 --run "$WANDB_RUN")
stages=(
  "${train[*]} --data-dir $data --model-tag speedrun"
  "${torchrun[*]} -m nanochat_lit.chat_eval base --model-tag speedrun"
  "${train[*]} --stage mid --source-tag speedrun"
  "${torchrun[*]} -m nanochat_lit.chat_eval chat --stage mid --model-tag speedrun"
  "${train[*]} --stage sft --source-tag speedrun"
  "${torchrun[*]} -m nanochat_lit.chat_eval chat --stage sft --model-tag speedrun"
  "${train[*]} --stage rl --source-tag speedrun"
  "${torchrun[*]} -m nanochat_lit.chat_eval chat --stage rl --model-tag speedrun -a GSM8K"
)

if [ "${1:-}" = "--dry-run" ]; then
  echo "== dry run: would run"
  echo "   nanochat_lit_report reset"
  echo "   nanochat_lit_data --sources web --num-shards $NUM_SHARDS --output $data"
  echo "   nanochat_lit_tok train --preset h100x8 --text-dir $data"
  echo "   nanochat_lit_tok eval --no-compare"
  printf '   %s\n' "${stages[@]}"
  echo "   nanochat_lit_report generate"
  echo "== base training plan for $NPROC GPUs"
  nanochat_lit_train --preset h100x8 --device cuda --nproc-per-node "$NPROC" --dry-run --peak-tflops 989
  for stage in mid sft rl; do
    echo "== $stage"
    nanochat_lit_train --stage "$stage" --preset h100x8 --source-tag speedrun --dry-run
  done
  exit 0
fi
python -c 'import torch, sys; sys.exit(0 if torch.cuda.device_count() >= 1 else "error: no CUDA GPU; use --dry-run to check the plan")'
nanochat_lit_report reset
nanochat_lit_data --sources web --num-shards "$NUM_SHARDS" --output "$data"
nanochat_lit_tok train --preset h100x8 --text-dir "$data"
nanochat_lit_tok eval --no-compare
for command in "${stages[@]}"; do
  echo "== $command"
  $command
done
# a scaling-law sweep in this base directory (runs/scaling_laws.sh, chapter 14) joins the report card
if [ -f "$base/scaling/results.csv" ]; then nanochat_lit_scaling fit; fi
nanochat_lit_report generate
