"""nanochat's recipe switches (chapters 2, 3 and 5b) against the default, by training the `cpu` preset's model on real data.

Every run is `nanochat_lit_train --preset cpu` for --steps steps with one evaluation, at the end. "The default" is a base
written out in flags (--base): `first_version`, the defaults before this ablation chose new ones (FIRST_VERSION), or
`second_version`, the defaults the first round chose (SECOND_VERSION: nanochat's switches that helped, the learning rates
×16); a variant adds its flags to the base's, so results stay comparable whatever the defaults are now. `all_new` (by
default the variants ALL_NEW) is the first round's choice measured on the first version. --shape trains another model than
the preset's: `nanochat_d4` is the setting a reviewer trained side by side with nanochat (aspect 64, window L, a
32,768-token vocabulary: 36.7M parameters), at nanochat's learning-rate rules (lr_scale 1: nanochat has no such correction).
Val bpb is deterministic
for a seed, so the default trains once per seed and each variant is compared with the default of its seed: Δ val bpb is
variant − default, averaged over the seeds, ± half its range. Tokens/s is not deterministic: a shared CPU's speed drifts
1.5-2× within minutes, so more default runs are spread through the schedule (--speed-every), and each variant's tokens/s
is divided by that of the default run nearest to it in time (the median of those ratios over seeds).

--jobs 2 trains two runs at a time, each on one thread (OMP_NUM_THREADS=1; nanochat_lit leaves torch's thread count to it).
On one thread of a quiet core a run takes about 45 s of start-up, compiling and evaluation plus 1.2 s per step: at the
default 300 steps, one seed of 16 variants (19 runs, the default runs included) takes about 70 minutes with --jobs 2 on
2 cores. A short run favours some variants over others: warm-up and momentum schedules are set in steps (40, 300, 400), so
they weigh more in 300 steps than in the preset's 600; check a promising variant with --steps 600.

Runs train in --work-dir, a base dir whose corpora/ links to your cached corpora; the tokenizer and dataset are made there
once (or given with --tokenizer-dir and --data-dir) and every run reads them. Each finished run is appended to --results
(JSON lines), and a rerun with the same file skips the runs it holds, so an interrupted ablation continues where it stopped.

    .venv/bin/python bench/recipe_ablation.py --jobs 2                   # every variant, seeds 1 and 2, 300 steps
    .venv/bin/python bench/recipe_ablation.py --variants smear,backout --steps 300 --seeds 1,2,3
    .venv/bin/python bench/recipe_ablation.py --base second_version --variants lm_head_lr_0_008,wd_0_28 --speed-every 0
    .venv/bin/python bench/recipe_ablation.py --base second_version --shape nanochat_d4 --variants lm_head_lr_0_008
    .venv/bin/python bench/recipe_ablation.py --table-only              # the table of what --results holds
"""
import json, os, shutil, statistics, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nanochat_lit.common import ConfigError, base_dir, run_cli
from nanochat_lit.optim import check_choice
from nanochat_lit.train import read_metrics

SWITCHES = {  # variant -> flags of nanochat_lit_train
    'polar_express': ['--ns-method', 'polar_express'], 'normuon': ['--normuon-beta', '0.95'],
    'cautious_wd': ['--cautious-weight-decay'], 'adamw_groups': ['--adamw-groups', 'per_group'],
    'warmup_40': ['--warmup-steps', '40'], 'warmdown_65': ['--warmdown-ratio', '0.65', '--final-lr-frac', '0.05'],
    'momentum_rise_fall': ['--momentum-schedule', 'rise_fall'], 'wd_cosine': ['--weight-decay-schedule', 'cosine'],
    'qk_scale': ['--qk-scale', '1.2'], 'rotary_100k': ['--rotary-base', '100000'], 'embed_init_0_8': ['--embed-init-std', '0.8'],
    'mlp_up_0_4': ['--mlp-up-init-scale', '0.4'], 'layered_scalars': ['--layered-scalar-init'], 'smear': ['--smear'],
    'backout': ['--backout'], 'value_embeds_unit': ['--value-embeds'],
    'value_embeds_scaled': ['--value-embeds', '--value-embed-init', 'scaled'], 'short_window': ['--window-pattern', 'SSSL'],
    # nanochat HEAD's values where the second version differs (like every lr flag, values at the depth-12 reference, which the dial scales)
    'lm_head_lr_0_008': ['--unembedding-lr', '0.008'], 'wd_0_28': ['--weight-decay', '0.28'], 'normuon_0_9': ['--normuon-beta', '0.9'],
    'nanochat_head': ['--unembedding-lr', '0.008', '--weight-decay', '0.28', '--warmup-steps', '40', '--warmdown-ratio', '0.65',
                      '--final-lr-frac', '0.05', '--normuon-beta', '0.9'],
    # nanochat's LM-head rate with the cpu preset's lr_scale lowered: does the best lr_scale move?
    'lm_head_lr_0_008_lr_scale_12': ['--unembedding-lr', '0.008', '--lr-scale', '12'],
    # every peak lr ×k: the cpu preset's batch is 128× below the reference's, so √(B/B_ref) scales its lrs to 0.088×
    **{f'lr_x{k}': ['--embedding-lr', f'{0.3 * k:g}', '--unembedding-lr', f'{0.004 * k:g}', '--matrix-lr', f'{0.02 * k:g}', '--scalar-lr', f'{0.5 * k:g}']
       for k in (2, 3, 5, 8, 12, 16, 24, 32)},
    'muon_lr_x8': ['--matrix-lr', '0.16'], 'adamw_lr_x8': ['--embedding-lr', '2.4', '--unembedding-lr', '0.032', '--scalar-lr', '4']}
