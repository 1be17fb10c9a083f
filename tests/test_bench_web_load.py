"""bench/web_load.py against a tiny checkpoint: 4 clients all complete, one at a time on the one worker; with a tiny --max-wait
some get a clean 503; no worker leaks."""
import os, re, subprocess, sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1]/'bench'/'web_load.py'


def web_load(base, *flags):
    env = {**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(base), 'OMP_NUM_THREADS': '1'}
    return subprocess.run([sys.executable, str(SCRIPT), '--stage', 'sft', '--model-tag', 'rambling', '--clients', '4', *flags],
                          capture_output=True, text=True, env=env, timeout=180)


def test_four_clients_complete(rambling_base):
    run = web_load(rambling_base, '--max-tokens', '64')  # long enough streams that two sharing the worker would show
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert 'requests: 4 completed, 0 turned away with a 503, 0 hung, 0 failed' in run.stdout, run.stdout
    assert 'tokens_served 256 ' in run.stdout, run.stdout  # the rambling model never stops early: 4 x 64 tokens
    assert 'streams generating at once: at most 1 with 1 worker(s)' in run.stdout, run.stdout
    assert re.search(r'time to first token: p50 [\d.]+ s, p95 [\d.]+ s', run.stdout) and 'no worker leaked' in run.stdout, run.stdout


def test_a_short_max_wait_gives_clean_503s(rambling_base):
    run = web_load(rambling_base, '--max-tokens', '64', '--max-wait', '0.05')
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    counts = re.search(r'requests: (\d) completed, (\d) turned away with a 503, 0 hung, 0 failed', run.stdout)
    assert counts and int(counts[1]) >= 1 and int(counts[2]) >= 1 and int(counts[1]) + int(counts[2]) == 4, run.stdout
    assert 'workers stayed busy' in run.stdout and 'no worker leaked' in run.stdout, run.stdout
