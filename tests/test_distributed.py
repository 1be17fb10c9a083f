"The distributed helpers of nanochat_lit.common, in two CPU processes launched by torchrun."
import json, subprocess, sys
from pathlib import Path

WORKER = Path(__file__).with_name('dist_worker.py')

def test_two_process_gloo(tmp_path):
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', str(WORKER), str(tmp_path)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    ranks = [json.loads((tmp_path/f'rank{r}.json').read_text()) for r in (0, 1)]
    for r, got in enumerate(ranks):
        assert got == dict(rank=r, local_rank=r, world_size=2, is_distributed=True, is_master=r == 0,
                           backend='gloo', sum=3.0)
    assert run.stdout.count('print0 from rank') == 1 and 'print0 from rank 0' in run.stdout
    assert '[rank 0] INFO info from rank 0' in run.stderr
    assert 'info from rank 1' not in run.stderr  # other ranks log warnings only
    assert '[rank 1] WARNING warning from rank 1' in run.stderr
