"""The recipe switches of chapter 3 against the default, by training the `cpu` preset's model on real data: Δ val bpb and Δ tokens/s.

Each variant trains `nanochat_lit_train --preset cpu` for --steps steps with each seed, in a temporary base dir whose corpora/
links to your cached corpora; runs alternate default, variant, default, variant... so machine drift hits both sides alike.
Prints, per variant, the mean Δ val bpb at the last step (variant − default, same seed) with its spread over seeds, and the
median Δ tokens/s. A CPU run is minutes per variant and seed; nanochat measured these switches at GPU scale.

    .venv/bin/python bench/recipe_ablation.py                       # 300 steps, seeds 1 and 2
    .venv/bin/python bench/recipe_ablation.py --steps 600 --seeds 1,2,3 --variants normuon
"""
import json, os, statistics, subprocess, sys, tempfile
from pathlib import Path

from nanochat_lit.common import base_dir, run_cli

VARIANTS = {'polar_express': ['--ns-method', 'polar_express'], 'normuon': ['--normuon-beta', '0.95'],
            'cautious_wd': ['--cautious-weight-decay']}

def train(tag:str, seed:int, steps:int, flags:list, data_dir:str, env:dict) -> dict:
    "Train one run and return its last val bpb and median tokens/s from metrics.jsonl."
    command = [sys.executable, '-m', 'nanochat_lit.train', '--preset', 'cpu', '--data-dir', data_dir, '--model-tag', tag,
               '--seed', str(seed), '--num-iterations', str(steps), '--eval-every', '0', '--save-every', '0', '--sample-every', '0', *flags]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    records = [json.loads(line) for line in (Path(env['NANOCHAT_LIT_BASE_DIR'])/'checkpoints'/'base'/tag/'metrics.jsonl').read_text().splitlines()]
    return {'val_bpb': [r['val_bpb'] for r in records if 'val_bpb' in r][-1],
            'tokens_per_sec': statistics.median(r['tokens_per_sec'] for r in records if 'tokens_per_sec' in r)}

def recipe_ablation(steps:int=300, # optimizer steps per run
                    seeds:str='1,2', # comma-separated seeds; each variant and the default run once per seed
                    variants:str=','.join(VARIANTS), # comma-separated names from VARIANTS
                   ):
    "Print Δ val bpb (mean ± spread over seeds) and Δ tokens/s of each switch against the default."
    chosen, seed_list = variants.split(','), [int(s) for s in seeds.split(',')]
    corpora = base_dir()/'corpora'
    with tempfile.TemporaryDirectory(prefix='recipe_ablation_') as tmp:
        (Path(tmp)/'corpora').symlink_to(corpora, target_is_directory=True)
        env = {**os.environ, 'NANOCHAT_LIT_BASE_DIR': tmp}
        subprocess.run([str(Path(sys.executable).parent/'nanochat_lit_tok'), 'train', '--preset', 'cpu'], env=env, check=True, stdout=subprocess.DEVNULL)
        data_dir = f'{tmp}/data'
        subprocess.run([sys.executable, '-m', 'nanochat_lit.dataset', '--preset', 'cpu', '--output', data_dir], env=env, check=True, stdout=subprocess.DEVNULL)
        for name in chosen:
            deltas, speed = [], []
            for seed in seed_list:
                default = train(f'default-{name}-{seed}', seed, steps, [], data_dir, env)
                variant = train(f'{name}-{seed}', seed, steps, VARIANTS[name], data_dir, env)
                deltas.append(variant['val_bpb'] - default['val_bpb'])
                speed.append(variant['tokens_per_sec'] / default['tokens_per_sec'])
                print(f"  {name} seed {seed}: val bpb {default['val_bpb']:.4f} -> {variant['val_bpb']:.4f}, "
                      f"tokens/s {default['tokens_per_sec']:,.0f} -> {variant['tokens_per_sec']:,.0f}", flush=True)
            spread = (max(deltas) - min(deltas)) / 2
            print(f"{name:14s} Δ val bpb {statistics.mean(deltas):+.4f} ± {spread:.4f} over {len(deltas)} seeds, tokens/s ×{statistics.median(speed):.2f}")

if __name__ == '__main__': run_cli(recipe_ablation)