# the learning rates, weight decay and schedule of the first version (reference values, which the dial scales, by the batch rule
# alone: no compute rule, which chapter 14 added later), written out so that a later change of defaults does not change what a base means
FIRST_RATES = ['--embedding-lr', '0.3', '--unembedding-lr', '0.004', '--matrix-lr', '0.02', '--scalar-lr', '0.5', '--weight-decay', '0.2',
               '--warmup-steps', '0', '--warmdown-ratio', '0.4', '--final-lr-frac', '0', '--lr-compute-exponent', '0']
# the defaults before this ablation chose new ones (chapter 5b): every first-round run starts from them
FIRST_VERSION = ['--window-pattern', 'L', '--no-value-embeds', '--value-embed-init', 'unit', '--qk-scale', '1', '--embed-init-std', '1',
                 '--mlp-up-init-scale', '1', '--no-smear', '--no-backout', '--ns-method', 'quintic', '--normuon-beta', '0',
                 '--no-cautious-weight-decay', '--adamw-groups', 'shared', '--momentum-schedule', 'rise', '--weight-decay-schedule', 'linear',
                 '--lr-scale', '1', *FIRST_RATES]
# the defaults the first round chose (chapter 5b): the switches of ALL_NEW, with lr_scale 16 in place of lr_x16's rates ×16
SECOND_VERSION = ['--window-pattern', 'SSSL', '--value-embeds', '--value-embed-init', 'scaled', '--qk-scale', '1.2', '--embed-init-std', '0.8',
                  '--mlp-up-init-scale', '0.4', '--smear', '--backout', '--ns-method', 'polar_express', '--normuon-beta', '0.95',
                  '--cautious-weight-decay', '--adamw-groups', 'per_group', '--momentum-schedule', 'rise_fall', '--weight-decay-schedule', 'cosine',
                  '--lr-scale', '16', *FIRST_RATES]
BASES = {'first_version': FIRST_VERSION, 'second_version': SECOND_VERSION}
# the model a run trains: flags after the base's, and the tokenizer's vocabulary (None: the cpu preset's); nanochat_d4 also
# takes nanochat's learning-rate rules, which have no lr_scale
SHAPES = {'cpu': ([], None), 'nanochat_d4': (['--aspect-ratio', '64', '--window-pattern', 'L', '--lr-scale', '1'], 32768)}
NAMES = [*SWITCHES, 'all_new']  # all_new is made of the others
ALL_NEW = ['adamw_groups', 'polar_express', 'normuon', 'cautious_wd', 'momentum_rise_fall', 'wd_cosine', 'qk_scale', 'embed_init_0_8',
           'mlp_up_0_4', 'smear', 'backout', 'value_embeds_scaled', 'short_window', 'lr_x16']  # today's defaults (chapter 5b)
COMPARED = {'value_embeds_scaled': 'value_embeds_unit', 'all_new': 'lr_x16'}  # also measured against this variant, not only against the default

def variant_flags(all_new:list) -> dict:
    "Every variant's flags; all_new is the concatenation of the `all_new` variants' flags."
    return {**SWITCHES, 'all_new': [f for name in all_new for f in SWITCHES[name]]}

def schedule(names:list, seeds:list, speed_every:int) -> list:
    "(run id, variant, seed): the default of each seed, then the variants seed by seed, with a default run after every `speed_every`."
    runs = [(f'default-s{seed}', 'default', seed) for seed in seeds]
    for i, (seed, name) in enumerate((seed, name) for seed in seeds for name in names):
        runs.append((f'{name}-s{seed}', name, seed))
        if speed_every and (i + 1) % speed_every == 0: runs.append((f'default-s{seeds[0]}-speed{i + 1}', 'default', seeds[0]))
    return runs

def read_results(path:Path) -> list:
    "The finished runs; records from before bases and shapes existed are first-version runs of the cpu shape."
    return [{'base': 'first_version', 'shape': 'cpu', **r} for r in read_metrics(path)] if path.exists() else []

