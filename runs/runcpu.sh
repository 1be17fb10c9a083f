#!/usr/bin/env bash
# The whole pipeline on a 2-core CPU, from a bare machine to a chat model that answers: set-up, then offline corpora ->
# tokenizer -> dataset -> base training of a depth-4 model -> mid-training -> SFT -> a short RL run -> a quick chat
# evaluation -> the chat model's streamed answers to two questions. Each stage prints its time; about 30 minutes after set-up.
# Every stage writes its section of the report card, which the end assembles into report.md and report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash runs/setup.sh
source .venv/bin/activate
base=$(python -c 'from nanochat_lit.common import base_dir; print(base_dir())')
nanochat_lit_report reset
start=$SECONDS
timings=()
stage() {  # stage NAME COMMAND...: run it under a heading and remember how long it took
  local name=$1 began=$SECONDS; shift
  echo; echo "== $name"
  "$@"
  timings+=("$(printf '%-14s %5d s' "$name" $((SECONDS - began)))")
  echo "-- $name: $((SECONDS - began)) s"
}
tokenizer() { nanochat_lit_tok train --preset cpu && nanochat_lit_tok eval; }
answers() {
  for question in "What is the capital of France?" "Why is the sky blue?"; do
    echo "> $question"
    nanochat_lit_chat --stage "$1" --model-tag cpu-d4 --temperature 0 --max-tokens 96 -p "$question"
  done
}

stage environment nanochat_lit_env --preset cpu
stage tokenizer tokenizer
stage dataset nanochat_lit_data --preset cpu --output "$base/data/cpu"
stage base nanochat_lit_train --preset cpu --data-dir "$base/data/cpu" --model-tag cpu-d4
# The later stages train on the offline mixtures (registry data): the hub mixtures are far too large for a CPU.
stage mid nanochat_lit_train --stage mid --preset cpu --source-tag cpu-d4 --data offline
stage sft nanochat_lit_train --stage sft --preset cpu --source-tag cpu-d4 --data offline --lr-frac 0.2
# Each stage's --lr-frac multiplies the rates of the stage before it (chapter 8): SFT at 0.2 of mid-training's, RL at 0.25 of SFT's,
# so RL trains at 0.05 of base training's rates, as nanochat's RL does.
stage rl nanochat_lit_train --stage rl --preset cpu --source-tag cpu-d4 --data offline --lr-frac 0.25 --num-iterations 30 --prompts-per-step 4 \
  --num-samples 4 --max-new-tokens 128 --eval-every 15 --eval-problems 40 --eval-samples 4
stage evaluation nanochat_lit_eval chat --stage rl --model-tag cpu-d4 -a ARC-Easy,MMLU,SpellingBee,GSM8K --max-per-task 50 --max-tokens 128
stage answers answers rl
# a scaling-law sweep in this base directory (chapter 14) joins the report card: its fit, tables and figure
if [ -f "$base/scaling/results.csv" ]; then stage scaling nanochat_lit_scaling fit; fi
stage report nanochat_lit_report generate

echo; echo "== summary ($((SECONDS - start)) s after set-up)"
printf '  %s\n' "${timings[@]}"
python - "$base" <<'PY'
import json, sys
from pathlib import Path
checkpoints = Path(sys.argv[1])/'checkpoints'
for stage, metric in [('base', 'val_bpb'), ('mid', 'val_bpb'), ('sft', 'val_loss'), ('rl', 'pass@1')]:
    records = [json.loads(l) for l in (checkpoints/stage/'cpu-d4'/'metrics.jsonl').read_text().splitlines()]
    steps = [r for r in records if 'loss' in r]
    values = [r[metric] for r in records if r.get(metric) is not None]
    print(f"  {stage:5s} {len(steps):4d} steps, loss {steps[0]['loss']:.3f} -> {steps[-1]['smooth_loss']:.3f}, "
          f"{metric} {values[0]:.3f} -> {values[-1]:.3f}" if values else '')
    gains = [r['copy_gain'] for r in records if 'copy_gain' in r]
    if gains: print(f"        copy_gain {gains[-1]:.3f} nats/token (in-context copying, chapter 5: near 0 means the model cannot yet repeat a word of its prompt)")
PY
echo "  report card: $base/report/report.html (one page, open it in a browser), or report.md beside it"
echo "  next: chat with it (nanochat_lit_chat, or nanochat_lit_web for the browser), read the chapters in JupyterLab"
echo "        (.venv/bin/jupyter lab nbs/), or run the tests: bash runs/test.sh"
