"""nanochat_lit_report as a run uses it: reset, every stage of a small real pipeline writing its section, generate; the page
opens in headless Chromium with every figure loaded and nothing fetched; bad input gets one line naming the fix."""
import json, os, subprocess

import pytest, torch

from conftest import SCRIPTS

SECTIONS = ['tokenizer', 'tokenizer-eval', 'base', 'base-eval', 'mid', 'sft', 'rl', 'chat-eval-rl']
FIGURES = ['base-curves', 'base-eval-centered', 'mid-curves', 'sft-curves', 'rl-curves', 'chat-eval-rl-centered']


def report(base, *args):
    return subprocess.run([SCRIPTS/'nanochat_lit_report', *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(base)})


@pytest.fixture(scope='module')
def pipeline(tmp_path_factory):
    "A base directory after `nanochat_lit_report reset` and a tiny real run of every stage, through the functions the console scripts call."
    from nanochat_lit.common import base_dir, env_vars
    from nanochat_lit.tokenizer import train_tokenizer, eval_tokenizer
    from nanochat_lit.dataset import prepare_dataset
    from nanochat_lit.train import train_base
    from nanochat_lit.core_eval import core_eval
    from nanochat_lit.midtrain import train_mid
    from nanochat_lit.sft import train_sft
    from nanochat_lit.rl import train_rl
    from nanochat_lit.chat_eval import eval_chat
    base = tmp_path_factory.mktemp('report')
    for cache in ('corpora', 'tasks', 'core'):  # the data the notebooks and other tests have downloaded
        (base_dir()/cache).mkdir(parents=True, exist_ok=True)
        (base/cache).symlink_to(base_dir()/cache, target_is_directory=True)
    started = report(base, 'reset')
    assert started.returncode == 0, started.stderr[-2000:]
    stage = dict(data='offline', device='cpu', num_iterations=4, eval_every=4, save_every=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # matrices this small gain nothing from a second thread, and on a busy machine two threads wait on each other
    try:
        with env_vars(NANOCHAT_LIT_BASE_DIR=str(base)):
            train_tokenizer(vocab_size=512, max_chars=300_000, sources='en')
            eval_tokenizer(max_chars=20_000, compare=False)
            train_base(depth=2, aspect_ratio=32, head_dim=32, max_seq_len=128, device_batch_size=4, total_batch_size=512, num_iterations=8,
                       eval_every=4, eval_tokens=1024, sample_every=0, save_every=0, device='cpu', compile=False, model_tag='tiny',
                       data_dir=prepare_dataset(sources='en', max_chars=600_000))
            core_eval(model_tag='tiny', source='offline', tasks='copa', max_per_task=8, eval_tokens=1024, device='cpu', fetch_bigbench=False)
            train_mid(source_tag='tiny', device_batch_size=2, eval_tokens=512, compile=False, **stage)
            train_sft(device_batch_size=2, examples_per_step=4, eval_batches=1, chat_eval='ARC-Easy', eval_items=4, **stage)
            train_rl(problems=20, prompts_per_step=2, num_samples=2, max_new_tokens=16, eval_problems=2, eval_samples=2, **stage)
            eval_chat(stage='rl', tasks='ARC-Easy,SpellingBee', max_per_task=4, max_tokens=16, device='cpu')
    finally: torch.set_num_threads(threads)
    return base


def test_report_opens_in_chromium_with_every_figure(pipeline, browser):
    assert sorted(p.stem for p in (pipeline/'report'/'sections').glob('*.json')) == sorted(SECTIONS)
    done = report(pipeline, 'generate', '--gpu-hour-cost', '2.5')
    assert done.returncode == 0, done.stderr[-2000:]
    page = pipeline/'report'/'report.html'
    assert str(page) in done.stdout and (pipeline/'report'/'report.md').is_file()
    browser.get(page.as_uri())
    assert browser.title == 'nanochat_lit report card'
    images = browser.execute_script("return [...document.images].map(i => [i.closest('figure').id, i.complete && i.naturalWidth > 0])")
    assert images == [[name, True] for name in FIGURES], images
    assert browser.execute_script("return performance.getEntriesByType('resource').map(r => r.name)") == []  # nothing fetched
    assert [e for e in browser.get_log('browser') if e['level'] == 'SEVERE'] == []
    summary = browser.execute_script("""return [...document.querySelector('table').rows].map(r => [...r.cells].map(c => c.textContent))""")
    assert summary[0] == ['metric', 'BASE', 'MID', 'SFT', 'RL'] and summary[1][0] == 'CORE-offline (1 of 22 tasks)', summary
    chat = json.loads((pipeline/'report'/'sections'/'chat-eval-rl.json').read_text())['data']  # ARC-Easy and SpellingBee: 2 of 6
    assert summary[-1] == ['ChatCORE (partial, 2 of 6 tasks)', '-', '-', '-', f"{chat['chatcore']:.4g}"] and chat['chatcore_label'] == summary[-1][0], summary
    assert 'estimated cost: n/a (the header lists no GPU)' in browser.find_element('tag name', 'body').text


def test_bad_input(tmp_path):
    for args, message in ((['generate'], 'run `nanochat_lit_report reset`'), (['publish'], 'one of reset, generate')):
        done = report(tmp_path, *args)
        assert done.returncode == 2 and message in done.stderr and 'Traceback' not in done.stderr, (args, done.stderr[-1500:])
