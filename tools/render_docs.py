"""Render the docs site without Quarto.

nbdev prepares the notebooks exactly as it does for Quarto (`proc_nbs`: front matter, API docs from docstrings,
hidden cells dropped) and orders the chapters as Quarto's sidebar does (`sidebar.yml`); nbconvert then turns each
processed notebook into a page. With Quarto installed, `nbdev-docs` builds the full site from the same inputs.

Usage: python tools/render_docs.py [--out _site]
"""
import argparse, html, re, shutil
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
DIRECTIVE = re.compile(r'^#\|\s*([\w-]+)\s*:?\s*(.*)$')

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – {site}</title>
<link rel="icon" href="data:,">
<style>{css}</style></head>
<body><nav class="sidebar"><a class="site" href="index.html">{site}</a><ol>{nav}</ol></nav>
<main><header><h1 class="title">{title}</h1><p class="description">{description}</p></header>
{body}</main></body></html>
"""

CSS = """
body { margin: 0; display: flex; font: 16px/1.6 system-ui, sans-serif; color: #222; }
nav.sidebar { width: 16rem; flex: none; padding: 1.5rem 1rem; background: #f5f6f8; min-height: 100vh; box-sizing: border-box; }
nav.sidebar .site { font-weight: 700; font-size: 1.2rem; color: #2c3e50; text-decoration: none; }
nav.sidebar ol { padding-left: 1.2rem; } nav.sidebar li { margin: .3rem 0; }
nav.sidebar a.current { font-weight: 700; }
main { max-width: 56rem; padding: 1.5rem 2.5rem; overflow-x: auto; }
header .description { color: #555; font-size: 1.1rem; }
pre, code { font: 14px/1.45 ui-monospace, monospace; }
.jp-InputArea pre { background: #f7f7f9; padding: .6rem .8rem; border-radius: 4px; overflow-x: auto; }
.jp-OutputArea pre { padding: .3rem .8rem; border-left: 3px solid #d0d7de; overflow-x: auto; }
table { border-collapse: collapse; margin: .8rem 0; } th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; }
img { max-width: 100%; }
.jp-Cell { margin: .8rem 0; }
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
            for output in cell.get('outputs', []):
                if 'text/markdown' in output.get('data', {}):
                    output.data['text/markdown'] = PANDOC_ATTRIBUTES.sub(r'\1', output.data['text/markdown'])
        cells.append(cell)
    nb.cells = cells
    return nb


def output_name(notebook: Path, meta: dict) -> str:
    return meta.get('output-file') or notebook.with_suffix('.html').name


def render_site(out: Path) -> list[Path]:
    "Render every chapter to `out` in sidebar order; returns the pages written."
    cfg = get_config()
    refresh_quarto_yml()
    nbdev_sidebar.__wrapped__(force=True)
    cache = proc_nbs(n_workers=0)
    order = yaml.safe_load((cfg.nbs_path/'sidebar.yml').read_text())['website']['sidebar']['contents']
    chapters = [(name, nbformat.read(cache/name, as_version=4)) for name in order]
    metas = [front_matter(nb) for _, nb in chapters]
    pages = [output_name(Path(name), meta) for (name, _), meta in zip(chapters, metas)]
    links = dict(zip(order, pages))

    config = Config({'TagRemovePreprocessor': {'enabled': True, 'remove_input_tags': {'remove_input'}}})
    exporter = HTMLExporter(config=config, template_name='basic', exclude_input_prompt=True, exclude_output_prompt=True)
    css = CSS + HtmlFormatter().get_style_defs('.highlight')
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for (name, nb), meta, page in zip(chapters, metas, pages):
        body, _ = exporter.from_notebook_node(prepare_cells(nb))
        for source, target in links.items(): body = body.replace(f'href="{source}', f'href="{target}')
        nav = ''.join(f'<li><a href="{p}"{" class=current" if p == page else ""}>{html.escape(m.get("title", n))}</a></li>'
                      for n, m, p in zip(order, metas, pages))
        title = meta.get('title', name)
        (out/page).write_text(PAGE.format(title=html.escape(title), site=html.escape(cfg.title), css=css, nav=nav,
                                          description=html.escape(meta.get('description', '')), body=body), encoding='utf-8')
    return [out/p for p in pages]


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='_site', help='output directory (default: _site)')
    for page in render_site(Path(parser.parse_args().out)): print(page)
