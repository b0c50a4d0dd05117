r"""Comparing methods honestly: the area under the budget curve and the pairwise penalty matrix.

Chapter: *Beyond the paper: newer batch methods, and how to compare them honestly*.

Conclusions of active learning papers flip with the number of seeds, the starting budget, the batch
size and the tuning of the classifier (Munjal et al., CVPR 2022; Lüth et al., NeurIPS 2023; Werner
et al., 2024). Two summaries of a results folder make a comparison harder to fool:

- the **AUBC** of each trial (:func:`~balance_lite.experiments.claims.aubc`: the trapezoid area
  under accuracy over the label counts, divided by the label range, i.e. the mean accuracy over the
  budget), summarised over trials by its median and quartiles (and mean and standard deviation);
- the **pairwise penalty matrix** of Ash et al. (BADGE, ICLR 2020): entry ``P[i, j]`` is the
  fraction of label counts at which method i is significantly better than method j, by a two-sided
  paired t-test at level ``alpha`` over the trials (paired by seed: trial t of every method shares
  the split, the initial set and the network seeds). A column sum says how often a method is beaten.

Only units whose trials are finished count, and both summaries stop at the largest label count that
every compared trial reached, so a method is never judged on a longer or shorter curve than another.

Example:
    >>> rec = lambda accs: [{"labels": 10 * (i + 1), "accuracy": a} for i, a in enumerate(accs)]
    >>> results = {("a", 10): {t: rec([0.5, 0.8, 0.9]) for t in range(3)},
    ...            ("b", 10): {t: rec([0.5, 0.6 + 0.01 * t, 0.7]) for t in range(3)}}
    >>> pm = penalty_matrix(results, batch_size=10)
    >>> pm.methods, pm.wins.tolist()
    (['a', 'b'], [[0.0, 0.6667], [0.0, 0.0]])
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..metrics import METRICS
from .claims import aubc
from .results import finished_only, load_results

__all__ = ["PenaltyMatrix", "aubc_table", "compare_report", "format_aubc_table", "format_penalty_matrix",
           "paired_t_better", "penalty_matrix"]


def _finished(source) -> dict:
    results = load_results(source) if isinstance(source, (str, os.PathLike)) else source
    return finished_only(results)


def _pick(results: dict, batch_size: int | None) -> tuple[int, dict[str, dict[int, list[dict]]]]:
    sizes = sorted({b for _, b in results})
    if not sizes:
        raise ValueError("source holds no finished trials")
    if batch_size is None:
        if len(sizes) > 1:
            raise ValueError(f"batch_size must be given: the source holds several batch sizes {sizes}")
        batch_size = sizes[0]
    if batch_size not in sizes:
        raise ValueError(f"batch_size must be one of the source's {sizes}, got {batch_size!r}")
    return batch_size, {m: trials for (m, b), trials in sorted(results.items()) if b == batch_size}


def _reached(by_method: dict) -> int:
    return min(max(int(r["labels"]) for r in t) for trials in by_method.values() for t in trials.values())


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")


def aubc_table(source, *, batch_size: int | None = None, metric: str = "accuracy") -> list[dict]:
    """The AUBC of each method over its finished trials, best median first.

    Args:
        source: a results folder or :func:`~balance_lite.experiments.results.load_results`'s output.
        batch_size: B (needed when the source holds several).
        metric: the record field the curve is drawn from.

    Returns:
        A list with one dict per method, with the keys ``method``, ``trials``, ``labels`` (the label
        range ``(first, last)`` of the area), ``median``, ``q25``, ``q75``, ``mean``, ``std`` (over
        trials; ``std`` NaN for one trial) and ``aubc`` (the per-trial values ``{trial: value}``).

    Raises:
        ValueError: no finished trials, or a bad ``batch_size`` or ``metric``.
    """
    _check_metric(metric)
    _, by_method = _pick(_finished(source), batch_size)
    upto = _reached(by_method)
    rows = []
    for method, trials in by_method.items():
        values = {t: aubc(r, upto=upto, metric=metric) for t, r in sorted(trials.items())}
        v = np.array(list(values.values()))
        first = min(int(r["labels"]) for t in trials.values() for r in t)
        rows.append({"method": method, "trials": len(v), "labels": (first, upto),
                     **dict(zip(("median", "q25", "q75"), np.percentile(v, [50, 25, 75]).tolist())),
                     "mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else float("nan"),
                     "aubc": values})
    return sorted(rows, key=lambda row: -row["median"])


def paired_t_better(a: np.ndarray, b: np.ndarray, *, alpha: float = 0.05) -> int:
    """+1 if ``a`` is significantly larger than ``b``, -1 if smaller, 0 if neither.

    A two-sided paired t-test at level ``alpha`` on the differences ``a - b`` ``[T]``; its sign says
    which one is better. With zero spread the test is decided by the differences themselves: all
    equal and non-zero is significant, all zero is not.

    Raises:
        ValueError: fewer than two pairs, shapes that differ, or ``alpha`` outside (0, 1).

    Example:
        >>> paired_t_better(np.array([0.9, 0.8, 0.85]), np.array([0.7, 0.7, 0.72]))
        1
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-d of the same length, got shapes {a.shape} and {b.shape}")
    if len(a) < 2:
        raise ValueError(f"a paired t-test needs at least two pairs, got {len(a)}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    d = a - b
    if np.allclose(d, d[0], rtol=0, atol=1e-12):
        return 0 if abs(d[0]) <= 1e-12 else int(math.copysign(1, d[0]))
    p = stats.ttest_rel(a, b).pvalue
    return int(np.sign(d.mean())) if p < alpha else 0


@dataclass
class PenaltyMatrix:
    """How often each method is significantly better than each other one.

    Attributes:
        methods: the methods, in row and column order.
        wins: ``[M, M]``: ``wins[i, j]`` is the fraction of the label counts at which method i is
            significantly better than method j (0 on the diagonal).
        labels: the label counts compared (those every trial of every method recorded).
        trials: the trials compared (finished for every method).
        alpha: the test's level.
        batch_size: B.
    """

    methods: list[str]
    wins: np.ndarray
    labels: list[int]
    trials: list[int]
    alpha: float
    batch_size: int

    def beaten(self) -> np.ndarray:
        """``[M]``: each method's column sum, how often it is beaten by any other (lower is better)."""
        return self.wins.sum(axis=0)


def penalty_matrix(source, *, batch_size: int | None = None, metric: str = "accuracy",
                   alpha: float = 0.05) -> PenaltyMatrix:
    """The pairwise penalty matrix (Ash et al. 2020) of a results folder at one batch size.

    For each pair of methods and each label count that every trial of every method recorded, a
    two-sided paired t-test (:func:`paired_t_better`) over the trials every method finished says
    whether one is significantly better; ``wins[i, j]`` counts the label counts where i wins,
    divided by their number.

    Raises:
        ValueError: no finished trials, fewer than two common trials, or bad arguments.
    """
    _check_metric(metric)
    b, by_method = _pick(_finished(source), batch_size)
    methods = list(by_method)
    trials = sorted(set.intersection(*(set(t) for t in by_method.values())))
    if len(trials) < 2:
        raise ValueError(f"the methods share {len(trials)} finished trial(s) at B={b}; the test needs at least two")
    values: dict[str, dict[int, dict[int, float]]] = {
        m: {t: {int(r["labels"]): float(r[metric]) for r in by_method[m][t]} for t in trials} for m in methods}
    labels = sorted(set.intersection(*(set(v) for m in methods for v in values[m].values())))
    wins = np.zeros((len(methods), len(methods)))
    for n in labels:
        curve = {m: np.array([values[m][t][n] for t in trials]) for m in methods}
        for i, mi in enumerate(methods):
            for j in range(i + 1, len(methods)):
                s = paired_t_better(curve[mi], curve[methods[j]], alpha=alpha)
                if s > 0:
                    wins[i, j] += 1
                elif s < 0:
                    wins[j, i] += 1
    wins = np.round(wins / max(len(labels), 1), 4)
    return PenaltyMatrix(methods, wins, labels, trials, alpha, b)


def format_aubc_table(rows: list[dict]) -> str:
    """Markdown: one row per method of :func:`aubc_table`, median [q25, q75] and mean ± std."""
    lines = ["| method | trials | labels | AUBC median [q25, q75] | mean ± std |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['trials']} | {r['labels'][0]}-{r['labels'][1]} | "
                     f"{r['median']:.4f} [{r['q25']:.4f}, {r['q75']:.4f}] | {r['mean']:.4f} ± {r['std']:.4f} |")
    return "\n".join(lines) + "\n"


def format_penalty_matrix(pm: PenaltyMatrix) -> str:
    """Markdown: ``wins[i, j]`` with the row method as the winner, and each column's sum."""
    head = ["row beats column", *pm.methods]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for i, m in enumerate(pm.methods):
        cells = ["-" if i == j else f"{pm.wins[i, j]:.2f}" for j in range(len(pm.methods))]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append("| **beaten (column sum)** | " + " | ".join(f"**{x:.2f}**" for x in pm.beaten()) + " |")
    return "\n".join(lines) + "\n"


def compare_report(source, *, batch_size: int | None = None, metric: str = "accuracy", alpha: float = 0.05) -> str:
    """Markdown for ``balance-lite compare``: the AUBC table and the penalty matrix of each batch size."""
    results = _finished(source)
    sizes = sorted({b for _, b in results}) if batch_size is None else [batch_size]
    if not sizes:
        raise ValueError("source holds no finished trials")
    parts = []
    for b in sizes:
        rows = aubc_table(results, batch_size=b, metric=metric)
        parts += [f"## B = {b}: AUBC of {metric} (labels {rows[0]['labels'][0]}-{rows[0]['labels'][1]})", "",
                  format_aubc_table(rows)]
        try:
            pm = penalty_matrix(results, batch_size=b, metric=metric, alpha=alpha)
        except ValueError as err:
            parts += [f"No penalty matrix: {err}.", ""]
            continue
        parts += [f"## B = {b}: penalty matrix ({len(pm.trials)} paired trials, {len(pm.labels)} label counts, "
                  f"two-sided paired t-test, alpha = {alpha})", "", format_penalty_matrix(pm)]
    return "\n".join(parts)
