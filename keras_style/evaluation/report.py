"""Summaries and figures of evaluation rows: summary.csv, a printed table, E-C scatter, loss/time bars.

Figures are drawn with matplotlib's Agg backend (no display needed; install
with `pip install keras-style[eval]`) and written through
`image_io.save_image`, so they are atomic and never replace a file unless
asked to.
"""

from __future__ import annotations

import csv
import math
import os
import secrets
from typing import Sequence

import numpy as np

from keras_style import image_io
from keras_style.errors import StyleError
from keras_style.evaluation.metrics import E_BLOCK_COLUMNS, MIN_TEXTURE_STYLES
from keras_style.evaluation.results_file import parse_float

SUMMARY_COLUMNS = (
    "method",
    "pairs",
    "effectiveness_mean",
    "effectiveness_median",
    *(f"{name}_mean" for name in E_BLOCK_COLUMNS),
    "texture_hit_rate",
    "texture_mrr",
    "texture_styles",
    "coherence_mean",
    "coherence_median",
    "palette_mean",
    "palette_median",
    "seconds_mean",
    "seconds_median",
    "style_loss_mean",
    "content_loss_mean",
    "peak_rss_mib_max",
)


def _values(rows, column) -> np.ndarray:
    values = np.array([parse_float(r[column]) for r in rows], np.float64)
    return values[~np.isnan(values)]


def _stat(values: np.ndarray, fn) -> float:
    return float(fn(values)) if values.size else math.nan


def summarize(rows: Sequence[dict], methods: Sequence[str], styles: int | None = None) -> list[dict]:
    """Per method (in the given order): pair count, mean and median of E, C, the
    palette distance and seconds, mean E per VGG block, the texture retrieval's hit
    rate and mean reciprocal rank (with the number of styles ranked among:
    the run's distinct styles, blank below `MIN_TEXTURE_STYLES`), mean losses and the
    largest peak RSS. Blank (NaN) cells are left out of each statistic; a statistic
    with no values is NaN.

    `styles`: how many style images the run ranked among (default: the distinct
    styles of `rows`)."""
    if styles is None:
        styles = len({r["style"] for r in rows})
    summary = []
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        e, c, p, t = (_values(mine, k) for k in ("effectiveness", "coherence", "palette", "seconds"))
        summary.append({
            "method": method,
            "pairs": len(mine),
            "effectiveness_mean": _stat(e, np.mean),
            "effectiveness_median": _stat(e, np.median),
            **{f"{name}_mean": _stat(_values(mine, name), np.mean) for name in E_BLOCK_COLUMNS},
            "texture_hit_rate": _stat(_values(mine, "texture_hit"), np.mean),
            "texture_mrr": _stat(1.0 / _values(mine, "texture_rank"), np.mean),
            "texture_styles": styles if styles >= MIN_TEXTURE_STYLES else math.nan,
            "coherence_mean": _stat(c, np.mean),
            "coherence_median": _stat(c, np.median),
            "palette_mean": _stat(p, np.mean),
            "palette_median": _stat(p, np.median),
            "seconds_mean": _stat(t, np.mean),
            "seconds_median": _stat(t, np.median),
            "style_loss_mean": _stat(_values(mine, "style_loss"), np.mean),
            "content_loss_mean": _stat(_values(mine, "content_loss"), np.mean),
            "peak_rss_mib_max": _stat(_values(mine, "peak_rss_mib"), np.max),
        })
    return summary


def write_summary_csv(summary: Sequence[dict], path: str):
    """Writes the summary atomically, replacing `path` (`evaluate` decides whether it may)."""
    directory, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
            writer.writeheader()
            for row in summary:
                writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
        os.replace(tmp, path)
    except OSError as e:
        raise StyleError(f"cannot write '{path}': {e.strerror or e}; check free space and permissions") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def format_table(summary: Sequence[dict]) -> str:
    """The summary as aligned text: E, C, palette distance, texture retrieval (hit rate,
    mean reciprocal rank) and seconds, then mean E per VGG block; a line says why
    the texture retrieval is blank when the run has too few styles."""
    header = ("method", "pairs", "E mean", "E median", "C mean", "C median", "palette mean", "palette median",
              "texture hit", "texture MRR", "s/img mean", "s/img median")
    keys = ("effectiveness_mean", "effectiveness_median", "coherence_mean", "coherence_median",
            "palette_mean", "palette_median", "texture_hit_rate", "texture_mrr", "seconds_mean", "seconds_median")
    text = _aligned([header] + [(row["method"], str(row["pairs"]), *(_cell(row[k]) for k in keys))
                                for row in summary])
    block_header = ("method", *(f"{name} mean" for name in E_BLOCK_COLUMNS))
    text += "\n\nE per VGG block (higher: closer to the style at that scale; fine brushwork in relu1-2)\n"
    text += _aligned([block_header] + [(row["method"], *(_cell(row[f"{n}_mean"]) for n in E_BLOCK_COLUMNS))
                                       for row in summary])
    styles = summary[0]["texture_styles"] if summary else math.nan  # the run's: the same in every row
    if summary and math.isnan(styles):
        text += (f"\n\ntexture retrieval: blank, it ranks each output among the run's style images and "
                 f"needs at least {MIN_TEXTURE_STYLES} of them")
    elif summary:
        text += f"\n\ntexture retrieval among {int(styles)} styles (chance hit rate {1 / styles:.3g}), luminance only"
    return text


