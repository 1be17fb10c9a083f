"nanochat_lit_tok end to end: train on offline corpora and on your own files, evaluate, and refuse bad input."
import os, subprocess, sys
from pathlib import Path

TOK = str(Path(sys.executable).with_name('nanochat_lit_tok'))

def tok(*args, base_dir):
    env = {**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(base_dir)}
    env.pop('NANOCHAT_LIT_SETTINGS', None)
    return subprocess.run([TOK, *args], capture_output=True, text=True, env=env, timeout=600)

def test_train_then_eval(tmp_path):
    # Corpora are cached in the user's base directory; reuse it so the test does not download them again.
    corpora = Path(os.environ.get('NANOCHAT_LIT_BASE_DIR') or Path.home()/'.cache'/'nanochat_lit')/'corpora'
    corpora.mkdir(parents=True, exist_ok=True)
    (tmp_path/'corpora').symlink_to(corpora, target_is_directory=True)
    run = tok('train', '--vocab_size', '1024', '--max-chars', '300000', '--sources', 'en:70,zh:30', base_dir=tmp_path)
    assert run.returncode == 0, run.stderr
    assert {p.name for p in (tmp_path/'tokenizer').iterdir()} == {'tokenizer.bpe', 'tokenizer_meta.json'}
    run = tok('eval', '--max-chars', '50000', base_dir=tmp_path)
    assert run.returncode == 0, run.stderr
    rows = [l for l in run.stdout.splitlines() if l.startswith('| English') or l.startswith('| Chinese')]
    assert len(rows) == 2 and all(r.count('|') == 7 for r in rows), run.stdout

def test_train_on_own_files(tmp_path):
    notes = tmp_path/'notes'
    notes.mkdir()
    for i in range(20): (notes/f'tune{i}.abc').write_text(f"X:{i}\nT:Tune {i}\nK:G\n|:GABc dedB|dedB dedB|c2ec B2dB:|\n" * 5)
    (notes/'cover.png').write_bytes(b'\x89PNG\r\n\x1a\n\x00\x00binary')
    run = tok('train', '--vocab-size', '300', '--text-dir', str(notes), '--output', str(tmp_path/'abc_tok'), base_dir=tmp_path)
    assert run.returncode == 0, run.stderr
    assert 'skipping' in run.stderr and 'cover.png' in run.stderr
    assert (tmp_path/'abc_tok'/'tokenizer.bpe').read_text().count('\n') <= 300 - 9

def test_bad_input(tmp_path):
    cases = [(('train', '--vocab-size', '100'), 'need at least 265'),
             (('train', '--sources', 'klingon'), 'klingon'),
             (('train', '--preset', 'nope'), 'unknown preset'),
             (('eval',), 'nanochat_lit_tok train'),
             (('frobnicate',), 'needs a command')]
    for args, message in cases:
        run = tok(*args, base_dir=tmp_path)
        assert run.returncode == 2 and message in run.stderr, (args, run.returncode, run.stderr)
