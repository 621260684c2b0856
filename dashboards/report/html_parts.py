"""Pieces of the HTML report: a figure section, a PNG written from a Figure, an embedded image, a table."""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure


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
