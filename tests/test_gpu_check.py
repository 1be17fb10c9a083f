"bench/gpu_check.py: one line and status 2 without a GPU; every check ok at toy size on the CPU, FP8's skipped with its reason."
import importlib.util, math, os, subprocess, sys
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
    skipped = [l for l in run.stdout.splitlines() if l.startswith('skip ')]
    assert len(skipped) == 1 and 'fp8 vs bf16: needs a CUDA GPU' in skipped[0], run.stdout


def test_fp8_speed_measurement_runs_at_toy_size_on_the_cpu():
    "The GPU-only FP8 timing, run eagerly on the CPU (which has float8 matmuls, slowly): both variants timed, in alternation."
    spec = importlib.util.spec_from_file_location('gpu_check', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    speeds, losses = module.fp8_speeds('cpu', module.SIZES['cpu'], rounds=2, steps=1)
    assert all(len(speeds[fp8]) == 2 and all(s > 0 for s in speeds[fp8]) for fp8 in (False, True)), speeds
    assert len(losses) == 4 and all(math.isfinite(loss) for loss in losses), losses
