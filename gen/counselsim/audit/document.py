"""A report as sections of paragraphs, tables and figures, rendered to Markdown (figures as PNG files beside it)
or to one self-contained HTML page (figures inlined as base64 PNG)."""
from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl


@dataclass
class Text:
    text: str


@dataclass
class Table:
    frame: pl.DataFrame
    caption: str = ""


@dataclass
class Figure:
    name: str  # file stem, unique within the report
    png: bytes
    caption: str


Block = Text | Table | Figure


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Report:
    title: str
    sections: list[Section] = field(default_factory=list)

    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]


def format_value(value: Any) -> str:
    """Integers as they are, numbers of 1 or more with two decimals, smaller ones with four significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.2f}" if abs(value) >= 1 else f"{value:.4g}"
    return str(value)


def _cells(frame: pl.DataFrame) -> list[list[str]]:
    return [[format_value(v) for v in row] for row in frame.iter_rows()]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report, figure_dir: str) -> str:
    """Figures are linked as `<figure_dir>/<name>.png`."""
    lines = [f"# {report.title}", ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Text):
                lines += [block.text, ""]
            elif isinstance(block, Table):
                if block.caption:
                    lines += [f"*{block.caption}*", ""]
                lines.append("| " + " | ".join(_md_cell(c) for c in block.frame.columns) + " |")
                lines.append("|" + "---|" * block.frame.width)
                lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in _cells(block.frame)]
                lines.append("")
            else:
                lines += [f"![{block.caption}]({figure_dir}/{block.name}.png)", "", f"*{block.caption}*", ""]
    return "\n".join(lines)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
caption, figcaption { font-style: italic; text-align: left; padding: 0.25rem 0; }
img { max-width: 100%; }
"""


def _html_table(table: Table) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in table.frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in _cells(table.frame))
    caption = f"<caption>{e(table.caption)}</caption>" if table.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(report: Report) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(report.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
    ]
    for section in report.sections:
        parts.append(f"<section><h2>{e(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Text):
                parts.append(f"<p>{e(block.text)}</p>")
            elif isinstance(block, Table):
                parts.append(_html_table(block))
            else:
                data = base64.b64encode(block.png).decode("ascii")
                parts.append(f'<figure><img alt="{e(block.caption)}" src="data:image/png;base64,{data}">'
                             f"<figcaption>{e(block.caption)}</figcaption></figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def to_json(report: Report) -> dict[str, Any]:
    """Every table of the report as a list of records, keyed by section title and table caption."""
    out: dict[str, Any] = {}
    for section in report.sections:
        tables = {b.caption or f"table {i}": b.frame.to_dicts()
                  for i, b in enumerate(section.blocks) if isinstance(b, Table)}
        if tables:
            out[section.title] = tables
    return out
