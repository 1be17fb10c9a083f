"""Does the depth dial's learning-rate rule transfer? The best learning rate of the cpu preset's model at several depths, batches and lengths.

Every run is `nanochat_lit_train --preset cpu --depth D --total-batch-size B --lr-scale S` for --tokens tokens (the same at every
batch, so a bigger batch takes fewer steps: the comparison a fixed compute budget makes), with one evaluation at the end.
lr_scale multiplies every rate today's rule gives (chapter 2), so a rule that transfers has its best lr_scale at 1 in every
cell. The grid trains --scales in every cell with the first seed; --extend adds the next power of two beyond a cell's best
when that best is at the edge of the scales trained, and --confirm trains each cell's best trained scale with the other seeds,
which says how much of a difference is noise.

Runs train on one thread each (--jobs 2 on 2 cores), through bench/recipe_ablation.py's `train`, and are appended to --results
(JSON lines) with the Muon rate they trained at; a rerun skips the runs it holds. The table is chapter 14's `lr_transfer`:
per cell, val bpb per rate as a multiple of nanochat's batch rule (so runs made under an earlier rule stay comparable), the
best rate from a parabola through the best point and its neighbours, today's rule and what it costs there, and κ fitted.
bench/results/lr_grid_cpu.jsonl holds the runs chapter 14 shows, made when the rule was the batch rule alone (lr_scale 8 to 64).

    .venv/bin/python bench/lr_grid.py --jobs 2 --scales 0.5,1,2           # depths 2,4,6 × batches 4096,16384 around today's rule
    .venv/bin/python bench/lr_grid.py --jobs 2 --scales 0.5,1,2 --extend --confirm --seeds 1,2
    .venv/bin/python bench/lr_grid.py --table-only --results bench/results/lr_grid_cpu.jsonl
"""
import json, math, statistics, sys, threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from recipe_ablation import prepare, train
from nanochat_lit.common import ConfigError, base_dir, run_cli
from nanochat_lit.corpora import markdown_table
from nanochat_lit.scaling import grid_plan, lr_transfer, read_grid

def report(records:list) -> str:
    "The grid as chapter 14 shows it: per cell, val bpb per rate (a multiple of the batch rule), the best, today's rule and its cost; κ fitted."
    transfer = lr_transfer(records)
    spread = transfer['seed_spread']
    return (markdown_table(transfer['rows']) + f"\n\nκ fitted on the cells: {transfer['kappa']:.3f}" +
            (f"; seed-to-seed |Δ val bpb| at one point: max {max(spread):.4f} over {len(spread)} points" if spread else ''))

def lr_grid(depths:str='2,4,6', # comma-separated depths (the dial's other settings: the cpu preset's)
            batches:str='4096,16384', # comma-separated total batch sizes in tokens
            scales:str='0.5,1,2', # comma-separated lr_scale values (multiples of today's rule) every cell trains with the first seed
            tokens:int=2**19, # training tokens per run, the same at every batch
            seeds:str='1', # comma-separated seeds; the grid uses the first, --confirm the others
            extend:bool=False, # also train the next power of two past each cell's best when it is at the edge
            confirm:bool=False, # train each cell's best trained scale with the other seeds
            eval_tokens:int=131072, # validation tokens of the final evaluation
            jobs:int=1, # runs at a time, each on one thread
            results:str=None, # JSON-lines file of finished runs (default: <base dir>/lr_grid.jsonl)
            tokenizer_dir:str=None, data_dir:str=None, # the cpu preset's tokenizer and dataset (default: made beside --results)
            table_only:bool=False, # only print the table of what --results holds
           ):
    "Train the cpu preset at each depth × batch × lr_scale for the same tokens; print val bpb per rate, each cell's best, and κ."
    results = Path(results or base_dir()/'lr_grid.jsonl')
    read = lambda: read_grid(results) if results.exists() else []
    if table_only: return print(report(read()))
    depth_list, batch_list = [int(d) for d in depths.split(',')], [int(b) for b in batches.split(',')]
    scale_list, seed_list = [float(s) for s in scales.split(',')], [int(s) for s in seeds.split(',')]
    if bad := [b for b in batch_list if tokens % b]: raise ConfigError(f"--tokens {tokens:,} is not a whole number of steps at batch {bad[0]:,}: pick a multiple of every batch")
    work = results.with_suffix('.work')
    tokenizer, data = prepare(work, tokenizer_dir, data_dir)
    todo = [(d, b, s, seed_list[0]) for d in depth_list for b in batch_list for s in scale_list]
    cells = {}  # (depth, batch) -> {lr_scale: [val bpb]} of the runs at these tokens that today's rule would give the same rates
    for r in read():
        if r['depth'] in depth_list and r['batch'] in batch_list and r['tokens'] == tokens and \
           math.isclose(r['matrix_lr'], grid_plan(r['depth'], r['batch'], tokens, r['lr_scale']).matrix_lr):
            cells.setdefault((r['depth'], r['batch']), {}).setdefault(r['lr_scale'], []).append(r['val_bpb'])
    for (d, b), trained in cells.items():
        xs = sorted(trained)
        best = min(xs, key=lambda x: statistics.mean(trained[x]))
        if extend and best == xs[0]: todo.append((d, b, best / 2, seed_list[0]))
        if extend and best == xs[-1]: todo.append((d, b, best * 2, seed_list[0]))
        if confirm: todo += [(d, b, best, seed) for seed in seed_list[1:]]
    done = {(r['depth'], r['batch'], r['lr_scale'], r['seed'], r['tokens']) for r in read()}
    todo = [run for run in dict.fromkeys(todo) if (*run, tokens) not in done]
    print(f"{len(todo)} runs to train ({jobs} at a time), results in {results}", flush=True)
    lock = threading.Lock()

    def one(run):
        depth, batch, scale, seed = run
        name = f'd{depth}_b{batch}_x{scale:g}_s{seed}_t{tokens}'
        flags = ['--depth', str(depth), '--total-batch-size', str(batch), '--lr-scale', f'{scale:g}', '--eval-tokens', str(eval_tokens)]
        try: measured = train(name, seed, tokens // batch, flags, work, tokenizer, data)
        except RuntimeError as e: return print(f"  {e}", flush=True)
        plan = grid_plan(depth, batch, tokens, scale)
        record = {'depth': depth, 'batch': batch, 'lr_scale': scale, 'seed': seed, 'tokens': tokens, 'steps': tokens // batch,
                  'matrix_lr': plan.matrix_lr, 'unembedding_lr': plan.unembedding_lr, **measured}
        with lock:
            with results.open('a') as f: f.write(json.dumps(record) + '\n')
        print(f"  {name}: val bpb {measured['val_bpb']:.4f}, {measured['tokens_per_sec']:,.0f} tokens/s, {measured['finished'] - measured['started']:.0f} s", flush=True)

    with ThreadPoolExecutor(jobs) as pool: list(pool.map(one, todo))
    print(report(read()))

if __name__ == '__main__': run_cli(lr_grid)
