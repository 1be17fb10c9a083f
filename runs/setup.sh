#!/usr/bin/env bash
# Set up .venv: pinned dependencies (torch first), the Rust tokenizer trainer, and nanochat_lit itself.
# With uv on PATH it runs `uv sync` (pyproject.toml's extras and groups, pinned to requirements.txt by [tool.uv]), as nanochat's
# scripts do; otherwise pip. INSTALLER=pip forces pip; INSTALLER=uv forces uv, installing it from PyPI with pip when missing.
# TORCH_BUILD=cpu or gpu picks uv's PyTorch build (default: gpu where nvidia-smi sees a GPU).
# Idempotent: a second run reuses what is there. Called by runs/runcpu.sh and runs/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11, 5))' || {
  echo "error: the pins of requirements.txt need Python 3.11.5 or newer; $PYTHON is $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.12 and rerun." >&2
  exit 2
}
INSTALLER=${INSTALLER:-$(command -v uv >/dev/null && echo uv || echo pip)}
case $INSTALLER in uv|pip) ;; *) echo "error: INSTALLER=$INSTALLER is neither uv nor pip; unset it to pick uv when installed, pip otherwise." >&2; exit 2;; esac
TORCH_BUILD=${TORCH_BUILD:-$(nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)}

echo "== preparing the Rust BPE trainer's crates (rustbpe)"
bash runs/setup_rust.sh

# uv reads no pip configuration: print the exports that hand it pip's index, extra indexes and find-links, and take torch from
# there as pip does, rather than from PyTorch's CPU index. pip picks the best version of all its indexes for this one Python;
# uv resolves for every platform at once, so it asks pip's index first and the extra ones (here partial local mirrors) after.
pip_settings_for_uv() {
  "$PYTHON" - <<'PY'
import shlex, subprocess, sys
listing = subprocess.run([sys.executable, '-m', 'pip', 'config', 'list'], capture_output=True, text=True).stdout
settings = dict(line.split('=', 1) for line in listing.splitlines() if '=' in line)
def pip_setting(name):  # environment variables beat the [install] section, which beats [global]
    return next((settings[f'{section}.{name}'].strip("'") for section in (':env:', 'install', 'global') if f'{section}.{name}' in settings), '')
index, extra_indexes, find_links = pip_setting('index-url'), pip_setting('extra-index-url').split(), pip_setting('find-links').split()
exports = {'UV_DEFAULT_INDEX': index, 'UV_INDEX': ' '.join([index or 'https://pypi.org/simple', *extra_indexes]) if extra_indexes else '',
           'UV_FIND_LINKS': ','.join(find_links)}
exports = {variable: value for variable, value in exports.items() if value}
if exports: exports['UV_NO_SOURCES_PACKAGE'] = 'torch'
for variable, value in exports.items(): print(f'export {variable}={shlex.quote(value)}')
PY
}

if [ "$INSTALLER" = uv ]; then
  UV=$(command -v uv || true)
  if [ -z "$UV" ]; then
    tools="${XDG_CACHE_HOME:-$HOME/.cache}/nanochat_lit/uv"
    echo "== installing uv from PyPI with pip into $tools"
    "$PYTHON" -m pip install -q --disable-pip-version-check --target "$tools" uv
    UV="$tools/bin/uv"
  fi
  eval "$(pip_settings_for_uv)"
  echo "== uv sync --extra $TORCH_BUILD (pinned dependencies, rustbpe, nanochat_lit editable)${UV_NO_SOURCES_PACKAGE:+; torch from the index pip uses}"
  "$UV" sync -q --python "$PYTHON" --extra "$TORCH_BUILD"
else
  [ -x .venv/bin/python ] || { echo "== creating .venv"; "$PYTHON" -m venv .venv; }
  pip() { .venv/bin/python -m pip --disable-pip-version-check "$@"; }
  echo "== pip: installing pinned dependencies (torch first)"
  pip install -q torch==2.13.0
  pip install -q -r requirements.txt
  stamp=".venv/rustbpe-$(cat rustbpe/Cargo.toml rustbpe/pyproject.toml rustbpe/src/*.rs | sha256sum | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    pip install -q ./rustbpe
    rm -f .venv/rustbpe-*
    touch "$stamp"
  fi
  pip install -q --no-deps -e .
fi
echo "== set-up done with $INSTALLER: $(.venv/bin/python -c 'import nanochat_lit, torch, rustbpe; print(f"nanochat_lit {nanochat_lit.__version__}, torch {torch.__version__}, rustbpe ok")')"
