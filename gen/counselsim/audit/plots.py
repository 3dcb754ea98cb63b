"""Figures as PNG bytes. Drawn on matplotlib Figure objects, not pyplot, so no global state or GUI backend."""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

_SIZE = (6.4, 3.6)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def histogram(groups: Mapping[str, Sequence[float]], title: str, xlabel: str, bins: int | str = "auto") -> bytes:
    """Overlaid histograms of the non-empty groups, on bins shared by all of them."""
    groups = {label: values for label, values in groups.items() if len(values)}
    fig = Figure(figsize=_SIZE)
    ax = fig.subplots()
    if groups:
        ax.hist(list(groups.values()), bins=bins, histtype="stepfilled", alpha=0.5,
                label=[f"{label} (n={len(values)})" for label, values in groups.items()])
        ax.legend()
    ax.set(title=title, xlabel=xlabel, ylabel="count")
    return _png(fig)


def bars(labels: Sequence[str], values: Sequence[float], title: str, ylabel: str) -> bytes:
    fig = Figure(figsize=_SIZE)
    ax = fig.subplots()
    ax.bar(range(len(labels)), values)
    crowded = len(labels) > 4
    ax.set_xticks(range(len(labels)), labels, rotation=30 if crowded else 0, ha="right" if crowded else "center")
    ax.set(title=title, ylabel=ylabel)
    return _png(fig)


def heatmap(values: Sequence[Sequence[float]], labels: Sequence[str], title: str, colorbar: str, fmt: str,
            cmap: str, limits: tuple[float, float] | None = None) -> bytes:
    """A square matrix, rows and columns in `labels` order, each cell annotated with `fmt`; NaN cells are blank."""
    import numpy as np

    matrix = np.ma.masked_invalid(np.asarray(values, dtype=float))
    side = max(3.6, 0.9 * len(labels) + 1.5)
    fig = Figure(figsize=(side + 1.2, side))
    ax = fig.subplots()
    low, high = limits or (None, None)
    image = ax.imshow(matrix, cmap=cmap, vmin=low, vmax=high)
    fig.colorbar(image, ax=ax, label=colorbar)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for (i, j), value in np.ndenumerate(matrix.filled(np.nan)):
        if not np.isnan(value):
            red, green, blue, _ = image.cmap(image.norm(value))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # white text on a dark cell
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set(title=title)
    return _png(fig)
