"Console scripts: bad input gives one line on stderr and exit status 2."
import subprocess, sys
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
