r"""Learning curves and tables from a results folder, as in the paper's figures and Table 2.

Chapter: *The active learning loop in 30 lines* (the last section: curves and tables of a results folder).

Curves show, for each method and batch size, the median over trials and the band between the
lower and upper quartiles; tables give the median and the interquartile range of each metric at
one label count.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..metrics import METRICS
from .results import atomic_write_text, load_results, read_manifest

__all__ = ["Curve", "curves", "figure", "format_table", "plot_results", "results_table"]


@dataclass
class Curve:
    """Median and quartiles of one metric over trials, per label count.

    Attributes:
        method: the strategy's name.
        batch_size: B.
        labels: ``[L]`` label counts.
        median: ``[L]`` median over the trials that reached each label count.
        lower: ``[L]`` lower quartile.
        upper: ``[L]`` upper quartile.
        trials: ``[L]`` how many trials give a value (not NaN) at each label count: the number the
            median and quartiles are computed from.
    """

    method: str
    batch_size: int
    labels: np.ndarray
    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    trials: np.ndarray


def _results(source):
    return load_results(source) if isinstance(source, (str, os.PathLike)) else source


def curves(source, metric: str = "accuracy") -> list[Curve]:
    """The curve of every (method, B) of a results folder (or of
    :func:`~balance_lite.experiments.results.load_results`'s output).

    Raises:
        ValueError: an unknown metric.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    out = []
    for (method, batch_size), trials in _results(source).items():
        by_labels: dict[int, list[float]] = {}
        for records in trials.values():
            for r in records:
                by_labels.setdefault(int(r["labels"]), []).append(float(r[metric]))
        labels = np.array(sorted(by_labels))
        values = [np.array(by_labels[n], dtype=float) for n in labels]
        quart = np.array([np.nanpercentile(v, [25, 50, 75]) if np.isfinite(v).any() else [np.nan] * 3
                          for v in values]).reshape(-1, 3)
        out.append(Curve(method, batch_size, labels, quart[:, 1], quart[:, 0], quart[:, 2],
                         np.array([int(np.isfinite(v).sum()) for v in values])))
    return out


def figure(source, metric: str = "accuracy", title: str | None = None):
    """A matplotlib figure with one panel per batch size: median lines and quartile bands.

    Args:
        source: a results folder or :func:`~balance_lite.experiments.results.load_results`'s output.
        metric: one of ``accuracy``, ``macro_auc``, ``macro_f1``, ``nll``.
        title: the figure's title (default: the preset's name from the manifest).

    Returns:
        A :class:`matplotlib.figure.Figure` (not attached to pyplot).
    """
    from matplotlib.figure import Figure

    all_curves = curves(source, metric)
    if not all_curves:
        raise ValueError("source holds no results")
    sizes = sorted({c.batch_size for c in all_curves})
    fig = Figure(figsize=(4.5 * len(sizes), 3.4), layout="constrained")
    axes = fig.subplots(1, len(sizes), squeeze=False)[0]
    methods = list(dict.fromkeys(c.method for c in all_curves))
    colours = {m: f"C{i}" for i, m in enumerate(methods)}
    for ax, b in zip(axes, sizes):
        for c in (c for c in all_curves if c.batch_size == b):
            ax.plot(c.labels, c.median, color=colours[c.method], label=f"{c.method} ({c.trials.max()} trials)")
            ax.fill_between(c.labels, c.lower, c.upper, color=colours[c.method], alpha=0.2, linewidth=0)
        ax.set_title(f"B = {b}")
        ax.set_xlabel("labels")
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title is None and isinstance(source, (str, os.PathLike)):
        manifest = read_manifest(source) or {}
        title = manifest.get("preset", {}).get("name")
    if title:
        fig.suptitle(f"{title}: median and quartiles over trials")
    return fig


def plot_results(folder: str | os.PathLike, *, metric: str = "accuracy", output: str | os.PathLike | None = None) -> Path:
    """Draw :func:`figure` and write it to ``output`` (default ``folder/<metric>.png``).

    Returns:
        The path written. The file is replaced atomically, so a reader never sees half a picture.

    Raises:
        ValueError: ``output`` is a folder or has no image format's extension (``.png``, ``.pdf``, ...).
    """
    output = Path(output) if output else Path(folder) / f"{metric}.png"
    if output.is_dir():
        raise ValueError(f"output {str(output)!r} is a folder, expected an image file name")
    fig = figure(folder, metric)
    formats = fig.canvas.get_supported_filetypes()
    if output.suffix.lstrip(".").lower() not in formats:
        raise ValueError(f"output must end in an image format's extension "
                         f"({', '.join('.' + f for f in sorted(formats))}), got {str(output)!r}")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp{output.suffix}")
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, output)
    return output


