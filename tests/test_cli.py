"Console scripts: bad input gives one line on stderr and exit status 2."
import re, subprocess, sys
from pathlib import Path

def test_env_report_cli_errors(tmp_path):
    cases = {('--preset', 'nope'): {}, (): {'NANOCHAT_LIT_DTYPE': 'fp8'},
             ('--preset', 'cpu'): {'NANOCHAT_LIT_BASE_DIR': str(tmp_path/'file'/'sub')}}
    (tmp_path/'file').write_text('a file, not a directory')
    for args, env in cases.items():
        run = subprocess.run([Path(sys.executable).with_name('nanochat_lit_env'), *args], capture_output=True, text=True,
                             env={'PATH': '/usr/bin:/bin', **env})
        assert run.returncode == 2, (args, env, run.stdout, run.stderr)
        assert run.stderr.startswith('error: ') and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_progress_bars_in_a_log_are_whole_lines():
    "Where stderr is a pipe (a log file, CI), a bar writes whole lines, not a carriage return per update."
    script = 'from nanochat_lit.common import progress_bar\nfor _ in progress_bar(range(200000), desc="work"): pass'
    run = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True)
    assert run.returncode == 0 and '\r' not in run.stderr, run.stderr[-2000:]
    assert run.stderr.endswith('\n') and run.stderr.splitlines()[-1].startswith('work: 100%'), run.stderr[-2000:]


def test_every_progress_bar_comes_from_progress_bar():
    "One way to show progress: a module that imports tqdm itself would put carriage returns back into logs."
    package = Path(__file__).parents[1]/'nanochat_lit'
    direct = [path.name for path in package.glob('*.py') if path.name != 'common.py' and re.search(r'^\s*(from|import) tqdm', path.read_text(), re.M)]
    assert not direct, f'{direct} import tqdm; use nanochat_lit.common.progress_bar'
