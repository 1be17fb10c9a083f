"""Render the docs site without Quarto.

nbdev prepares the notebooks exactly as it does for Quarto (`proc_nbs`: front matter, API docs from docstrings,
hidden cells dropped) and orders the chapters as Quarto's sidebar does (`sidebar.yml`); nbconvert then turns each
processed notebook into a page. Each page gets the course's chapter numbers in the sidebar, a search box over all
pages (an index in `search.js`, searched in the browser), a table of contents and links to the previous and next
chapter; nothing is fetched from the network. With Quarto installed, `nbdev-docs` builds the full site from the same
inputs.

Usage: python tools/render_docs.py [--out _site]
"""
import argparse, html, json, re, shutil
from pathlib import Path

import nbformat, yaml
from latex2mathml.converter import convert as latex_to_mathml
from nbconvert import HTMLExporter
from nbdev.config import get_config
from nbdev.quarto import nbdev_sidebar, refresh_quarto_yml
from nbdev.serve import proc_nbs
from pygments.formatters import HtmlFormatter
from traitlets.config import Config

CODE_SPANS = re.compile(r'(```.*?```|`[^`\n]*`)', re.S)
DISPLAY_MATH = re.compile(r'\$\$(.+?)\$\$', re.S)
INLINE_MATH = re.compile(r'(?<![\\$\w])\$([^\s$](?:[^$\n]*?[^\s$])?)\$(?![\w$])')
PANDOC_ATTRIBUTES = re.compile(r'(\]\([^)]*\))\{[^}]*\}')
WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'
DIRECTIVE = re.compile(r'^#\|\s*([\w-]+)\s*:?\s*(.*)$')
CHAPTER_NUMBER = re.compile(r'(\d+)([a-z]?)_')
HEADING = re.compile(r'<h(?P<level>[23]) id="(?P<id>[^"]*)">(?P<inner>.*?)</h(?P=level)>', re.S)
ANCHOR_LINK = re.compile(r'<a class="anchor-link"[^>]*>.*?</a>', re.S)
TAG = re.compile(r'<[^>]+>')

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – {site}</title>
<link rel="icon" href="data:,">
<style>{css}</style></head>
<body><nav class="sidebar"><a class="site" href="index.html">{site}</a>
<input type="search" id="search" placeholder="Search" aria-label="Search all chapters" autocomplete="off">
<ul id="search-results"></ul><ol>{nav}</ol></nav>
<main><header><h1 class="title">{title}</h1><p class="description">{description}</p></header>
{toc}<article>{body}</article><nav class="pager">{pager}</nav></main>
<script src="search.js"></script><script>{script}</script></body></html>
"""

# Shows the pages containing every word typed, each linked to the first section that has the first word.
SEARCH_SCRIPT = """
const box = document.getElementById('search'), results = document.getElementById('search-results');
function matches(query) {
  const words = query.toLowerCase().split(/\\s+/).filter(Boolean);
  if (!words.length) return [];
  return SEARCH_INDEX.filter(page => words.every(word => page.sections.some(s => s.text.includes(word))))
    .map(page => [page, page.sections.find(s => s.text.includes(words[0]))]);
}
box.addEventListener('input', () => {
  const found = matches(box.value).map(([page, section]) => {
    const item = document.createElement('li'), link = item.appendChild(document.createElement('a'));
    link.href = page.href + (section.id ? '#' + encodeURIComponent(section.id) : '');
    link.textContent = page.label + (section.heading ? ' › ' + section.heading : '');
    return item;
  });
  if (box.value.trim() && !found.length)
    found.push(Object.assign(document.createElement('li'), {textContent: 'No matches'}));
  results.replaceChildren(...found);
});
"""

CSS = """
body { margin: 0; display: flex; font: 16px/1.6 system-ui, sans-serif; color: #222; }
nav.sidebar { width: 16rem; flex: none; padding: 1.5rem 1rem; background: #f5f6f8; box-sizing: border-box;
              position: sticky; top: 0; height: 100vh; overflow-y: auto; }
nav a { text-decoration: none; } nav a:hover { text-decoration: underline; }
nav.sidebar .site { font-weight: 700; font-size: 1.2rem; color: #2c3e50; }
nav.sidebar input { display: block; width: 100%; box-sizing: border-box; margin: .8rem 0 .4rem; padding: .3rem .5rem; font: inherit; }
#search-results { list-style: none; padding-left: 0; font-size: .9rem; }
nav.sidebar ol { list-style: none; padding-left: 0; } nav.sidebar li { margin: .3rem 0; }
nav.sidebar .number { display: inline-block; min-width: 1.8rem; color: #666; }
nav.sidebar a.current { font-weight: 700; }
/* min-width: 0 lets main shrink below its widest code line, so each pre scrolls instead of the page */
main { flex: 1; min-width: 0; max-width: 56rem; padding: 1.5rem 2.5rem; }
header .description { color: #555; font-size: 1.1rem; }
.anchor-link { visibility: hidden; margin-left: .3rem; text-decoration: none; }
:hover > .anchor-link { visibility: visible; }
nav.toc { font-size: .9rem; border-left: 3px solid #d0d7de; padding-left: 1rem; }
nav.toc p { font-weight: 700; margin: 0; } nav.toc ul { list-style: none; padding-left: 0; margin: .3rem 0; }
nav.toc li.h3 { padding-left: 1rem; }
nav.pager { display: flex; justify-content: space-between; gap: 1rem; margin-top: 3rem; padding-top: 1rem; border-top: 1px solid #d0d7de; }
nav.pager .next { margin-left: auto; }
@media (min-width: 80rem) {
  main { max-width: 74rem; display: grid; grid-template-columns: minmax(0, 1fr) 14rem; column-gap: 2.5rem; align-content: start; }
  main > * { grid-column: 1; }
  nav.toc { grid-column: 2; grid-row: 1 / span 3; align-self: start; position: sticky; top: 1.5rem; max-height: calc(100vh - 3rem); overflow-y: auto; }
}
@media (max-width: 48rem) {
  body { display: block; } nav.sidebar { width: auto; height: auto; position: static; } main { padding: 1rem; }
}
pre, code { font: 14px/1.45 ui-monospace, monospace; }
pre { overflow-x: auto; }
:not(pre) > code { overflow-wrap: anywhere; }  /* a long command in a sentence wraps instead of widening the page */
.input_area pre { background: #f7f7f9; padding: .6rem .8rem; border-radius: 4px; }
.output_area pre { padding: .3rem .8rem; border-left: 3px solid #d0d7de; }
table { border-collapse: collapse; margin: .8rem 0; display: block; max-width: 100%; width: max-content; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; }
math[display=block] { overflow-x: auto; }
img { max-width: 100%; }
.cell { margin: .8rem 0; }
"""


def math_to_mathml(markdown: str) -> str:
    "Replace $...$ and $$...$$ outside code with MathML, which browsers render without scripts."
    def convert(text):
        text = DISPLAY_MATH.sub(lambda m: latex_to_mathml(m[1].strip(), display='block'), text)
        return INLINE_MATH.sub(lambda m: latex_to_mathml(m[1]), text)
    return ''.join(part if i % 2 else convert(part) for i, part in enumerate(CODE_SPANS.split(markdown)))


def front_matter(nb) -> dict:
    "The YAML front matter nbdev puts in a processed notebook's first raw cell."
    first = nb.cells[0] if nb.cells else None
    if first is None or first.cell_type != 'raw' or not first.source.startswith('---'): return {}
    return yaml.safe_load(first.source.strip().strip('-')) or {}


def static_picture(output) -> bool:
    "Whether a static page can show an output: not a live widget without a picture of itself (a tqdm bar); `LiveWidget`s bring HTML."
    data = output.get('data', {})
    return WIDGET_VIEW not in data or 'text/html' in data or 'image/png' in data


def prepare_cells(nb):
    "Apply Quarto's cell options the way Quarto would: drop `include: false`, hide `echo: false` source, strip `#|` lines."
    cells = []
    for cell in nb.cells:
        cell.metadata.pop('execution', None)  # nbdev's timing notes are not valid nbformat
        if cell.cell_type == 'raw': continue
        if cell.cell_type == 'markdown':
            cell.source = math_to_mathml(cell.source)
        elif cell.cell_type == 'code':
            lines = cell.source.splitlines()
            options = dict(m.groups() for m in map(DIRECTIVE.match, lines) if m)
            if options.get('include') == 'false': continue
            cell.source = '\n'.join(l for l in lines if not DIRECTIVE.match(l)).strip()
            if options.get('echo') == 'false' or not cell.source:
                cell.metadata.setdefault('tags', []).append('remove_input')
            if options.get('output') == 'false': cell.outputs = []
            cell.outputs = [o for o in cell.outputs if static_picture(o)]
            for output in cell.outputs:
                output.get('data', {}).pop(WIDGET_VIEW, None)  # no kernel on the page: the picture stands in for the widget
                if 'text/markdown' in output.get('data', {}):
                    output.data['text/markdown'] = PANDOC_ATTRIBUTES.sub(r'\1', output.data['text/markdown'])
        cells.append(cell)
    nb.cells = cells
    return nb


def output_name(notebook: Path, meta: dict) -> str:
    return meta.get('output-file') or notebook.with_suffix('.html').name


def chapter_number(notebook: str) -> str:
    "The course's number for a chapter, from its file name: `05b_pretrain.ipynb` -> '5b', `index.ipynb` -> ''."
    match = CHAPTER_NUMBER.match(notebook)
    return f'{int(match[1])}{match[2]}' if match else ''


def plain_text(fragment: str) -> str:
    "The words of an HTML fragment, without tags and heading anchors."
    return ' '.join(html.unescape(TAG.sub(' ', ANCHOR_LINK.sub('', fragment))).split())


def page_sections(body: str) -> list[dict]:
    "The page split at its h2 and h3 headings (nbconvert gives them ids); the first section is the text before them."
    headings = list(HEADING.finditer(body))
    ends = [h.start() for h in headings[1:]] + [len(body)]
    intro = {'level': 0, 'id': '', 'heading': '', 'text': plain_text(body[:headings[0].start()] if headings else body)}
    return [intro] + [{'level': int(h['level']), 'id': html.unescape(h['id']), 'heading': plain_text(h['inner']),
                       'text': plain_text(body[h.end():end])} for h, end in zip(headings, ends)]


def table_of_contents(sections: list[dict]) -> str:
    items = ''.join(f'<li class="h{s["level"]}"><a href="#{html.escape(s["id"])}">{html.escape(s["heading"])}</a></li>'
                    for s in sections if s['level'])
    return f'<nav class="toc"><p>On this page</p><ul>{items}</ul></nav>' if items else ''


def pager(pages: list[str], labels: list[str], i: int) -> str:
    "Links to the chapters before and after page `i` in sidebar order."
    links = [('prev', i - 1, '← {}'), ('next', i + 1, '{} →')]
    return ''.join(f'<a class="{rel}" rel="{rel}" href="{pages[j]}">{text.format(html.escape(labels[j]))}</a>'
                   for rel, j, text in links if 0 <= j < len(pages))


def search_entry(page: str, label: str, description: str, sections: list[dict]) -> dict:
    "One page in `search.js`: each section's id, heading and lowercased words; the label and description join the first."
    texts = [f'{label} {description} {sections[0]["text"]}'] + [f'{s["heading"]} {s["text"]}' for s in sections[1:]]
    return {'href': page, 'label': label,
            'sections': [{'id': s['id'], 'heading': s['heading'], 'text': t.lower()} for s, t in zip(sections, texts)]}


def render_site(out: Path) -> list[Path]:
    "Render every chapter to `out` in sidebar order, with the search index `search.js`; returns the pages written."
    cfg = get_config()
    refresh_quarto_yml()
    nbdev_sidebar.__wrapped__(force=True)
    cache = proc_nbs(n_workers=0)
    order = yaml.safe_load((cfg.nbs_path/'sidebar.yml').read_text())['website']['sidebar']['contents']
    chapters = [(name, nbformat.read(cache/name, as_version=4)) for name in order]
    metas = [front_matter(nb) for _, nb in chapters]
    pages = [output_name(Path(name), meta) for (name, _), meta in zip(chapters, metas)]
    links = dict(zip(order, pages))
    numbers = [chapter_number(Path(name).name) for name in order]
    titles = [meta.get('title', name) for name, meta in zip(order, metas)]
    labels = [f'{number} {title}'.strip() for number, title in zip(numbers, titles)]
    entries = [(f'<span class="number">{number}</span> ' if number else '') + html.escape(title)
               for number, title in zip(numbers, titles)]

    config = Config({'TagRemovePreprocessor': {'enabled': True, 'remove_input_tags': {'remove_input'}}})
    exporter = HTMLExporter(config=config, template_name='basic', exclude_input_prompt=True, exclude_output_prompt=True)
    css = CSS + HtmlFormatter().get_style_defs('.highlight')
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    search_index = []
    for i, ((_, nb), meta, page) in enumerate(zip(chapters, metas, pages)):
        body, _ = exporter.from_notebook_node(prepare_cells(nb))
        for source, target in links.items(): body = body.replace(f'href="{source}', f'href="{target}')
        nav = ''.join(f'<li><a href="{p}"{" class=current" if p == page else ""}>{entry}</a></li>'
                      for entry, p in zip(entries, pages))
        description = meta.get('description', '')
        sections = page_sections(body)
        search_index.append(search_entry(page, labels[i], description, sections))
        (out/page).write_text(PAGE.format(title=html.escape(titles[i]), site=html.escape(cfg.title), css=css, nav=nav,
                                          description=html.escape(description), toc=table_of_contents(sections),
                                          body=body, pager=pager(pages, labels, i), script=SEARCH_SCRIPT),
                              encoding='utf-8')
    (out/'search.js').write_text(f'const SEARCH_INDEX = {json.dumps(search_index, ensure_ascii=False)};\n', encoding='utf-8')
    return [out/p for p in pages]


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='_site', help='output directory (default: _site)')
    for page in render_site(Path(parser.parse_args().out)): print(page)
