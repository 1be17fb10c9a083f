"bench/gpu_check.py: one line and status 2 without a GPU; every check ok at toy size on the CPU."
import os, subprocess, sys
from pathlib import Path

import pytest, torch

SCRIPT = Path(__file__).resolve().parents[1]/'bench'/'gpu_check.py'


def gpu_check(*args, tmp_path):
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}  # two torch threads on a busy 2-core machine run 5-10x slower than one
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)


@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has a GPU: the script would run the real check')
def test_without_a_gpu_one_line_and_status_2(tmp_path):
    run = gpu_check(tmp_path=tmp_path)
    assert run.returncode == 2 and run.stdout == '', (run.returncode, run.stdout, run.stderr)
    assert run.stderr.startswith('gpu_check: needs a CUDA GPU') and len(run.stderr.splitlines()) == 1, run.stderr


def test_every_check_ok_at_toy_size_on_the_cpu(tmp_path):
    run = gpu_check('--cpu', tmp_path=tmp_path)
    lines = [l for l in run.stdout.splitlines() if l.startswith(('ok ', 'FAIL '))]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert len(lines) == 7 and all(l.startswith('ok ') for l in lines), run.stdout
