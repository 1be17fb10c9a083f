"""JupyterLab on the project's .venv, as README and runs/runcpu.sh tell the reader: a chapter opens rendered in headless Chromium,
on a kernel that runs the .venv's Python; chapters with widgets run cell by cell as a learner runs them, and their widgets answer
typing and sliders."""
import importlib.util, json, os, secrets, socket, subprocess, sys, time, urllib.error, urllib.request
from pathlib import Path

import nbformat, psutil, pytest
from selenium.webdriver.common.keys import Keys
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = '00_common.ipynb'
JUPYTER = Path(sys.executable).with_name('jupyter')  # the jupyter of the environment running the tests, i.e. .venv
# Lab settings for the isolated config dir: never save into nbs/ (others edit it) and never ask the internet for news.
SETTINGS = {'@jupyterlab/docmanager-extension/plugin': {'autosave': False},
            '@jupyterlab/apputils-extension/notification': {'fetchNews': 'false', 'checkForUpdates': False}}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def chapter_title(name):
    "The chapter's title: the first line of its first markdown cell, without the '# '."
    nb = nbformat.read(ROOT/'nbs'/name, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == 'markdown')
    return first.source.splitlines()[0].lstrip('#').strip()


def stop(server):
    "Stop `jupyter lab` and every kernel it started: SIGTERM, then SIGKILL for what has not exited after 20 s."
    try: procs = [server] + server.children(recursive=True)
    except psutil.NoSuchProcess: procs = [server]  # it has exited already
    for p in procs:
        try: p.terminate()
        except psutil.NoSuchProcess: pass
    _, alive = psutil.wait_procs(procs, timeout=20)
    for p in alive: p.kill()
    psutil.wait_procs(alive, timeout=10)


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "`jupyter lab` serving nbs/ on a free local port with a fresh token, isolated from ~/.jupyter; stopped at the end."
    missing = [m for m in ('jupyterlab', 'ipywidgets') if importlib.util.find_spec(m) is None]
    assert not missing and JUPYTER.exists(), (
        f'{", ".join(missing) or "jupyter"} not installed in {sys.prefix}; run `bash runs/setup.sh` '
        f'(it installs the pins of requirements.txt into .venv), then run the tests with .venv/bin/python')
    home = tmp_path_factory.mktemp('jupyter')
    for plugin, values in SETTINGS.items():
        path = home/'config'/'lab'/'user-settings'/f'{plugin}.jupyterlab-settings'
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(home/'config'), 'JUPYTER_RUNTIME_DIR': str(home/'runtime'),
           'IPYTHONDIR': str(home/'ipython')}
    port, token = free_port(), secrets.token_hex(16)
    log = open(home/'server.log', 'w+')
    cmd = [str(JUPYTER), 'lab', '--no-browser', '--ip=127.0.0.1', f'--port={port}', '--ServerApp.port_retries=0',
           f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={ROOT/"nbs"}',
           '--ServerApp.allow_root=True',  # containers and CI run as root
           '--LabApp.expose_app_in_browser=True']  # window.jupyterapp: the tests run cells with JupyterLab's own commands
    server = psutil.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    try:
        url = f'http://127.0.0.1:{port}'
        api = lambda path: json.load(urllib.request.urlopen(f'{url}{path}?token={token}', timeout=10))
        deadline = time.monotonic() + 60
        while True:
            try:
                api('/api/status')
                break
            except (urllib.error.URLError, ConnectionError):
                log.seek(0)
                assert server.poll() is None, f'jupyter lab exited with {server.returncode}:\n{log.read()}'
                assert time.monotonic() < deadline, f'jupyter lab did not answer on {url} in 60 s:\n{log.read()}'
                time.sleep(0.5)
        assert api('/lab/api/settings/@jupyterlab/docmanager-extension:plugin')['settings']['autosave'] is False
        yield url, token, api, server
    finally:
        stop(server)
        log.close()


def is_venv_python(path):
    "Whether `path` is this environment's interpreter (by location in the venv, not by what the symlink points at)."
    return Path(os.path.abspath(path)).parent == Path(os.path.abspath(sys.executable)).parent


