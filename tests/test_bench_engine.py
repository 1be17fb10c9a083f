"bench/engine.py at toy size: every part runs to the end on a tiny checkpoint and prints its medians, ratios and targets."
import os, re, subprocess, sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1]/'bench'/'engine.py'


def test_every_part_at_toy_size(rambling_base):
    env = {**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(rambling_base), 'OMP_NUM_THREADS': '1'}
    run = subprocess.run([sys.executable, str(SCRIPT), '--stage', 'sft', '--model-tag', 'rambling', '--rounds', '2', '--new-tokens', '12',
                          '--prompt-tokens', '40', '--batch-size', '8', '--ttft-repeats', '1', '--turns', '3', '--reply-tokens', '6'],
                         capture_output=True, text=True, env=env, timeout=300)
    out = run.stdout
    assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
    assert 'stop tokens disabled' in out
    assert re.search(r'cached / uncached: median [\d.]+x', out) and re.search(r'batch 8 / batch 1: median [\d.]+x', out), out
    assert re.search(r'target cached / uncached >= 8x: (met|NOT met)', out) and re.search(r'target batch 8 / batch 1 >= 4x: (met|NOT met)', out), out
    assert re.search(r'uncached / cached: median [\d.]+x', out), out
    turns = re.findall(r'^ +(\d) +(\d+) +(\d+) +[\d.]+ ms +[\d.]+ ms +[\d.]+x$', out, re.M)
    assert [int(t[0]) for t in turns] == [1, 2, 3], out
    history, prefilled = [int(t[1]) for t in turns], [int(t[2]) for t in turns]
    assert history == sorted(history) and all(p < h for p, h in zip(prefilled[1:], history[1:])), out  # the kept cache is reused
