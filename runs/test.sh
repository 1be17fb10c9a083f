#!/usr/bin/env bash
# Everything the project checks: notebooks in sync with the package and clean, every notebook run, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash runs/setup.sh

# The docs check drives a real browser.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "== installing chromium and chromium-driver (Debian) for the docs check"
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

tree_hash() { find "$@" -type f \( -name '*.py' -o -name '*.ipynb' \) -print0 | sort -z | xargs -0 sha256sum | sha256sum; }
echo "== nbs/ and nanochat_lit/ in sync and clean"
before=$(tree_hash nanochat_lit nbs)
.venv/bin/nbdev-export
.venv/bin/nbdev-clean
if [ "$before" != "$(tree_hash nanochat_lit nbs)" ]; then
  echo "error: nbdev-export or nbdev-clean changed files: the package was hand-edited or a notebook is not clean." >&2
  echo "       Review 'git diff nanochat_lit nbs', commit the regenerated files, and edit notebooks, never nanochat_lit/." >&2
  exit 1
fi

# Every notebook runs in a finished run's base directory (toy size), as a learner runs the chapters after runs/runcpu.sh:
# the demos must leave that run's tokenizer, data, checkpoints and report byte-identical.
echo "== nbdev-test: every notebook, in a finished run's base directory"
finished=$(mktemp -d -t nanochat_lit_finished_run_XXXX)
trap 'rm -rf "$finished"' EXIT
.venv/bin/python tools/finished_run.py make "$finished"
NANOCHAT_LIT_BASE_DIR="$finished" .venv/bin/nbdev-test --n-workers 2 --timing
.venv/bin/python tools/finished_run.py check "$finished"
echo "== pytest"
.venv/bin/python -m pytest -q
