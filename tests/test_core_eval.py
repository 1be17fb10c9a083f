"CORE scoring in one and in two gloo processes launched by torchrun gives the same score."
import json, subprocess, sys
from pathlib import Path

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
