"""Pieces of the HTML report: the page and its style, a figure section, a PNG from a Figure, an image, a table."""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

# Wide tables (the search verdict) scroll inside their own box and shrink their font, so the page keeps 1300 px.
CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}figure{margin:1.5em 0}img{max-width:100%}
figcaption,.note{color:#555;font-size:.92em}.note{background:#fff6e0;border-left:4px solid #E69F00;padding:.4em .8em}
.scroll{max-width:100%;overflow-x:auto}table{border-collapse:collapse;font-size:.85em}
th{background:#f3f3f3;vertical-align:bottom}th,td{border:1px solid #ddd;padding:3px 6px;text-align:right}
pre{background:#f7f7f7;padding:1em;overflow-x:auto}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 1em}dt{font-weight:600}
dd{margin:0;font-family:monospace}.verdict{font-size:.75em}.verdict th,.verdict td{padding:2px 4px}
.verdict th{max-width:9em;white-space:normal}.verdict td{white-space:nowrap}
.headline{font-size:1.15em;font-weight:600;background:#eef5fb;border-left:4px solid #0072B2;padding:.5em .8em}"""


@dataclass(frozen=True)
class Section:
    """One figure of the report: its file (None when skipped), title, and caption or skip note."""
    name: str
    title: str
    path: str | None
    text: str


def save_png(fig: Figure, path: str) -> str:
    """Write fig as a PNG at a screen-friendly resolution."""
    fig.savefig(path, dpi=110, facecolor="white")
    return path


def img_html(path: str) -> str:
    """An <img> with the PNG embedded as a base64 data URI, so report.html is a single file."""
    with open(path, "rb") as fh:
        data = base64.b64encode(fh.read()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(os.path.basename(path))}">'


def figure_html(s: Section) -> str:
    """A <figure> with the embedded image and caption, or a note for a skipped figure."""
    if s.path is None:
        return f'<h3>{html.escape(s.title)}</h3><p class="note">{html.escape(s.text)}</p>'
    return (f'<figure id="fig-{s.name}"><h3>{html.escape(s.title)}</h3>{img_html(s.path)}'
            f"<figcaption>{html.escape(s.text)} File: {s.name}.png</figcaption></figure>")


def table_html(df: pd.DataFrame, css_class: str) -> str:
    """A DataFrame as a scrollable HTML table, two decimals, NaN as a dash."""
    body = df.to_html(index=False, na_rep="–", float_format="{:.2f}".format, border=0, classes=css_class)
    return f'<div class="scroll">{body}</div>'


def pairs_html(pairs: dict) -> str:
    """A definition list of key: value pairs, escaped."""
    return "<dl>" + "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>"
                            for k, v in pairs.items()) + "</dl>"


def render_html(title: str, sections: list[Section], parts: dict[str, str]) -> str:
    """The whole static page: verdict, figures, parallel-coordinates link, paper table, provenance, spec."""
    figs = "".join(figure_html(s) for s in sections)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<link rel="icon" href="data:,"><style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>'
            f"{parts.get('headline', '')}<p>{parts['intro']}</p><h2>Verdict: residual minus plain</h2>"
            f"{parts.get('confirm', '')}<h3>Search runs, per init (the long breakdown)</h3>{parts['verdict']}"
            f"<h2>Figures</h2>{figs}<p>{parts['parcoords']}</p>{parts['paper']}"
            f"<h2>Provenance</h2>{parts['provenance']}<h2>Sweep spec</h2><pre>{html.escape(parts['spec'])}</pre>"
            "</body></html>")