def test_default_kernel_is_the_venv_python(lab):
    _, _, api, _ = lab
    specs = api('/api/kernelspecs')
    argv = specs['kernelspecs'][specs['default']]['spec']['argv']
    # jupyter_client runs a bare `python` as the server's own interpreter, which is the .venv's (see JUPYTER).
    assert is_venv_python(argv[0]) or argv[0] in ('python', 'python3', f'python3.{sys.version_info.minor}'), argv


def test_chapter_opens_rendered_on_a_venv_kernel(lab, browser, tmp_path):
    url, token, api, server = lab
    title, screenshot = chapter_title(CHAPTER), str(tmp_path/'jupyterlab.png')
    browser.get(f'{url}/lab/tree/{CHAPTER}?token={token}')
    headings = lambda d: [h.text.rstrip('¶').strip() for h in d.find_elements('css selector', '.jp-RenderedMarkdown h1')]
    try:
        WebDriverWait(browser, 90, poll_frequency=0.5).until(lambda d: title in headings(d))
    except TimeoutException:
        browser.save_screenshot(screenshot)
        raise AssertionError(f'{title!r} not among the rendered headings {headings(browser)} of {CHAPTER} in 90 s '
                             f'(screenshot: {screenshot})') from None
    browser.save_screenshot(screenshot)  # to look at by hand; pytest keeps the last runs' tmp_path
    # Opening the notebook starts its kernel; wait until it is idle and check which interpreter it runs.
    deadline = time.monotonic() + 60
    while not [s for s in api('/api/sessions') if s['path'] == CHAPTER and s['kernel']['execution_state'] == 'idle']:
        assert time.monotonic() < deadline, f'no idle kernel for {CHAPTER} in 60 s: {api("/api/sessions")}'
        time.sleep(0.5)
    kernels = [p.cmdline() for p in server.children(recursive=True) if 'ipykernel_launcher' in p.cmdline()]
    assert len(kernels) == 1 and is_venv_python(kernels[0][0]), kernels


SKIPPED_FLAGS = ('notest', 'slow')  # as nbdev-test: cells it leaves out need a real run's checkpoints or minutes
# In the page: run the notebook's cell `index` with JupyterLab's own command; answer with its outputs once it has finished.
RUN_CELL = """
const [index, done] = arguments, notebook = window.jupyterapp.shell.currentWidget.content;
notebook.activeCellIndex = index;
window.jupyterapp.commands.execute('notebook:run-cell')
  .then(() => done({outputs: notebook.model.cells.get(index).toJSON().outputs}), error => done({failed: String(error)}));
"""
CELLS = "return Array.from(window.jupyterapp.shell.currentWidget.content.model.cells, c => [c.type, c.sharedModel.getSource()]);"