def results_table(source, *, at: int | None = None, metrics=METRICS) -> list[dict]:
    """Median and interquartile range of each metric per (method, B) at one label count.

    Args:
        source: a results folder or :func:`~balance_lite.experiments.results.load_results`'s output.
        at: the label count; each trial contributes its record with the most labels ``<= at``.
            Default, for each batch size: the largest label count that every trial of every
            method reached with that batch size.
        metrics: which metrics.

    Returns:
        One dict per (method, B) with keys ``method``, ``batch_size``, ``labels``, ``trials``, for
        each metric a tuple ``(median, q25, q75)`` over the trials whose value is not NaN, and
        ``counts``: ``{metric: number of those trials}``.

    Raises:
        ValueError: no results, or ``at`` below some trial's first record.
    """
    results = _results(source)
    if not results:
        raise ValueError("source holds no results")
    reached: dict[int, int] = {}
    for (_, batch_size), trials in results.items():
        for records in trials.values():
            last = max(int(r["labels"]) for r in records)
            reached[batch_size] = min(reached.get(batch_size, last), last)
    rows = []
    for (method, batch_size), trials in results.items():
        at_b = reached[batch_size] if at is None else at
        chosen = []
        for trial, records in sorted(trials.items()):
            upto = [r for r in records if int(r["labels"]) <= at_b]
            if not upto:
                raise ValueError(f"at={at_b} is below the first label count of {method} B={batch_size} trial {trial}")
            chosen.append(max(upto, key=lambda r: int(r["labels"])))
        row = {"method": method, "batch_size": batch_size, "labels": sorted({int(r["labels"]) for r in chosen}),
               "trials": len(chosen), "counts": {}}
        for m in metrics:
            v = np.array([float(r[m]) for r in chosen])
            row["counts"][m] = int(np.isfinite(v).sum())
            row[m] = tuple(float(x) for x in np.nanpercentile(v, [50, 25, 75])) if np.isfinite(v).any() else (
                float("nan"),) * 3
        rows.append(row)
    return rows


def format_table(rows: list[dict], metrics=METRICS) -> str:
    """A Markdown table of :func:`results_table`'s rows: ``median [q25, q75]`` per metric.

    A metric that is NaN in some trials says over how many it was computed: ``0.91 [0.90, 0.92] (n=1)``.
    """
    head = ["method", "B", "labels", "trials", *metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in rows:
        cells = [row["method"], str(row["batch_size"]), "/".join(map(str, row["labels"])), str(row["trials"])]
        counts = row.get("counts", {})
        cells += [f"{row[m][0]:.4f} [{row[m][1]:.4f}, {row[m][2]:.4f}]"
                  + (f" (n={counts[m]})" if counts.get(m, row["trials"]) != row["trials"] else "") for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table(folder: str | os.PathLike, *, at: int | None = None, output: str | os.PathLike | None = None) -> str:
    """:func:`format_table` of a folder, also written (atomically) to ``output`` if given."""
    text = format_table(results_table(folder, at=at))
    if output:
        atomic_write_text(output, text)
    return text