def _aligned(lines) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
        for line in lines
    )


def _cell(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4g}"


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise StyleError("figures need matplotlib; install it with: pip install 'keras-style[eval]'") from None
    matplotlib.use("Agg")  # no display; must precede the pyplot import
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path: str, overwrite: bool):
    """Renders `fig` to RGB and writes it with `image_io.save_image` (atomic, no clobber)."""
    plt = _pyplot()
    try:
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
        image_io.save_image(rgba[..., :3], path, overwrite=overwrite)
    finally:
        plt.close(fig)


def ec_scatter(rows: Sequence[dict], methods: Sequence[str], path: str, overwrite: bool = False):
    """Scatter plot of effectiveness E (x) against coherence C (y), one colour per method:
    a small dot per pair and a large black-edged one at the method's mean, so methods
    (and an any-style model's alphas) compare at a glance over the spread of pairs.

    Rows without E (fixed-style models with no matching style) are left out.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    for index, method in enumerate(methods):
        points = [(parse_float(r["effectiveness"]), parse_float(r["coherence"])) for r in rows if r["method"] == method]
        points = [(e, c) for e, c in points if not (math.isnan(e) or math.isnan(c))]
        if points:
            e, c = zip(*points)
            colour = f"C{index % 10}"
            ax.scatter(e, c, label=f"{method} ({len(points)})", alpha=0.45, s=18, color=colour)
            ax.scatter([np.mean(e)], [np.mean(c)], s=110, color=colour, edgecolors="black", linewidths=1.2,
                       zorder=3)
    ax.set_xlabel("effectiveness E (higher: closer to the style)")
    ax.set_ylabel("coherence C (SSIM with the content)")
    ax.set_title("Effectiveness vs coherence (large dot: mean)")
    ax.grid(True, alpha=0.3)
    if ax.collections:
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save_figure(fig, path, overwrite)


def loss_time_bars(summary: Sequence[dict], path: str, overwrite: bool = False):
    """Bar charts per method: mean style loss, mean content loss and mean seconds per
    image, each bar labelled with its value (linear scales from zero, so bar
    lengths compare honestly; a method without a value gets no bar)."""
    plt = _pyplot()
    panels = (("style_loss_mean", "style loss (mean)"), ("content_loss_mean", "content loss (mean)"),
              ("seconds_mean", "seconds per image (mean)"))
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), dpi=100)
    names = [row["method"] for row in summary]
    for ax, (key, title) in zip(axes, panels):
        values = [row[key] for row in summary]
        heights = [0.0 if math.isnan(v) else v for v in values]
        bars = ax.bar(range(len(names)), heights, color=[f"C{i % 10}" for i in range(len(names))])
        ax.bar_label(bars, labels=[_cell(v) for v in values], fontsize=7)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.margins(y=0.12)  # room for the labels
        ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    _save_figure(fig, path, overwrite)


def block_effectiveness_plot(summary: Sequence[dict], path: str, overwrite: bool = False):
    """Mean E per VGG block (relu1_1 ... relu5_1), one line per method: where in the
    feature hierarchy a method matches the style (fine brushwork left, layout right).
    A method without block values (no style to compare with) gets no line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    labels = [name.removeprefix("E_") for name in E_BLOCK_COLUMNS]
    for index, row in enumerate(summary):
        values = [row[f"{name}_mean"] for name in E_BLOCK_COLUMNS]
        if not all(math.isnan(v) for v in values):
            ax.plot(range(len(labels)), values, marker="o", color=f"C{index % 10}", label=row["method"])
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel("VGG19 block")
    ax.set_ylabel("mean E at that block (higher: closer to the style)")
    ax.set_title("Effectiveness per VGG block")
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save_figure(fig, path, overwrite)
