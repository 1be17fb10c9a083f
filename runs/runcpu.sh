#!/usr/bin/env bash
# The CPU pipeline on a fresh machine: set-up, then every stage that exists so far, then a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
bash runs/setup.sh
source .venv/bin/activate

echo "== environment"
nanochat_lit_env --preset cpu

echo
echo "== tokenizer: train on the offline English corpora, then measure compression on held-out text"
nanochat_lit_tok train --preset cpu
nanochat_lit_tok eval

base=$(python -c 'from nanochat_lit.common import base_dir; print(base_dir())')
echo
echo "== summary ($((SECONDS - start)) s)"
echo "   environment: reported above (preset cpu)"
echo "   tokenizer:   $base/tokenizer (compression table above)"
echo "   next: open nbs/ in JupyterLab with .venv, or run the tests with: bash runs/test.sh"
