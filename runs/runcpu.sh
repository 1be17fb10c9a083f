#!/usr/bin/env bash
# The CPU pipeline on a fresh machine: set-up, offline corpora -> tokenizer -> dataset -> ~10 minutes of base
# training of a depth-4 model on 2 cores -> validation bits per byte and samples -> a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
bash runs/setup.sh
source .venv/bin/activate
base=$(python -c 'from nanochat_lit.common import base_dir; print(base_dir())')

echo "== environment"
nanochat_lit_env --preset cpu

echo; echo "== tokenizer: train on the offline English corpora, then measure compression on held-out text"
nanochat_lit_tok train --preset cpu
nanochat_lit_tok eval

echo; echo "== dataset: parquet shards from the offline corpora"
nanochat_lit_data --preset cpu --output "$base/data/cpu"

echo; echo "== base training (preset cpu)"
nanochat_lit_train --preset cpu --data-dir "$base/data/cpu" --model-tag cpu-d4

echo; echo "== summary ($((SECONDS - start)) s)"
python - "$base" <<'PY'
import json, sys
from pathlib import Path
run = Path(sys.argv[1])/'checkpoints'/'base'/'cpu-d4'
records = [json.loads(l) for l in (run/'metrics.jsonl').read_text().splitlines()]
steps = [r for r in records if 'loss' in r]
bpb = [r for r in records if 'val_bpb' in r]
print(f"  tokenizer:  {Path(sys.argv[1])/'tokenizer'}")
print(f"  model:      {run} ({len(steps)} steps, {sum(r['tokens_per_sec'] for r in steps) / len(steps):,.0f} tokens/s on average)")
print(f"  train loss: {steps[0]['loss']:.3f} -> {steps[-1]['smooth_loss']:.3f}")
print(f"  val bpb:    " + ' -> '.join(f"{r['val_bpb']:.3f} (step {r['step']})" for r in bpb))
PY
echo "  next: read and run the chapters in JupyterLab (.venv/bin/jupyter lab nbs/), or run the tests: bash runs/test.sh"
echo "        see what the model writes: .venv/bin/nanochat_lit_chat --stage base --model-tag cpu-d4 -p \"The kernel\" (chapter 12)"
