#!/usr/bin/env bash
# Set up .venv: pinned dependencies (torch first), the Rust tokenizer trainer, and nanochat_lit itself.
# Idempotent: a second run reuses what is there. Called by runs/runcpu.sh and runs/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
  echo "error: nanochat_lit needs Python 3.10 or newer; $PYTHON is $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.11 and rerun." >&2
  exit 2
}
[ -x .venv/bin/python ] || { echo "== creating .venv"; "$PYTHON" -m venv .venv; }
pip() { .venv/bin/python -m pip --disable-pip-version-check "$@"; }

echo "== installing pinned dependencies (torch first)"
pip install -q torch==2.13.0
pip install -q -r requirements.txt

echo "== building the Rust BPE trainer (rustbpe)"
bash runs/setup_rust.sh
stamp=".venv/rustbpe-$(cat rustbpe/Cargo.toml rustbpe/pyproject.toml rustbpe/src/*.rs | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  pip install -q ./rustbpe
  rm -f .venv/rustbpe-*
  touch "$stamp"
fi

pip install -q --no-deps -e .
echo "== set-up done: $(.venv/bin/python -c 'import nanochat_lit, torch, rustbpe; print(f"nanochat_lit {nanochat_lit.__version__}, torch {torch.__version__}, rustbpe ok")')"
