"CORE scoring in one and in two gloo processes launched by torchrun gives the same score; the counts are reduced on the model's device."
import json, subprocess, sys
from pathlib import Path

import pytest, torch, torch.distributed as dist
from nanochat_lit.core_eval import sum_over_ranks

WORKER = Path(__file__).with_name('core_eval_worker.py')

def run(tmp_path, processes, batch_size):
    out = tmp_path/f'result_{processes}_{batch_size}.json'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={processes}', str(WORKER), str(out), str(batch_size)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())

def test_one_and_two_processes_agree(tmp_path):
    one, two = run(tmp_path, 1, 8), run(tmp_path, 2, 3)
    assert one['results'] == two['results'] and one['core'] == two['core']
    assert one['label'] == 'CORE-offline (3 of 22 tasks)'  # fixture tasks, not the bundle's files
    assert set(one['results']) == {'arc_easy', 'winogrande', 'squad'}

def test_counts_reduce_on_the_model_device(tmp_path):
    """Under torchrun on CUDA the group is NCCL, which reduces no CPU tensor. A gloo group registered for the cuda device type only
    stands in for it on a CPU machine (it refuses CPU tensors with NCCL's words), and a meta tensor, standing in for the model's
    CUDA device, passes through it as a no-op."""
    dist.init_process_group('cuda:gloo', init_method=f'file://{tmp_path}/store', rank=0, world_size=1)
    try:
        with pytest.raises(RuntimeError, match='No backend type associated with device type cpu'):
            sum_over_ranks([3, 5], torch.device('cpu'))  # what a tally kept on the CPU would meet under NCCL
        totals = sum_over_ranks([3, 5], torch.device('meta'))
        assert totals.device.type == 'meta' and totals.dtype == torch.float64 and totals.shape == (2,)
    finally: dist.destroy_process_group()
