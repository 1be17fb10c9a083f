#!/usr/bin/env bash
# The Chinese speedrun on one node of 8×H100, with the zh preset that chapter 11b's decision tree made: shards of your Chinese
# and English text, a bilingual tokenizer trained on them, base training at 25 tokens per parameter with the guide's lower
# matrix learning rate, then mid-training and SFT on English and Chinese tasks, each followed by a chat evaluation on the
# Chinese tasks; every stage under torchrun.
#   TEXT_DIR=/data/zh-en bash runs/chinese.sh   # the real run: TEXT_DIR holds Chinese and English text, about 70:30
#   bash runs/chinese.sh --dry-run               # print the plan and the text it needs, check every stage; no GPU needed
# No web-scale Chinese corpus ships with nanochat_lit (chapter 11), so the text is yours: .txt, .md, .jsonl or .parquet files
# (FineWeb-Edu and a Chinese web corpus, say); the dry run says how many characters and shards the model reads.
# The report card (report.md and report.html in the base directory's report/) is reset at the start and generated at the end.
# Environment: TEXT_DIR (the real run), NPROC (default 8), WANDB_RUN (a Weights & Biases run name; default dummy, i.e. off).
set -euo pipefail
cd "$(dirname "$0")/.."
bash runs/setup.sh >/dev/null
source .venv/bin/activate
base=$(python -c 'from nanochat_lit.common import base_dir; print(base_dir())')
NPROC=${NPROC:-8} WANDB_RUN=${WANDB_RUN:-dummy}
data="$base/data/zh"
recipe=(python -m nanochat_lit.zh_recipe)
lr=$("${recipe[@]}" flags --preset zh)  # the guide's matrix learning rate for Chinese, which a preset cannot hold
zh_offline=ZhDictionary,ZhPoetry,ZhIdioms  # chapter 11a's Chinese tasks built from registry data
zh_tasks=$zh_offline,C-Eval,CMMLU  # and the Chinese benchmarks, read from the hub
torchrun=(torchrun --standalone --nproc_per_node="$NPROC")
train=("${torchrun[@]}" -m nanochat_lit.train --preset zh --run "$WANDB_RUN")
stages=(
  "${train[*]} $lr --data-dir $data --model-tag zh"
  "${torchrun[*]} -m nanochat_lit.chat_eval base --model-tag zh"
  "${train[*]} --stage mid --source-tag zh --languages en,zh"
  "${torchrun[*]} -m nanochat_lit.chat_eval chat --stage mid --model-tag zh -a $zh_tasks"
  "${train[*]} --stage sft --source-tag zh --languages en,zh --chat-eval ARC-Easy,MMLU,$zh_offline"
  "${torchrun[*]} -m nanochat_lit.chat_eval chat --stage sft --model-tag zh -a ARC-Easy,MMLU,GSM8K,$zh_tasks"
)

if [ "${1:-}" = "--dry-run" ]; then
  echo "== dry run: would run"
  echo "   nanochat_lit_report reset"
  echo "   nanochat_lit_data --text-dir ${TEXT_DIR:-\$TEXT_DIR} --output $data"
  echo "   nanochat_lit_tok train --preset zh --text-dir $data"
  echo "   nanochat_lit_tok eval --no-compare"
  echo "   ${recipe[*]} plan --preset zh --tokenizer-dir $base/tokenizer"
  printf '   %s\n' "${stages[@]}"
  echo "   nanochat_lit_report generate"
  echo "== the recipe and the text it needs"
  "${recipe[@]}" plan --preset zh
  echo "== base training plan for $NPROC GPUs"
  nanochat_lit_train --preset zh $lr --device cuda --nproc-per-node "$NPROC" --dry-run --peak-tflops 989
  for stage in mid sft; do
    echo "== $stage"
    nanochat_lit_train --stage "$stage" --preset zh --source-tag zh --languages en,zh --dry-run
  done
  exit 0
fi
python -c 'import torch, sys; sys.exit(0 if torch.cuda.device_count() >= 1 else "error: no CUDA GPU; use --dry-run to check the plan")'
[ -n "${TEXT_DIR:-}" ] || {
  echo "error: set TEXT_DIR to a folder of Chinese and English text, about 70:30; bash runs/chinese.sh --dry-run says how much" >&2
  exit 2
}
nanochat_lit_report reset
nanochat_lit_data --text-dir "$TEXT_DIR" --output "$data"
nanochat_lit_tok train --preset zh --text-dir "$data"
nanochat_lit_tok eval --no-compare
"${recipe[@]}" plan --preset zh --tokenizer-dir "$base/tokenizer"  # the text needed, measured with the tokenizer just trained
for command in "${stages[@]}"; do
  echo "== $command"
  $command
done
nanochat_lit_report generate
