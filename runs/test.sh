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

echo "== nbdev-test: every notebook"
.venv/bin/nbdev-test --n-workers 2 --timing
echo "== pytest"
.venv/bin/python -m pytest -q
