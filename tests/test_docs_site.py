"""The docs site, rendered without Quarto, checked in headless Chromium: every chapter loads cleanly with its title and
figures, code scrolls instead of being cut off, and the sidebar numbers, table of contents, pager and search work."""
import functools, http.server, re, sys, threading
from pathlib import Path

import nbformat, pytest, yaml
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from render_docs import prepare_cells, render_site  # noqa: E402

DESKTOP, NARROW = (1400, 1000), (800, 1000)  # the first is conftest's browser's size
# The course's numbers for a few chapters; the index page has none.
CHAPTER_NUMBERS = {'index.ipynb': '', '00_common.ipynb': '0', '00a_corpora.ipynb': '0a', '04a_dataloader.ipynb': '4a',
                   '05b_pretrain.ipynb': '5b'}

# A `pre` is cut off when its text is wider than its box and it neither scrolls nor wraps, or when an ancestor hides
# what sticks out or is itself wider than its box (then the reader scrolls the whole page, or the code is clipped).
CLIPPED_CODE = """
const cutOff = pre => {
  const style = getComputedStyle(pre);
  const fits = pre.scrollWidth <= pre.clientWidth || ['auto', 'scroll'].includes(style.overflowX)
    || !['pre', 'nowrap'].includes(style.whiteSpace);
  let clipped = false;
  for (let box = pre.parentElement; box; box = box.parentElement)
    clipped ||= ['hidden', 'clip'].includes(getComputedStyle(box).overflowX) || box.scrollWidth > box.clientWidth + 1;
  return !fits || clipped;
};
return [...document.querySelectorAll('pre')].filter(cutOff).map(pre => pre.textContent.slice(0, 60));
"""


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('site')
    pages = render_site(out)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_port}', pages
    server.shutdown()


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


def test_code_blocks_scroll_instead_of_being_cut_off(site, browser):
    url, pages = site
    for size in (NARROW, DESKTOP):
        browser.set_window_size(*size)
        for page in pages:
            browser.get(f'{url}/{page.name}')
            assert browser.find_elements('css selector', 'pre'), page.name
            assert not browser.execute_script(CLIPPED_CODE), (size, page.name, browser.execute_script(CLIPPED_CODE))


def test_sidebar_shows_the_course_numbers(site, browser):
    url, pages = site
    browser.get(f'{url}/{pages[-1].name}')
    sidebar = browser.execute_script("""return Object.fromEntries([...document.querySelectorAll('nav.sidebar ol a')]
        .map(a => [a.getAttribute('href'), [a.innerText, getComputedStyle(a.closest('li')).listStyleType]]))""")
    for page, (name, title, _) in zip(pages, chapters()):
        text, list_style = sidebar[page.name]
        assert list_style == 'none', (name, 'the browser numbers the list too')
        if name in CHAPTER_NUMBERS: assert text == f'{CHAPTER_NUMBERS[name]} {title}'.strip(), (name, text)


def test_table_of_contents_links_to_every_section(site, browser):
    url, pages = site
    page = pages[-1]
    browser.get(f'{url}/{page.name}')
    headings = browser.execute_script("return [...document.querySelectorAll('main h2[id], main h3[id]')].map(h => h.id)")
    links = browser.find_elements('css selector', 'nav.toc a')
    assert len(headings) >= 2 and [l.get_attribute('hash') for l in links] == [f'#{h}' for h in headings], page.name
    for link, heading in zip(links, headings):
        link.click()
        top = browser.execute_script("return document.getElementById(arguments[0]).getBoundingClientRect().top", heading)
        assert browser.execute_script("return location.hash") == f'#{heading}', heading
        assert -1 <= top < DESKTOP[1] / 2, (heading, 'not scrolled into view', top)


def test_previous_and_next_follow_the_sidebar(site, browser):
    url, pages = site
    names = [p.name for p in pages]
    for i, name in enumerate(names):
        browser.get(f'{url}/{name}')
        for rel, neighbour in (('prev', i - 1), ('next', i + 1)):
            links = [a.get_attribute('href').rsplit('/', 1)[-1]
                     for a in browser.find_elements('css selector', f'main a[rel={rel}]')]
            assert links == ([names[neighbour]] if 0 <= neighbour < len(names) else []), (name, rel, links)


def test_search_finds_a_word_from_a_later_chapter(site, browser):
    url, pages = site
    words = []
    for page in pages:
        browser.get(f'{url}/{page.name}')
        words.append(browser.find_element('css selector', 'main').text.lower())
    last_only = sorted(w for w in set(re.findall('[a-z]{6,}', words[-1])) if not any(w in text for text in words[:-1]))
    assert last_only, 'the last chapter has no word of its own to search for'
    browser.get(f'{url}/{pages[0].name}')
    browser.find_element('id', 'search').send_keys(last_only[0])
    results = WebDriverWait(browser, 5).until(lambda b: b.find_elements('css selector', '#search-results a'),
                                              f'searching for {last_only[0]!r} on {pages[0].name} found nothing')
    hits = [r for r in results if r.get_attribute('href').rsplit('/', 1)[-1].split('#')[0] == pages[-1].name]
    assert hits, (last_only[0], [r.get_attribute('href') for r in results])
    hits[0].click()
    assert browser.current_url.rsplit('/', 1)[-1].startswith(pages[-1].name), browser.current_url


def test_stateless_widgets_are_left_out():
    "A tqdm bar saved from a notebook run is a widget without state: its text fallback is its first frame, not the run."
    bar = nbformat.v4.new_output('display_data', data={'application/vnd.jupyter.widget-view+json': {'model_id': 'x'},
                                                         'text/plain': "['training d2:   0%|   | 0/60']"})
    log = nbformat.v4.new_output('stream', name='stdout', text='step 60 | val bpb 2.9\n')
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('train()', outputs=[bar, log])])
    assert prepare_cells(nb).cells[0].outputs == [log]


def test_widgets_keep_their_static_picture():
    "A `LiveWidget` saved from a run shows its HTML picture on the page; the live view's reference is dropped."
    view = {'application/vnd.jupyter.widget-view+json': {'model_id': 'x'}, 'text/plain': 'VBox(...)',
            'text/html': '<span>tokens</span><p><em>run the chapter in JupyterLab</em></p>'}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('playground()', outputs=[
        nbformat.v4.new_output('display_data', data=view)])])
    [output] = prepare_cells(nb).cells[0].outputs
    assert set(output.data) == {'text/plain', 'text/html'}, output.data
