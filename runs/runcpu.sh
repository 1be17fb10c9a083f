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
echo "== summary: set-up and environment report done in $((SECONDS - start)) s."
echo "   Next: open nbs/ in JupyterLab with .venv, or run the tests with: bash runs/test.sh"
