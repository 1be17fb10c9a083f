"nanochat_lit_scaling as people run it: a sweep under torchrun (two gloo processes) writes each run once, with the figures one process gets; the GPU recipe's dry run."
import os, re, subprocess, sys
from pathlib import Path

import pytest

TINY = dict(aspect_ratio=32, head_dim=32, max_seq_len=128, device_batch_size=4, total_batch_size=1024, eval_tokens=2048, device='cpu', compile=False)
RUNS = Path(__file__).resolve().parents[1]/'runs'


def worker(data_dir:str, results:str):
    "Run in each process (by torchrun, or alone): a sweep of two budgets and two depths."
    from nanochat_lit.scaling import sweep
    sweep('1e10,2e10', '1,2', preset=None, results=results, data_dir=data_dir, **TINY)


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    "A base directory with a small tokenizer and dataset."
    from nanochat_lit.common import base_dir, env_vars
    from nanochat_lit.dataset import prepare_dataset
    from nanochat_lit.tokenizer import train_tokenizer
    base = tmp_path_factory.mktemp('scaling')
    (base/'corpora').symlink_to(base_dir()/'corpora', target_is_directory=True)  # the cached offline corpora
    with env_vars(NANOCHAT_LIT_BASE_DIR=str(base)):
        train_tokenizer(vocab_size=512, max_chars=500_000, sources='en')
        data = prepare_dataset(sources='en', max_chars=600_000)
    return base, data


def launch(prepared, name, processes=None):
    "Run the sweep in a new base directory that shares the prepared tokenizer: alone, or under torchrun in `processes` processes."
    (base := prepared[0].parent/name).mkdir()
    (base/'tokenizer').symlink_to(prepared[0]/'tokenizer', target_is_directory=True)
    command = [sys.executable, *(['-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={processes}'] if processes else []),
               __file__, str(prepared[1]), str(base/'results.csv')]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(base), 'OMP_NUM_THREADS': '1'})
    assert run.returncode == 0, run.stderr[-3000:]
    return base, run.stdout


def test_a_sweep_under_torchrun_writes_each_run_once_and_trains_as_one_process(prepared):
    "Two processes train each run on the global batch one process accumulates, so their training losses agree; rank 0 alone writes the CSV. (Their validation tokens differ: each rank packs its own share of the validation documents.)"
    from nanochat_lit.scaling import read_results, run_tag
    from nanochat_lit.train import read_metrics
    (alone, _), (together, printed) = launch(prepared, 'alone'), launch(prepared, 'together', processes=2)
    one, two = read_results(alone/'results.csv'), read_results(together/'results.csv')
    assert [(r['flops_budget'], r['depth']) for r in two] == [(b, d) for b in (1e10, 2e10) for d in (1, 2)]  # each run once
    for a, b in zip(one, two):
        same = ('flops_budget', 'depth', 'params_total', 'params_transformer', 'num_iterations', 'tokens_trained', 'matrix_lr')
        assert {k: a[k] for k in same} == {k: b[k] for k in same}
        losses = [[r['loss'] for r in read_metrics(base/'checkpoints'/'base'/run_tag(a['flops_budget'], a['depth'])/'metrics.jsonl') if 'loss' in r]
                  for base in (alone, together)]
        assert len(losses[0]) == a['num_iterations'] and max(abs(x - y) / x for x, y in zip(*losses)) < 1e-5, losses
        assert abs(a['val_bpb'] - b['val_bpb']) < 0.2 * a['val_bpb'], (a['val_bpb'], b['val_bpb'])
    assert printed.count('scaling_1e+10_d1: ') == 1  # one line per run, from rank 0


def test_scaling_laws_dry_run(tmp_path):
    "nanochat's sweep on 8×H100: 4 budgets × 6 depths planned at the tokenizer the recipe trains (32,768 tokens), with the hours."
    run = subprocess.run(['bash', str(RUNS/'scaling_laws.sh'), '--dry-run'], capture_output=True, text=True, timeout=600,
                         env={**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(tmp_path)})
    assert run.returncode == 0, run.stderr[-3000:]
    assert 'torchrun --standalone --nproc_per_node=8 -m nanochat_lit.scaling sweep --preset h100x8 --budgets 1e18,2.15e18,4.64e18,1e19' in run.stdout
    runs = [line.split('|')[1:-1] for line in run.stdout.splitlines() if re.match(r'\| [\d.e+]+ \| \d+ \|', line)]
    assert len(runs) == 24 and all(cells[-1].strip() == 'to train' for cells in runs), run.stdout
    d12 = next(cells for cells in runs if cells[0].strip() == '1e+18' and cells[1].strip() == '12')
    assert d12[2].strip() == '110,100,912', d12  # the scaling parameters of d12 at a 32,768-token vocabulary (chapter 14's table)
    hours = float(re.search(r'to train: ([\d.]+) hours at 45% MFU', run.stdout)[1])
    assert 4 < hours < 16, hours  # ~1.07e20 FLOPs on 8 × 989 TFLOP/s at 45%


if __name__ == '__main__': worker(*sys.argv[1:])
