#!/usr/bin/env bash
# A 6 GB laptop GPU (RTX 4050 class): tokenizer, dataset, base training with the laptop-6gb preset, then mid-training,
# SFT and RL on the offline mixtures, and a chat evaluation; the report card is reset at the start and generated at the end.
#   bash runs/laptop_gpu.sh            # the real run (needs a CUDA GPU)
#   bash runs/laptop_gpu.sh --dry-run  # resolve and check every stage's configuration, estimate memory; no GPU needed
# Set PEAK_TFLOPS to your GPU's dense bf16 peak to get a time estimate in the dry run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash runs/setup.sh >/dev/null
source .venv/bin/activate
base=$(python -c 'from nanochat_lit.common import base_dir; print(base_dir())')
train=(nanochat_lit_train --preset laptop-6gb)
stages=(
  "${train[*]} --data-dir $base/data/laptop --model-tag laptop"
  "${train[*]} --stage mid --source-tag laptop --data offline"
  "${train[*]} --stage sft --source-tag laptop --data offline"
  "${train[*]} --stage rl --source-tag laptop --data offline"
  "nanochat_lit_eval chat --stage rl --model-tag laptop -a ARC-Easy,ARC-Challenge,MMLU,GSM8K,SpellingBee"
)

if [ "${1:-}" = "--dry-run" ]; then
  echo "== dry run: would run"
  echo "   nanochat_lit_report reset"
  echo "   nanochat_lit_tok train --preset laptop-6gb"
  echo "   nanochat_lit_data --preset laptop-6gb --output $base/data/laptop"
  printf '   %s\n' "${stages[@]}"
  echo "   nanochat_lit_report generate"
  echo "== base training plan"
  "${train[@]}" --device cuda --dry-run ${PEAK_TFLOPS:+--peak-tflops "$PEAK_TFLOPS"}
  for stage in mid sft rl; do
    echo "== $stage"
    "${train[@]}" --stage "$stage" --source-tag laptop --data offline --dry-run
  done
  exit 0
fi
python -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "error: no CUDA GPU; use runs/runcpu.sh, or --dry-run to check the plan")'
nanochat_lit_report reset
nanochat_lit_tok train --preset laptop-6gb
nanochat_lit_data --preset laptop-6gb --output "$base/data/laptop"
for command in "${stages[@]}"; do
  echo "== $command"
  $command
done
nanochat_lit_report generate
