"The distributed helpers of nanochat_lit.common, in two CPU processes launched by torchrun."
import json, subprocess, sys
from pathlib import Path

WORKER = Path(__file__).with_name('dist_worker.py')

def _run(tmp_path, *base_dirs):
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', str(WORKER), str(tmp_path), *map(str, base_dirs)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)

def test_two_process_gloo(tmp_path):
    run = _run(tmp_path, tmp_path/'shared', tmp_path/'shared')
    assert run.returncode == 0, run.stderr
    ranks = [json.loads((tmp_path/f'rank{r}.json').read_text()) for r in (0, 1)]
    for r, got in enumerate(ranks):
        assert got == dict(rank=r, local_rank=r, world_size=2, is_distributed=True, is_master=r == 0,
                           backend='gloo', sum=3.0)
    assert run.stdout.count('print0 from rank') == 1 and 'print0 from rank 0' in run.stdout
    assert '[rank 0] INFO info from rank 0' in run.stderr
    assert 'info from rank 1' not in run.stderr  # other ranks log warnings only
    assert '[rank 1] WARNING warning from rank 1' in run.stderr
    assert not list((tmp_path/'shared').glob('.shared-check-*'))  # rank 0 removed its token

def test_ranks_that_cannot_see_rank_0s_base_dir_stop_at_start_up(tmp_path):
    run = _run(tmp_path, tmp_path/'node0', tmp_path/'node1')  # two "nodes", each with its own disk
    assert run.returncode != 0
    errors = [(tmp_path/f'error{r}.txt').read_text() for r in (0, 1)]
    for error in errors: assert 'rank 1 cannot see the base directory rank 0 uses' in error and 'NANOCHAT_LIT_BASE_DIR' in error
    assert not list(tmp_path.glob('rank*.json'))  # neither rank got past set-up
