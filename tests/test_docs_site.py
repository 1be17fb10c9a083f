"The docs site, rendered without Quarto, checked in headless Chromium: every chapter loads cleanly with its title and figures."
import functools, http.server, shutil, sys, threading
from pathlib import Path

import nbformat, pytest, yaml
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from render_docs import render_site  # noqa: E402

CHROMIUM, CHROMEDRIVER = shutil.which('chromium'), shutil.which('chromedriver')


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('site')
    pages = render_site(out)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_port}', pages
    server.shutdown()


@pytest.fixture(scope='module')
def browser():
    assert CHROMIUM and CHROMEDRIVER, 'install Debian packages chromium and chromium-driver (runs/test.sh does)'
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
                 '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'):
        options.add_argument(flag)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def chapters():
    "(notebook, title, number of figures in its saved outputs) for every chapter, in sidebar order."
    nbs = ROOT/'nbs'
    for name in yaml.safe_load((nbs/'sidebar.yml').read_text())['website']['sidebar']['contents']:
        nb = nbformat.read(nbs/name, as_version=4)
        title = nb.cells[0].source.splitlines()[0].lstrip('# ').strip()
        figures = sum('image/png' in o.get('data', {}) for c in nb.cells if c.cell_type == 'code' for o in c.outputs)
        yield name, title, figures


def test_every_chapter_page(site, browser):
    url, pages = site
    expected = list(chapters())
    assert len(pages) == len(expected) >= 2
    for page, (name, title, figures) in zip(pages, expected):
        browser.get(f'{url}/{page.name}')
        assert browser.find_element('css selector', 'h1.title').text == title, name
        assert browser.title.startswith(title), name
        images = browser.execute_script(
            "return [...document.images].map(i => i.complete && i.naturalWidth > 0)")
        assert len(images) >= figures and all(images), (name, images, figures)
        errors = [e for e in browser.get_log('browser') if e['level'] == 'SEVERE']
        assert not errors, (name, errors)
        links = browser.execute_script("return [...document.querySelectorAll('nav a')].map(a => a.href)")
        assert {p.name for p in pages} <= {l.rsplit('/', 1)[-1] for l in links}, name
