"""PNG plots of the card statistics (aggregates only, never a patient image).

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global backend switch) under
matplotlib's default style, whatever the user's ``matplotlibrc``; PNGs carry no software or date
metadata, so the same shards give the same bytes.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import matplotlib
import matplotlib.style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cxrhub.shards.atomic import atomic_open
from cxrhub.shards.card_stats import MISSING, PLOT_FILES, Distribution

__all__ = ["PLOT_DIR", "render_png", "write_plots"]

logger = logging.getLogger(__name__)
PLOT_DIR = "plots"
_DPI = 100
_WIDTH = 8.0
_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")  # Okabe-Ito


def write_plots(out: Path, dists: list[Distribution]) -> list[str]:
    """Write one PNG per distribution under ``out/plots``; remove plots of earlier runs that
    this run does not draw. Returns the written paths, relative to ``out``."""
    out = Path(out)
    written = []
    if dists and any(dists[0].samples.values()):
        for dist in dists:
            rel = PLOT_FILES[dist.role]
            with atomic_open(out / rel) as f:
                f.write(render_png(dist))
            written.append(rel)
    for stale in sorted((out / PLOT_DIR).glob("*.png")):
        if stale.relative_to(out).as_posix() not in written:
            logger.info("removing %s: not drawn by this run", stale)
            stale.unlink()
    return written


def render_png(dist: Distribution) -> bytes:
    """The PNG bytes of one distribution's plot: grouped bars, percent of each split."""
    with matplotlib.rc_context():
        matplotlib.style.use("default")
        horizontal = dist.role == "labels"
        figure = _figure(dist, horizontal)
        axes = figure.add_subplot()
        _bars(axes, dist, horizontal)
        _decorate(axes, dist, horizontal)
        figure.tight_layout()
        buffer = io.BytesIO()
        FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()


def _figure(dist: Distribution, horizontal: bool) -> Figure:
    bars = len(dist.categories) * max(1, len(dist.samples))
    height = max(3.0, 0.9 + 0.16 * bars) if horizontal else 3.6
    return Figure(figsize=(_WIDTH, height), dpi=_DPI)


def _percent(dist: Distribution, split: str, category: str) -> float:
    total = dist.samples[split]
    return 100 * dist.counts[split][category] / total if total else 0.0


def _bars(axes, dist: Distribution, horizontal: bool) -> None:
    splits = list(dist.samples)
    width = 0.8 / len(splits)
    positions = range(len(dist.categories))
    for i, split in enumerate(splits):
        offset = (i - (len(splits) - 1) / 2) * width
        where = [p + offset for p in positions]
        values = [_percent(dist, split, c) for c in dist.categories]
        label = f"{split} (n={dist.samples[split]:,})"
        color = _COLORS[i % len(_COLORS)]
        draw = axes.barh if horizontal else axes.bar
        bars = draw(where, values, width, label=label, color=color)
        if horizontal or len(dist.categories) * len(splits) <= 12:
            fmt = "{:.1f}%" if horizontal else "{:.0f}%"
            texts = [fmt.format(v) if v else "" for v in values]  # no "0%" clutter
            axes.bar_label(bars, labels=texts, fontsize=7, padding=2)


def _decorate(axes, dist: Distribution, horizontal: bool) -> None:
    ticks = list(range(len(dist.categories)))
    names = ["missing" if c == MISSING else c.replace("_", " ") for c in dist.categories]
    if horizontal:
        axes.set_yticks(ticks, names)
        axes.set_yticks([t + 0.5 for t in ticks[:-1]], minor=True)  # a rule between labels
        axes.tick_params(axis="y", which="minor", length=0)
        axes.grid(axis="y", which="minor", color="#cccccc", linewidth=0.6)
        axes.invert_yaxis()  # most frequent on top
        axes.set_xlabel("% of the split's samples with the label")
        axes.grid(axis="x", alpha=0.3)
    else:
        axes.set_xticks(ticks, names)
        axes.set_ylabel("% of the split's samples")
        axes.set_xlabel("age in years" if dist.role == "age" else dist.column)
        axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    if horizontal:
        axes.margins(x=0.08)
    else:
        axes.margins(y=0.12)
    axes.set_title(f"{dist.title} per split (column: {dist.column})", fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(frameon=False, fontsize=9, loc="lower right" if horizontal else "upper right")
