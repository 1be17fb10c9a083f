"""What the process-level tests share: Debian's Chromium, headless, making no network traffic of its own;
small chat checkpoints in throwaway base directories; and `nanochat_lit_web` run as a server on loopback."""
import os, shutil, socket, subprocess, sys, time
from dataclasses import asdict
from pathlib import Path

import httpx, pytest, torch
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM, CHROMEDRIVER = shutil.which('chromium'), shutil.which('chromedriver')
# Without the background-networking flags Chromium keeps trying to reach Google's services, which a closed network refuses.
QUIET_HEADLESS = ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync')


@pytest.fixture(scope='module')
def browser():
    "A headless Chromium at a desktop window size (1400 × 1000) that keeps the page's console log; quit after the module."
    assert CHROMIUM and CHROMEDRIVER, 'install Debian packages chromium and chromium-driver (runs/test.sh does)'
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in QUIET_HEADLESS: options.add_argument(flag)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(1400, 1000)
    yield driver
    driver.quit()


CONVERSATIONS = [('Hello', 'Hi! How can I help?'), ('你好', '你好！我能帮你什么？🙂'), ('What is 2+2?', '2+2 = 4.')]
SCRIPTS = Path(sys.executable).parent


def _save(base:Path, stage:str, tag:str, model, tokenizer, step:int):
    from nanochat_lit.checkpoint import save_checkpoint
    tokenizer.save(base/'tokenizer')
    meta = {'model_config': asdict(model.config), 'tokenizer': {'dir': str(base/'tokenizer'), 'vocab_size': tokenizer.vocab_size}}
    save_checkpoint(base/'checkpoints'/stage/tag, step, model.state_dict(), {}, meta, {})


@pytest.fixture(scope='session')
def memorized_base(tmp_path_factory) -> Path:
    "A base directory with an SFT model that has learned `CONVERSATIONS` by heart (greedy replies are exact; Chinese and emoji included)."
    from nanochat_lit.gpt import build_model, config_from_depth
    from nanochat_lit.tokenizer import Tokenizer
    base = tmp_path_factory.mktemp('memorized')
    talks = [{'messages': [{'role': 'user', 'content': q}, {'role': 'assistant', 'content': a}]} for q, a in CONVERSATIONS]
    tokenizer = Tokenizer.train([' '.join(q + ' ' + a for q, a in CONVERSATIONS) * 20], vocab_size=300)
    torch.manual_seed(0)
    model = build_model(config_from_depth(1, tokenizer.vocab_size, aspect_ratio=128, head_dim=32, sequence_len=1024), 'cpu')
    rendered = [tokenizer.render_conversation(t) for t in talks]
    width = max(len(ids) for ids, _ in rendered) - 1
    inputs, targets = torch.zeros(len(talks), width, dtype=torch.long), torch.full((len(talks), width), -1)
    for row, (ids, mask) in enumerate(rendered):
        ids, mask = torch.tensor(ids), torch.tensor(mask)
        inputs[row, :len(ids) - 1] = ids[:-1]
        targets[row, :len(ids) - 1] = torch.where(mask[1:] == 1, ids[1:], -1)  # learn the replies only
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0)
    for _ in range(100):
        model(inputs, targets).backward(); optimizer.step(); optimizer.zero_grad()
    _save(base, 'sft', 'memorized', model, tokenizer, 100)
    return base


@pytest.fixture(scope='session')
def rambling_base(tmp_path_factory) -> Path:
    "A base directory with an untrained model whose stop tokens are never likely: every reply runs to max_tokens."
    from nanochat_lit.gpt import build_model, config_from_depth
    from nanochat_lit.tokenizer import Tokenizer
    base = tmp_path_factory.mktemp('rambling')
    tokenizer = Tokenizer.train(['A model that talks and talks, 不停地说话. ' * 50], vocab_size=280)
    torch.manual_seed(0)
    model = build_model(config_from_depth(2, tokenizer.vocab_size, aspect_ratio=128, head_dim=64, sequence_len=4096), 'cpu')
    with torch.no_grad():
        model.lm_head.weight.normal_()  # large random logits, capped at ±15 ...
        model.lm_head.weight[list(tokenizer.special_tokens.values())] = 0  # ... and 0 for the special tokens, the stop tokens among them
    _save(base, 'sft', 'rambling', model, tokenizer, 1)
    return base


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class WebServer:
    "`nanochat_lit_web` started on a free loopback port; stopped with `stop()` (or the fixture's end)."
    def __init__(self, base:Path, *flags):
        self.base, self.port = base, free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.process = subprocess.Popen([SCRIPTS/'nanochat_lit_web', '--port', str(self.port), *flags], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, env={**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(base)})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f'nanochat_lit_web exited: {self.process.stdout.read()}'
            try:
                if httpx.get(f'{self.url}/health', timeout=1).status_code == 200: return
            except httpx.HTTPError: time.sleep(0.2)
        raise TimeoutError('nanochat_lit_web did not answer /health within 120 s')

    def stop(self):
        self.process.terminate()
        try: self.process.wait(10)
        except subprocess.TimeoutExpired: self.process.kill(); self.process.wait()
