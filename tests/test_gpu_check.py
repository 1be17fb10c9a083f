"bench/gpu_check.py: one line and status 2 without a GPU; every check ok at toy size on the CPU, FP8's and attention's skipped with their reasons; --only runs the named checks."
import importlib.util, math, os, subprocess, sys
from unittest import mock
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
    assert len(lines) == 8 and all(l.startswith('ok ') for l in lines), run.stdout
    assert any(l.startswith('ok    float16 with the loss scaler') for l in lines), run.stdout
    skipped = [l for l in run.stdout.splitlines() if l.startswith('skip ')]
    assert len(skipped) == 2 and 'fp8 vs bf16: needs a CUDA GPU' in skipped[0], run.stdout
    assert 'attention, mask vs flex: flex_attention trains on CUDA only' in skipped[1], run.stdout


def test_only_the_named_checks(tmp_path):
    run = gpu_check('--cpu', '--only', 'env,attention', tmp_path=tmp_path)
    lines = [l.split()[:2] for l in run.stdout.splitlines() if l.startswith(('ok ', 'FAIL ', 'skip '))]
    assert run.returncode == 0 and lines == [['ok', 'env:'], ['skip', 'attention,'], ['ok', 'total']], run.stdout + run.stderr
    run = gpu_check('--cpu', '--only', 'env,speed', tmp_path=tmp_path)
    assert run.returncode == 2 and "'speed' is not a check; choose from env, bf16" in run.stderr, run.stderr


def load_script():
    spec = importlib.util.spec_from_file_location('gpu_check', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fp8_speed_measurement_runs_at_toy_size_on_the_cpu():
    "The GPU-only FP8 timing, run eagerly on the CPU (which has float8 matmuls, slowly): both variants timed, in alternation."
    module = load_script()
    speeds, losses = module.fp8_speeds('cpu', module.SIZES['cpu'], rounds=2, steps=1)
    assert all(len(speeds[fp8]) == 2 and all(s > 0 for s in speeds[fp8]) for fp8 in (False, True)), speeds
    assert len(losses) == 4 and all(math.isfinite(loss) for loss in losses), losses


def test_fp8_forward_error_is_within_its_tolerance_on_the_cpu():
    "The fp8 line's forward matmul against float32: the CPU ignores fast accumulation, so this pins the rest of the measurement."
    error = load_script().fp8_forward_error('cpu', rows=256, features=256)
    assert 0 < error <= load_script().FP8_FORWARD_RTOL, error


def test_attention_comparison_runs_at_toy_size_on_the_cpu():
    "The GPU-only attention check at a toy shape, in float32, with grouped heads and a window shorter than the sequence: the CPU refuses flex's backward pass, so the test lifts that guard and gets torch's reference backward."
    module = load_script()
    with mock.patch('torch.nn.attention.flex_attention._validate_device', lambda *tensors: None):
        differences, times = module.attention_comparison('cpu', batch_size=1, n_head=4, n_kv_head=2, seq_len=200, head_dim=16, window=70,
                                                         dtype=torch.float32, rounds=2, steps=1)
    assert set(differences) == {'output', 'grad q', 'grad k', 'grad v'}
    assert all(peak < 1e-5 and relative < 1e-5 for peak, relative in differences.values()), differences
    assert all(len(times[backend]) == 2 and all(t > 0 for t in times[backend]) for backend in ('mask', 'flex')), times


def test_the_named_only_checks_on_the_cpu(tmp_path):
    """speedrun runs a toy of its shape (the checkpoint's size against the dry run's, then a resume); laptop needs CUDA and says so;
    gpus runs two gloo processes against one process accumulating both micro-batches."""
    run = gpu_check('--cpu', '--only', 'speedrun,laptop,gpus', tmp_path=tmp_path)
    lines = [l for l in run.stdout.splitlines() if l.startswith(('ok ', 'FAIL ', 'skip '))]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert [l.split()[:2] for l in lines] == [['ok', 'set-up:'], ['ok', 'speedrun'], ['skip', 'laptop:'], ['ok', 'torchrun'], ['ok', 'total']], run.stdout
    assert 'checkpoint' in lines[1] and 'resume: losses of steps 3..3 agree' in lines[1], lines[1]
    assert 'torchrun --nproc_per_node=2 (gloo) vs one process accumulating 2 micro-batches' in lines[3], lines[3]


def test_the_speedrun_check_fits_an_h100():
    "One GPU's share of the h100x8 preset, as the speedrun check plans it, fits an 80 GB H100 (79.1 GiB): the check runs there rather than skipping."
    module = load_script()
    s = module.SPEEDRUN
    plan = module.plan_training(32768, 1, s['depth'], 64, 128, s['max_seq_len'], s['device_batch_size'], s['device_batch_size'] * s['max_seq_len'], s['steps'])
    assert 40 < plan.memory_gib() < 79.1, plan.memory_gib()