def open_chapter(browser, lab, name):
    "Open a chapter in JupyterLab and wait until its kernel is idle."
    url, token, api, _ = lab
    browser.get(f'{url}/lab/tree/{name}?token={token}')
    WebDriverWait(browser, 120, poll_frequency=0.5).until(
        lambda d: d.execute_script("const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                                   "return !!(w && w.context && w.context.path === arguments[0] && w.sessionContext.session"
                                   " && w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle');", name),
        f'{name} did not open with an idle kernel in 120 s')


def run_chapter(browser, name):
    "Run every code cell nbdev-test runs, one at a time as a learner does; return seconds taken. Fails on the first error output."
    started = time.monotonic()
    browser.set_script_timeout(600)
    for index, (kind, source) in enumerate(browser.execute_script(CELLS)):
        flags = {line[3:].split()[0] for line in source.splitlines() if line.startswith('#| ') and line[3:].split()}
        if kind != 'code' or flags & set(SKIPPED_FLAGS): continue
        result = browser.execute_async_script(RUN_CELL, index)
        assert 'failed' not in result, f'{name} cell {index}: {result["failed"]}'
        errors = [o for o in result['outputs'] if o['output_type'] == 'error']
        assert not errors, f'{name} cell {index} ({source[:80]!r}) failed: {errors[0]["ename"]}: {errors[0]["evalue"]}'
    return time.monotonic() - started


def console_errors(browser, name) -> list:
    "The page's SEVERE console entries, less Chromium's note that an earlier chapter's page (a kernel open) asked to confirm leaving."
    return [e['message'] for e in browser.get_log('browser') if e['level'] == 'SEVERE'
            and not ('beforeunload' in e['message'] and f'/lab/tree/{name}' not in e['message'])]


def close_chapter(lab, name):
    "Shut the chapter's kernel down, so later tests see only their own."
    url, token, api, _ = lab
    for session in api('/api/sessions'):
        if session['path'] == name:
            request = urllib.request.Request(f"{url}/api/sessions/{session['id']}?token={token}", method='DELETE')
            urllib.request.urlopen(request, timeout=30)


def wait_for_change(browser, read, before, what, timeout=120):
    "Wait until `read(browser)` differs from `before`; return it."
    WebDriverWait(browser, timeout, poll_frequency=0.5).until(lambda d: read(d) != before, f'{what} did not change in {timeout} s')
    return read(browser)


def test_tokenizer_playground_answers_typing(lab, browser, tmp_path):
    "Chapter 1 runs cell by cell in JupyterLab; typing into its playground redraws the tokens of each tokenizer."
    name = '01_tokenizer.ipynb'
    browser.get_log('browser')  # start the console log afresh
    open_chapter(browser, lab, name)
    seconds = run_chapter(browser, name)
    panels = lambda d: [p.text for p in d.find_elements('css selector', '.widget-html-content') if 'bytes per token' in p.text]
    box = browser.find_element('css selector', '.widget-textarea textarea')
    browser.execute_script('arguments[0].scrollIntoView({block: "center"})', box)
    before = panels(browser)
    assert len(before) == 2, before  # the chapter compares two tokenizers
    box.clear()
    box.send_keys('Hello, 世界')
    after = wait_for_change(browser, panels, before, 'the tokens panels')
    WebDriverWait(browser, 30).until(lambda d: all('for 9 characters' in p for p in panels(d)), f'panels never counted 9 characters: {panels(browser)}')
    browser.save_screenshot(str(tmp_path/'01_tokenizer_playground.png'))
    print(f'{name}: ran in {seconds:.0f} s; panels before typing {before[0][:60]!r}, after {after[0][:60]!r}')
    errors = console_errors(browser, name)
    assert not errors, errors
    close_chapter(lab, name)


def test_sampling_playground_answers_a_slider(lab, browser, tmp_path):
    "Chapter 6 runs cell by cell in JupyterLab; moving its top-k slider redraws the chart and the sampled text."
    name = '06_engine.ipynb'
    browser.get_log('browser')
    open_chapter(browser, lab, name)
    seconds = run_chapter(browser, name)
    readout = lambda d: (d.find_element('css selector', 'img.widget-image').get_attribute('src'),
                         [e.text for e in d.find_elements('css selector', '.widget-html-content') if 'tokens,' in e.text])
    chart, summary = readout(browser)
    assert len(summary) == 1 and summary[0].startswith('kept') and not summary[0].startswith('kept 1 of'), summary
    handle = next(s for s in browser.find_elements('css selector', '.widget-slider')
                  if 'top-k' in s.text).find_element('css selector', '.noUi-handle')
    browser.execute_script('arguments[0].scrollIntoView({block: "center"})', handle)
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)  # top-k 0 (every token) -> 1, as a learner moves it with the keyboard
    new_chart, new_summary = wait_for_change(browser, readout, (chart, summary), 'the chart and the sampled text')
    assert new_chart != chart and any(s.startswith('kept 1 of') for s in new_summary), new_summary
    browser.save_screenshot(str(tmp_path/'06_sampling_playground.png'))
    print(f'{name}: ran in {seconds:.0f} s; after top-k 1: {new_summary[0][:80]!r}')
    errors = console_errors(browser, name)
    assert not errors, errors
    close_chapter(lab, name)
