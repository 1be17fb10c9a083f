"""A finished run's base directory, to check that the chapters leave a learner's files alone.

    python tools/finished_run.py make DIR    # a small run's files: tokenizer, dataset, a checkpoint of every stage, report card
    python tools/finished_run.py check DIR   # exit 1, naming each file, if anything outside the download caches changed

runs/test.sh runs every notebook (nbdev-test) with NANOCHAT_LIT_BASE_DIR=DIR between the two, as a learner runs the chapters after
runs/runcpu.sh. The download caches (corpora, task data, CORE data) are symlinks to the usual base directory's, so nothing is
fetched twice, and the check leaves them out: fetching data is what they are for. Everything else must come out byte-identical,
with nothing added: a demo that writes a tokenizer, a checkpoint, a dataset or a report section works in a scratch directory.
"""
import hashlib, json, os, sys
from dataclasses import asdict
from pathlib import Path

import torch

from nanochat_lit.checkpoint import save_checkpoint
from nanochat_lit.common import DOWNLOAD_CACHES, base_dir, env_vars, write_report_section
from nanochat_lit.dataset import prepare_dataset
from nanochat_lit.gpt import build_model, config_from_depth
from nanochat_lit.report import generate, reset
from nanochat_lit.tokenizer import Tokenizer
from nanochat_lit.train import MODEL_RECIPE

MANIFEST = '.finished_run.json'
TAG, STAGES = 'cpu-d4', ('base', 'mid', 'sft', 'rl')
TEXT = ("The cat sat on the mat. Why is the sky blue? Sunlight scatters off the air. What is the capital of France? Paris. "
        "def fibonacci(n): return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)\n")


def files(root:Path) -> dict:
    "{relative path: sha256} of every file under `root`, leaving out the caches and the manifest."
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob('*'))
            if p.is_file() and p.relative_to(root).parts[0] not in (*DOWNLOAD_CACHES, MANIFEST)}


def make(root:Path):
    "Write what runs/runcpu.sh leaves behind, at toy size, then the manifest of it."
    root.mkdir(parents=True, exist_ok=True)
    usual = base_dir()  # the caches live here; NANOCHAT_LIT_BASE_DIR must not point at `root` yet
    for cache in DOWNLOAD_CACHES:
        (usual/cache).mkdir(exist_ok=True)
        (root/cache).symlink_to(usual/cache, target_is_directory=True)
    with env_vars(NANOCHAT_LIT_BASE_DIR=str(root)):
        reset()
        tokenizer = Tokenizer.train([TEXT * 20], vocab_size=300)
        tokenizer.save()
        write_report_section('tokenizer', {'vocab_size': tokenizer.vocab_size})
        text = root/'.text'
        text.mkdir()
        (text/'docs.jsonl').write_text(''.join(json.dumps({'text': f'{i}. {TEXT}'}) + '\n' for i in range(200)))
        prepare_dataset(text_dir=str(text), output=str(root/'data'/'cpu'))
        for p in text.iterdir(): p.unlink()
        text.rmdir()
        torch.manual_seed(0)
        model = build_model(config_from_depth(1, tokenizer.vocab_size, aspect_ratio=64, head_dim=32, sequence_len=128, **MODEL_RECIPE), 'cpu')
        for stage in STAGES:
            directory = root/'checkpoints'/stage/TAG
            meta = {'model_config': asdict(model.config), 'stage': stage, 'settings': {'depth': 1},
                    'tokenizer': {'dir': str(root/'tokenizer'), 'vocab_size': tokenizer.vocab_size}}
            save_checkpoint(directory, 1, model.state_dict(), {}, meta, {'loaders': [], 'rng': None, 'loss_ema': 0.0})
            (directory/'metrics.jsonl').write_text(json.dumps({'step': 1, 'loss': 5.0, 'smooth_loss': 5.0}) + '\n')
            write_report_section(stage, {'steps': 1, 'metrics': directory/'metrics.jsonl'})
        generate()
    (root/MANIFEST).write_text(json.dumps(files(root), indent=1))
    print(f"a finished run in {root}: {len(files(root))} files")


def check(root:Path) -> int:
    "0 if every file is as `make` left it and none was added; else 1, naming them."
    before, after = json.loads((root/MANIFEST).read_text()), files(root)
    changes = ([f'changed: {p}' for p in before if p in after and after[p] != before[p]] +
               [f'removed: {p}' for p in before if p not in after] + [f'added:   {p}' for p in after if p not in before])
    if not changes:
        print(f"the finished run in {root} is unchanged ({len(before)} files)")
        return 0
    print(f"error: the notebooks changed a finished run's files in {root} (a learner's tokenizer, checkpoints, data or report):",
          *changes, "demos must work in a scratch base directory (see chapter 0) or on their own names, never on a run's files",
          sep='\n  ', file=sys.stderr)
    return 1


if __name__ == '__main__':
    if len(sys.argv) != 3 or sys.argv[1] not in ('make', 'check'): sys.exit(__doc__)
    root = Path(sys.argv[2]).resolve()
    if sys.argv[1] == 'make': make(root)
    else: sys.exit(check(root))