def train(run:str, seed:int, steps:int, flags:list, work:Path, tokenizer_dir:Path, data_dir:Path) -> dict:
    "Train one run on one thread (`flags`: the base's, the shape's, the variant's); its val bpb at the end and median tokens/s, from metrics.jsonl. The checkpoints are deleted."
    command = [sys.executable, '-m', 'nanochat_lit.train', '--preset', 'cpu', '--tokenizer-dir', str(tokenizer_dir), '--data-dir', str(data_dir),
               '--model-tag', run, '--seed', str(seed), '--num-iterations', str(steps), '--eval-every', '0', '--save-every', '0',
               '--sample-every', '0', *flags]
    started = time.time()
    done = subprocess.run(command, env={**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(work), 'OMP_NUM_THREADS': '1'},
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode: raise RuntimeError(f"{run} failed ({done.returncode}): {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''}")
    directory = work/'checkpoints'/'base'/run
    records = read_metrics(directory/'metrics.jsonl')
    for checkpoint in directory.glob('step_*'): shutil.rmtree(checkpoint)  # ~30 MB each; only the metrics matter here
    return {'val_bpb': [r['val_bpb'] for r in records if 'val_bpb' in r][-1],
            'tokens_per_sec': statistics.median(r['tokens_per_sec'] for r in records if 'tokens_per_sec' in r),
            'started': started, 'finished': time.time()}

def prepare(work:Path, tokenizer_dir:str|None, data_dir:str|None, vocab_size:int|None=None) -> tuple:
    "(tokenizer dir, dataset dir): the given ones, or the cpu preset's (with `vocab_size`, if given), made in `work` unless they are there already."
    work.mkdir(parents=True, exist_ok=True)
    if not (work/'corpora').exists(): (work/'corpora').symlink_to(base_dir()/'corpora', target_is_directory=True)
    env = {**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(work)}
    tokenizer = Path(tokenizer_dir or work/('tokenizer' if vocab_size is None else f'tokenizer_{vocab_size}'))
    if tokenizer_dir is None and not (tokenizer/'tokenizer_meta.json').exists():
        print(f"training the cpu preset's tokenizer in {tokenizer} ...", flush=True)
        vocab = [] if vocab_size is None else ['--vocab-size', str(vocab_size)]
        subprocess.run([str(Path(sys.executable).parent/'nanochat_lit_tok'), 'train', '--preset', 'cpu', *vocab, '--output', str(tokenizer)],
                       env=env, check=True, stdout=subprocess.DEVNULL)
    if data_dir is None:
        subprocess.run([sys.executable, '-m', 'nanochat_lit.dataset', '--preset', 'cpu', '--output', str(work/'data')], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    return tokenizer, Path(data_dir or work/'data')

def spread(values:list) -> str:
    return f"{statistics.mean(values):+.4f} ± {(max(values) - min(values)) / 2:.4f}"

def setting(base:str, shape:str) -> str:
    "How a table names its runs' base and shape."
    shape_flags, vocab_size = SHAPES[shape]
    named = f"`--preset cpu{''.join(' ' + f for f in shape_flags)}`" + (f" with a {vocab_size:,}-token vocabulary" if vocab_size else '')
    return named + ('' if base == 'first_version' else f", on the {base.replace('_', ' ')}'s defaults")

def table(records:list, names:list|None=None, base:str='first_version', shape:str='cpu') -> str:
    "A markdown table per step count of the runs on `base` and `shape`: each variant's (of `names`, default all) Δ val bpb against the default of its seed, and its tokens/s against the nearest default."
    lines, records = [], [r for r in records if r['base'] == base and r['shape'] == shape]
    for steps in sorted({r['steps'] for r in records}):
        runs = [r for r in records if r['steps'] == steps]
        defaults = [r for r in runs if r['variant'] == 'default']
        if not defaults: continue
        default_bpb = {r['seed']: r['val_bpb'] for r in defaults}
        middle = lambda r: (r['started'] + r['finished']) / 2
        nearest = lambda r: min(defaults, key=lambda d: abs(middle(d) - middle(r)))
        lines += [f"{steps} steps, {setting(base, shape)}; default val bpb {', '.join(f'{v:.4f} (seed {s})' for s, v in sorted(default_bpb.items()))}, "
                  f"median {statistics.median(r['tokens_per_sec'] for r in defaults):,.0f} tokens/s over {len(defaults)} default runs", '',
                  '| variant | flags | seeds | Δ val bpb | tokens/s |', '|---|---|---|---|---|']
        shown = {r['variant'] for r in runs if names is None or r['variant'] in names} - {'default'}
        for name in sorted(shown, key=lambda n: NAMES.index(n) if n in NAMES else len(NAMES)):
            mine = [r for r in runs if r['variant'] == name and r['seed'] in default_bpb]
            deltas = [r['val_bpb'] - default_bpb[r['seed']] for r in mine]
            speed = statistics.median(r['tokens_per_sec'] / nearest(r)['tokens_per_sec'] for r in mine)
            lines.append(f"| {name} | `{' '.join(mine[0]['flags'])}` | {len(mine)} | {spread(deltas)} | ×{speed:.2f} |")
        for name, other in COMPARED.items():
            if names is not None and name not in names: continue
            pairs = [(a, b) for a in runs for b in runs if a['variant'] == name and b['variant'] == other and a['seed'] == b['seed']]
            if pairs: lines.append(f"| {name} − {other} | | {len(pairs)} | {spread([a['val_bpb'] - b['val_bpb'] for a, b in pairs])} | |")
        unequal = [seed for seed in default_bpb if len({r['val_bpb'] for r in defaults if r['seed'] == seed}) > 1]
        if unequal: lines.append(f"\nwarning: the default's val bpb differs between runs of seed {unequal}: runs are not deterministic here")
        lines.append('')
    return '\n'.join(lines)

def recipe_ablation(steps:int=300, # optimizer steps per run
                    seeds:str='1,2', # comma-separated seeds; the default and each variant train once per seed
                    variants:str=','.join(NAMES), # comma-separated variants to train
                    all_new:str=','.join(ALL_NEW), # variants whose flags make up all_new (default: the first round's choice)
                    base:str='first_version', # the default's flags, which every variant adds to: first_version or second_version
                    shape:str='cpu', # the model: cpu (the preset's) or nanochat_d4 (aspect 64, window L, vocabulary 32,768)
                    jobs:int=1, # runs at a time, each on one thread
                    speed_every:int=6, # a default run (first seed) after every this many variant runs, for tokens/s; 0: none
                    results:str=None, # JSON-lines file of finished runs (default: <base dir>/recipe_ablation.jsonl)
                    work_dir:str=None, # where the runs train (default: beside --results, with the suffix .work)
                    tokenizer_dir:str=None, # a cpu-preset tokenizer to use (default: train one in the work dir)
                    data_dir:str=None, # a cpu-preset dataset to use (default: make one in the work dir)
                    table_only:bool=False, # only print the table of what --results holds (its rows of --variants)
                   ):
    "Train the default and each variant of the cpu preset, once per seed; print Δ val bpb and Δ tokens/s as a markdown table."
    results = Path(results or base_dir()/'recipe_ablation.jsonl')
    chosen, all_new_names, seed_list = variants.split(','), all_new.split(','), [int(s) for s in seeds.split(',')]
    for option, names, known in (('variants', chosen, NAMES), ('all_new', all_new_names, NAMES[:-1])):  # all_new is made of the others
        if unknown := [n for n in names if n not in known]: raise ConfigError(f"--{option.replace('_', '-')}: {unknown[0]!r} is not a variant here; choose from {', '.join(known)}")
    check_choice('base', base, list(BASES))
    check_choice('shape', shape, list(SHAPES))
    if table_only: return print(table(read_results(results), chosen, base, shape))
    work = Path(work_dir or results.with_suffix('.work'))
    shape_flags, vocab_size = SHAPES[shape]
    tokenizer, data = prepare(work, tokenizer_dir, data_dir, vocab_size)
    flags = {'default': [], **variant_flags(all_new_names)}
    finished = {(r['run'], r['steps'], r['base'], r['shape'], tuple(r['flags'])) for r in read_results(results)}
    todo = [run for run in schedule(chosen, seed_list, speed_every) if (run[0], steps, base, shape, tuple(flags[run[1]])) not in finished]
    print(f"{len(todo)} runs to train ({jobs} at a time), results in {results}", flush=True)
    lock, failed = threading.Lock(), []

    def one(run):
        name, variant, seed = run
        try: measured = train(f'{base}.{shape}.{name}', seed, steps, [*BASES[base], *shape_flags, *flags[variant]], work, tokenizer, data)
        except RuntimeError as e:
            print(f"  {e}", flush=True)
            failed.append(name)
            return
        record = {'run': name, 'variant': variant, 'seed': seed, 'steps': steps, 'base': base, 'shape': shape, 'flags': flags[variant], **measured}
        with lock:
            with results.open('a') as f: f.write(json.dumps(record) + '\n')
        print(f"  {name}: val bpb {measured['val_bpb']:.4f}, {measured['tokens_per_sec']:,.0f} tokens/s", flush=True)

    with ThreadPoolExecutor(jobs) as pool: list(pool.map(one, todo))
    print(table(read_results(results), base=base, shape=shape))
    if failed: print(f"{len(failed)} runs failed: {', '.join(failed)}; rerun to retry them")

if __name__ == '__main__': run_cli(recipe_ablation)
