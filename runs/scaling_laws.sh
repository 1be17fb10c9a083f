#!/usr/bin/env bash
# nanochat's scaling-law sweep on one node of 8×H100 (chapter 14): web shards and a tokenizer trained on them, then each depth
# trained to exactly each FLOPs budget under torchrun with the h100x8 preset, one row per run in <base>/scaling/results.csv
# (a rerun skips the runs the CSV holds), then the IsoFLOP fit: its tables, its figure in <base>/scaling/results_fit.png, and
# the report card's section (report.md and report.html in <base>/report/).
#   bash runs/scaling_laws.sh            # the real sweep: 24 runs, about 8 hours of 8×H100 at 45% MFU (the dry run sums them)
#   bash runs/scaling_laws.sh --dry-run  # every run's plan (steps, tokens, tokens per parameter, hours at 45% MFU); no GPU needed
# Environment: BUDGETS (default nanochat's 1e18,2.15e18,4.64e18,1e19), DEPTHS (default 10,12,14,16,18,20), NUM_SHARDS (web
# shards to download, the validation shard included; default 1000, as nanochat's runs/miniseries.sh), NPROC (default 8).
set -euo pipefail
cd "$(dirname "$0")/.."
bash runs/setup.sh >/dev/null
source .venv/bin/activate
base=$(python -c 'from nanochat_lit.common import base_dir; print(base_dir())')
BUDGETS=${BUDGETS:-1e18,2.15e18,4.64e18,1e19} DEPTHS=${DEPTHS:-10,12,14,16,18,20} NUM_SHARDS=${NUM_SHARDS:-1000} NPROC=${NPROC:-8}
data="$base/data/fineweb-edu"
# the final evaluation over nanochat's 100 x 524,288 tokens; the h100x8 preset's 16 rows per GPU fit every depth up to 24; each
# depth at the dial's batch for its size (--total-batch-size -1), as nanochat's sweep does, not the preset's fixed 524,288
sweep=(--preset h100x8 --budgets "$BUDGETS" --depths "$DEPTHS" --data-dir "$data" --eval-tokens $((100 * 524288)) --total-batch-size -1)

if [ "${1:-}" = "--dry-run" ]; then
  echo "== dry run: would run"
  echo "   nanochat_lit_data --sources web --num-shards $NUM_SHARDS --output $data"
  echo "   nanochat_lit_tok train --preset h100x8 --text-dir $data"
  echo "   torchrun --standalone --nproc_per_node=$NPROC -m nanochat_lit.scaling sweep ${sweep[*]}"
  echo "   nanochat_lit_scaling fit"
  echo "   nanochat_lit_report generate"
  echo "== the sweep's runs on $NPROC GPUs"
  nanochat_lit_scaling sweep "${sweep[@]}" --vocab-size 32768 --peak-tflops 989 --dry-run  # the tokenizer the sweep trains first
  exit 0
fi
python -c 'import torch, sys; sys.exit(0 if torch.cuda.device_count() >= 1 else "error: no CUDA GPU; use --dry-run to check the plan")'
nanochat_lit_data --sources web --num-shards "$NUM_SHARDS" --output "$data"
nanochat_lit_tok train --preset h100x8 --text-dir "$data"
torchrun --standalone --nproc_per_node="$NPROC" -m nanochat_lit.scaling sweep "${sweep[@]}"
nanochat_lit_scaling fit
nanochat_lit_report generate
