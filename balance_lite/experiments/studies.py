r"""Two studies of the paper that are not learning curves: Fig. 1 (Sec. 4.2) and the dispersion of App. B.4.

Chapter: *Reproducing the paper: imbalanced and tabular data*.

- :func:`fig1_study`: a network trained on an imbalanced subset (Sec. 4.2: "28 images for each
  digit in [1-8] and 1 image for digits 0 and 9", reweighted loss), S MC-dropout hypotheses with
  consistent masks, their predictions on :math:`\bar D_{pool}`, the Hamming distance of every pair
  (:func:`~balance_lite.clustering.pairwise_hamming`), equivalence classes by farthest-first traversal
  (:func:`~balance_lite.clustering.farthest_first_classes`) at the annealed threshold
  :math:`\tau = \epsilon / \text{divisor}`, the class masses, and a t-SNE embedding of the hypotheses
  together with the ground-truth labelling of :math:`\bar D_{pool}` (the paper's "target hypothesis").
- :func:`dispersion_study`: a network trained on the initial labels of a preset; BALanCe's (Eq. 3)
  and BALD's scores of every scored pool point estimated R times with R independent sets of MC-dropout
  masks, and each point's coefficient of variation (std / mean over the R estimates).

Both return plain, JSON-ready dicts; :func:`write_study` stores one as a small JSON file, and the
command line writes them::

    python -m balance_lite.experiments.studies fig1 --out book/data/studies/fig1.json
    python -m balance_lite.experiments.studies dispersion --out book/data/studies/dispersion.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .. import acquisition, data
from ..clustering import farthest_first_classes, pairwise_hamming
from ..models import build_model
from ..train import train_model
from .presets import get_preset
from .results import atomic_write_text

__all__ = ["FIG1_PER_CLASS", "CV_QUANTILES", "coefficient_of_variation", "dispersion_study", "fig1_study",
           "main", "write_study"]

#: Training images per digit in Sec. 4.2 (Fig. 1), "28 images for each digit in [1-8] and 1 image for digits 0 and 9".
FIG1_PER_CLASS = (1, 28, 28, 28, 28, 28, 28, 28, 28, 1)

#: The quantiles of the coefficients of variation that :func:`dispersion_study` reports.
CV_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


def _seed_of(*parts: int) -> int:
    """A 63-bit seed from integers (independent streams for independent purposes)."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def _provenance() -> dict:
    from .runner import _git_commit, _versions

    return {"git_commit": _git_commit(), "versions": _versions(), "torch_threads": torch.get_num_threads()}


def _train(preset, splits, x, y, seed: int, train_overrides: dict | None):
    """A fresh network of the preset's architecture trained with its (class-weighted) train config."""
    config = preset.train_config()
    if train_overrides:
        import dataclasses

        config = dataclasses.replace(config, **train_overrides)
    if not config.class_weighted:
        raise ValueError("train_overrides must keep class_weighted=True: the paper reweights the loss (Sec. 4.2)")
    with torch.random.fork_rng():
        torch.manual_seed(_seed_of(seed, 1))
        model = build_model(splits.name, splits.input_shape, splits.num_classes)
    result = train_model(model, x, y, splits.val.x, splits.val.y, config=config, seed=_seed_of(seed, 2))
    return model, result, config


def fig1_study(
    preset: str = "mnist",
    *,
    seed: int = 0,
    num_samples: int = 200,
    per_class: Sequence[int] = FIG1_PER_CLASS,
    extra_divisors: Sequence[float] = (0.5, 1.0, 4.0, 8.0),
    perplexity: float = 30.0,
    train_overrides: dict | None = None,
    splits: data.Splits | None = None,
) -> dict:
    r"""Fig. 1 of the paper: equivalence classes of MC-dropout hypotheses of a network trained on imbalanced data.

    We train the preset's network on ``per_class[c]`` pool images of each class c (drawn at random;
    Sec. 4.2: 28 of each digit 1-8 and one each of 0 and 9) with the preset's training settings
    (class-weighted cross-entropy, early stopping on the validation set), draw S consistent
    dropout masks, and predict the U points of :math:`\bar D_{pool}` (``splits.holdout``). The
    hypotheses' pairwise normalised Hamming distances :math:`d_H` give

    - the equivalence classes: farthest-first traversal with radius
      :math:`\tau = \epsilon / \text{divisor}`, the preset's annealed threshold, :math:`\epsilon` the
      dropout-off validation error (also at ``extra_divisors``, for comparison);
    - each hypothesis' accuracy on :math:`\bar D_{pool}`, :math:`1 - d_H(h, h^*)` with :math:`h^*`
      the true labels (the paper's colour bar: "(approximate) test accuracy");
    - a 2-d t-SNE embedding of the S hypotheses and :math:`h^*` (the last row), on the precomputed
      distances.

    A class's mass is its share of the S hypotheses (each sampled hypothesis has posterior weight 1/S).

    Args:
        preset: the preset whose dataset, network, training settings and divisor are used.
        seed: seeds the split, the training subset, the network, the masks and t-SNE.
        num_samples: S, the hypotheses (200 in the paper).
        per_class: training images per class, ``[C]``.
        extra_divisors: further divisors of :math:`\epsilon` at which the classes are also counted.
        perplexity: t-SNE's perplexity (capped at (S - 1) / 3).
        train_overrides: :class:`~balance_lite.train.TrainConfig` fields to change (tests).
        splits: the dataset's splits, if already loaded (default: ``data.load(preset's dataset, seed=seed)``).

    Returns:
        A JSON-ready dict with lists for arrays. Keys include ``masses`` and ``class_accuracy`` (per
        class, in class order), ``classes`` ``[S]``, ``accuracy`` ``[S]``, ``tsne`` ``[S + 1, 2]`` (the
        last row is the target hypothesis), ``disagreements`` ``[S (S - 1) / 2]`` (the number of points
        of :math:`\bar D_{pool}` on which hypotheses i < j disagree, row by row of the upper triangle,
        so that :math:`d_H` is exactly the count over ``holdout_size``), ``tau``, ``val_error`` and
        ``seconds``.

    Raises:
        ValueError: ``num_samples`` < 2, ``per_class`` of the wrong length or asking for more images
            than a class has in the pool.
    """
    from sklearn.manifold import TSNE

    provenance = _provenance()  # the code that runs: read before it runs
    p = get_preset(preset)
    if not isinstance(num_samples, int) or num_samples < 2:
        raise ValueError(f"num_samples must be an integer >= 2, got {num_samples!r}")
    splits = splits if splits is not None else data.load(p.dataset, seed=seed)
    per_class = [int(n) for n in per_class]
    if len(per_class) != splits.num_classes or min(per_class) < 0 or sum(per_class) == 0:
        raise ValueError(f"per_class must hold {splits.num_classes} non-negative counts, not all 0, got {per_class}")
    seconds = {}
    start = time.perf_counter()
    rng = np.random.default_rng([seed, 11])
    pool_y = splits.pool.y.numpy()
    chosen = []
    for c, n in enumerate(per_class):
        where = np.flatnonzero(pool_y == c)
        if n > len(where):
            raise ValueError(f"per_class[{c}] = {n} exceeds the {len(where)} pool images of class {c}")
        chosen.extend(rng.choice(where, n, replace=False).tolist())
    idx = torch.as_tensor(sorted(chosen))
    model, trained, config = _train(p, splits, splits.pool.x[idx], splits.pool.y[idx], seed, train_overrides)
    val_error = 1.0 - trained.best_val_accuracy
    tau = acquisition.annealed_tau(val_error, p.divisor)
    seconds["train"] = time.perf_counter() - start

    start = time.perf_counter()
    masks = model.draw_masks(num_samples, generator=torch.Generator().manual_seed(_seed_of(seed, 3)))
    preds_S_U = model.sample_log_probs(splits.holdout.x, masks=masks).argmax(-1).T  # [S, U]
    off_holdout = model.predict_log_probs(splits.holdout.x).argmax(-1)  # [U]
    off_test = model.predict_log_probs(splits.test.x).argmax(-1)
    seconds["predict"] = time.perf_counter() - start

    start = time.perf_counter()
    target = splits.holdout.y.to(preds_S_U.device)
    U = int(preds_S_U.shape[1])
    # d_H is a count over U points: round the float32 distances to exact multiples of 1/U (float64),
    # so that the classes can be recomputed exactly from the stored counts.
    dist = (pairwise_hamming(torch.cat([preds_S_U, target[None]])).double() * U).round() / U  # [S + 1, S + 1]
    dist.fill_diagonal_(0.0)
    S = num_samples
    accuracy = 1.0 - dist[:S, S]  # [S]
    hyp_dist = dist[:S, :S]
    classes, centers = farthest_first_classes(hyp_dist, radius=tau)
    counts = torch.bincount(classes, minlength=len(centers))
    masses = counts.double() / S
    class_accuracy = [float(accuracy[classes == j].mean()) for j in range(len(centers))]
    others = {}
    for d in extra_divisors:
        t = acquisition.annealed_tau(val_error, d)
        lab, cen = farthest_first_classes(hyp_dist, radius=t)
        m = torch.bincount(lab, minlength=len(cen)).double() / S
        others[f"{float(d):g}"] = {"tau": t, "num_classes": len(cen), "largest_mass": float(m.max()),
                                   "classes": lab.tolist(), "masses": m.tolist()}
    seconds["classes"] = time.perf_counter() - start

    start = time.perf_counter()
    tsne = TSNE(n_components=2, metric="precomputed", init="random", method="exact",
                perplexity=min(float(perplexity), (S - 1) / 3), random_state=seed)
    xy = tsne.fit_transform(dist.cpu().numpy().copy())  # a copy: scikit-learn squares precomputed distances in place
    seconds["tsne"] = time.perf_counter() - start
    upper = hyp_dist[torch.triu_indices(S, S, 1).unbind()]
    disagreements = (upper * U).round().long()  # d_H * U: exact integer counts
    return {
        "study": "fig1",
        "paper": "Sec. 4.2 (line 647-658), Fig. 1",
        "preset": p.name,
        "dataset": splits.name,
        "description": splits.description,
        "seed": seed,
        "train_per_class": per_class,
        "train_size": len(chosen),
        "train_config": {k: getattr(config, k) for k in ("lr", "epoch_size", "batch_size", "max_epochs", "patience",
                                                         "class_weighted")},
        "epochs": trained.epochs,
        "num_samples": S,
        "holdout_size": U,
        "divisor": p.divisor,
        "val_error": val_error,
        "tau": tau,
        "tau_rule": f"tau = eps / {p.divisor:g}, the annealed threshold of the {p.name!r} preset, eps the dropout-off "
                    "validation error of the trained network",
        "off_accuracy_holdout": float((off_holdout.cpu() == splits.holdout.y).double().mean()),
        "off_accuracy_test": float((off_test.cpu() == splits.test.y).double().mean()),
        "accuracy": accuracy.tolist(),
        "classes": classes.tolist(),
        "centers": list(centers),
        "masses": masses.tolist(),
        "class_accuracy": class_accuracy,
        "disagreements": disagreements.tolist(),
        "distance_quantiles": {f"{q:g}": float(torch.quantile(upper, q)) for q in (0.0, 0.25, 0.5, 0.75, 1.0)},
        "other_divisors": others,
        "tsne": xy.tolist(),
        "tsne_perplexity": float(tsne.perplexity),
        "seconds": seconds,
        **provenance,
    }


def coefficient_of_variation(estimates: torch.Tensor) -> torch.Tensor:
    r"""Coefficient of variation of each point's R estimates: sample std (ddof = 1) over the mean.

    Args:
        estimates: ``[R, N]`` non-negative estimates, R >= 2.

    Returns:
        ``[N]`` float64 CVs, ``>= 0``; NaN where the mean is 0 (every estimate is 0, so the CV is
        undefined; the caller counts such points rather than dropping them silently).

    Raises:
        ValueError: ``estimates`` is not ``[R, N]`` with R >= 2, or holds negative values.

    Example:
        >>> coefficient_of_variation(torch.tensor([[1.0, 0.0], [3.0, 0.0]]))
        tensor([0.7071,    nan], dtype=torch.float64)
    """
    if estimates.dim() != 2 or estimates.shape[0] < 2:
        raise ValueError(f"estimates must have shape [R, N] with R >= 2, got {tuple(estimates.shape)}")
    e = estimates.double()
    if bool((e < 0).any()):
        raise ValueError("estimates must be non-negative (acquisition values)")
    mean = e.mean(0)
    std = e.std(0, correction=1)
    return torch.where(mean > 0, std / mean.where(mean > 0, torch.ones_like(mean)),
                       torch.full_like(mean, math.nan))


def _summary(cv: np.ndarray, edges: np.ndarray) -> dict:
    ok = cv[np.isfinite(cv)]
    return {
        "points": int(cv.size),
        "zero_mean": int((~np.isfinite(cv)).sum()),
        "mean": float(ok.mean()) if ok.size else math.nan,
        "quantiles": {f"{q:g}": float(np.quantile(ok, q)) for q in CV_QUANTILES} if ok.size else {},
        "histogram": np.histogram(ok, bins=edges)[0].tolist(),
        "above_range": int((ok > edges[-1]).sum()),
    }


def dispersion_study(
    preset: str = "imbalanced-mnist",
    *,
    seed: int = 0,
    num_pairs: int = 100,
    repeats: int = 5,
    pool_points: int | None = None,
    holdout_points: int | None = None,
    bins: int = 40,
    train_overrides: dict | None = None,
    splits: data.Splits | None = None,
) -> dict:
    r"""App. B.4: the dispersion of BALanCe's and BALD's estimates over independent MC-dropout sets.

    We train the preset's network on its initial labeled set (``splits.initial``, with its training
    settings), compute :math:`\epsilon` and the annealed :math:`\tau = \epsilon / \text{divisor}`, and
    ``repeats`` times draw two fresh, independent sets of K consistent masks
    :math:`(w_k, w'_k)_{k \le K}`. Each repetition estimates, for every scored pool point,

    - BALanCe (Eq. 3): :func:`~balance_lite.acquisition.balance_scores` with the K pairs and the edges
      :func:`~balance_lite.acquisition.hamming_edges` at :math:`\tau` on :math:`\bar D_{pool}`;
    - BALD: :func:`~balance_lite.acquisition.bald_scores` with the S = K hypotheses of the first set
      (the paper uses K "for all the methods").

    The coefficient of variation of a point is the sample standard deviation (ddof = 1) of its R
    estimates over their mean (:func:`coefficient_of_variation`); a point whose R estimates are all 0
    has no CV and is counted in ``zero_mean``.

    Args:
        preset: the preset whose data, network, training settings and divisor are used.
        seed: seeds the split, the network, the subsets and the masks.
        num_pairs: K (100 in the paper).
        repeats: R, the independent estimates (5 in the paper).
        pool_points: score a random subset of this many unlabeled pool points (None: all of them).
        holdout_points: compute Hamming distances on a random subset of :math:`\bar D_{pool}` of this
            size (None: all of it).
        bins: histogram bins, shared by both methods, from 0 to the larger 99th percentile of the CVs.
        train_overrides: :class:`~balance_lite.train.TrainConfig` fields to change (tests).
        splits: the dataset's splits, if already loaded.

    Returns:
        A JSON-ready dict with, per method (``"balance"``, ``"bald"``), a summary (``points``, ``zero_mean``,
        ``mean``, ``quantiles``, ``histogram``) and the per-point ``cv`` and ``mean_score``; the shared
        ``bin_edges``; ``tau`` and the cut edges of each repetition; ``seconds``.

    Raises:
        ValueError: ``repeats`` < 2, ``num_pairs`` < 1, or subset sizes out of range.
    """
    provenance = _provenance()  # the code that runs: read before it runs
    p = get_preset(preset)
    for name, value, low in (("repeats", repeats, 2), ("num_pairs", num_pairs, 1), ("bins", bins, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    splits = splits if splits is not None else data.load(p.dataset, seed=seed)
    if not splits.initial:
        raise ValueError(f"the {splits.name!r} splits have no initial labels to train on")
    labeled = set(splits.initial)
    unlabeled = np.array([i for i in range(len(splits.pool)) if i not in labeled])
    rng = np.random.default_rng([seed, 13])
    for name, value, limit in (("pool_points", pool_points, len(unlabeled)),
                               ("holdout_points", holdout_points, len(splits.holdout))):
        if value is not None and (not isinstance(value, int) or not 1 <= value <= limit):
            raise ValueError(f"{name} must be None or an integer in [1, {limit}], got {value!r}")
    scored = np.sort(rng.choice(unlabeled, pool_points, replace=False)) if pool_points else unlabeled
    held = (np.sort(rng.choice(len(splits.holdout), holdout_points, replace=False)) if holdout_points
            else np.arange(len(splits.holdout)))
    pool_x = splits.pool.x[torch.as_tensor(scored)]
    holdout_x = splits.holdout.x[torch.as_tensor(held)]

    seconds: dict = {}
    start = time.perf_counter()
    idx = torch.as_tensor(splits.initial)
    model, trained, config = _train(p, splits, splits.pool.x[idx], splits.pool.y[idx], seed, train_overrides)
    val_error = 1.0 - trained.best_val_accuracy
    tau = acquisition.annealed_tau(val_error, p.divisor)
    seconds["train"] = time.perf_counter() - start

    balance, bald, cut, rep_seconds = [], [], [], []
    for r in range(repeats):
        start = time.perf_counter()
        g = torch.Generator().manual_seed(_seed_of(seed, 17, r))
        masks_a = model.draw_masks(num_pairs, generator=g)
        masks_b = model.draw_masks(num_pairs, generator=g)
        lp_a = model.sample_log_probs(pool_x, masks=masks_a)  # [N, K, C]
        lp_b = model.sample_log_probs(pool_x, masks=masks_b)
        preds_a = model.sample_log_probs(holdout_x, masks=masks_a).argmax(-1).T  # [K, U]
        preds_b = model.sample_log_probs(holdout_x, masks=masks_b).argmax(-1).T
        edges = acquisition.hamming_edges(preds_a, preds_b, tau)
        balance.append(acquisition.balance_scores(lp_a, lp_b, edges).cpu())
        bald.append(acquisition.bald_scores(lp_a).cpu())
        cut.append(int(edges.sum()))
        rep_seconds.append(time.perf_counter() - start)
    seconds["estimates"] = rep_seconds

    est = {"balance": torch.stack(balance), "bald": torch.stack(bald)}  # [R, N] each
    cv = {m: coefficient_of_variation(e).numpy() for m, e in est.items()}
    finite = np.concatenate([c[np.isfinite(c)] for c in cv.values()])
    top = float(max(np.quantile(c[np.isfinite(c)], 0.99) for c in cv.values() if np.isfinite(c).any())) if finite.size else 1.0
    edges_hist = np.linspace(0.0, top if top > 0 else 1.0, bins + 1)
    both = np.isfinite(cv["balance"]) & np.isfinite(cv["bald"])
    methods = {}
    for m in est:
        methods[m] = {**_summary(cv[m], edges_hist), "cv": [None if not np.isfinite(v) else float(v) for v in cv[m]],
                      "mean_score": est[m].mean(0).tolist()}
    return {
        "study": "dispersion",
        "paper": "App. B.4 (line 1395-1421), Fig. 10",
        "preset": p.name,
        "dataset": splits.name,
        "description": splits.description,
        "seed": seed,
        "trained_on": f"the {len(splits.initial)} initial labels of the {splits.name!r} splits (seed {seed}), "
                      f"per class {np.bincount(splits.pool.y[idx].numpy(), minlength=splits.num_classes).tolist()}",
        "train_config": {k: getattr(config, k) for k in ("lr", "epoch_size", "batch_size", "max_epochs", "patience",
                                                         "class_weighted")},
        "epochs": trained.epochs,
        "val_error": val_error,
        "divisor": p.divisor,
        "tau": tau,
        "num_pairs": num_pairs,
        "num_samples_bald": num_pairs,
        "repeats": repeats,
        "pool_size": int(len(unlabeled)),
        "pool_points": int(len(scored)),
        "holdout_size": int(len(splits.holdout)),
        "holdout_points": int(len(held)),
        "edges_cut": cut,
        "cv_rule": "sample std (ddof = 1) of the R estimates over their mean; points whose R estimates are all 0 "
                   "have no CV and are counted in zero_mean",
        "bin_edges": edges_hist.tolist(),
        "balance_below_bald": float(np.mean(cv["balance"][both] < cv["bald"][both])) if both.any() else math.nan,
        "paired_points": int(both.sum()),
        "methods": methods,
        "seconds": seconds,
        **provenance,
    }


def _rounded(obj, digits: int):
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return None
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: _rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_rounded(v, digits) for v in obj]
    return obj


def write_study(study: dict, path: str | os.PathLike, *, digits: int = 5) -> Path:
    """Write a study as compact JSON, every float rounded to ``digits`` significant digits (NaN -> null).

    Returns:
        The path written, atomically (readers see the old file or the new one).

    Raises:
        ValueError: ``study`` is not a dict with a ``"study"`` key, or ``digits`` < 1.
    """
    if not isinstance(study, dict) or "study" not in study:
        raise ValueError("study must be a dict returned by fig1_study or dispersion_study (with a 'study' key)")
    if not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    path = Path(path)
    atomic_write_text(path, json.dumps(_rounded(study, digits), separators=(",", ":"), allow_nan=False) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m balance_lite.experiments.studies {fig1,dispersion} --out FILE [options]``."""
    parser = argparse.ArgumentParser(prog="python -m balance_lite.experiments.studies",
                                     description="Fig. 1 (Sec. 4.2) and the App. B.4 dispersion study, as JSON.")
    sub = parser.add_subparsers(dest="study", required=True)
    f = sub.add_parser("fig1", help="equivalence classes of MC-dropout hypotheses (Fig. 1)")
    f.add_argument("--preset", default="mnist")
    f.add_argument("--num-samples", type=int, default=200)
    d = sub.add_parser("dispersion", help="coefficient of variation of BALanCe and BALD (App. B.4)")
    d.add_argument("--preset", default="imbalanced-mnist")
    d.add_argument("--num-pairs", type=int, default=100)
    d.add_argument("--repeats", type=int, default=5)
    d.add_argument("--pool-points", type=int, default=None, help="score a random subset of the pool")
    d.add_argument("--holdout-points", type=int, default=None, help="a random subset of D̄pool for d_H")
    for s in (f, d):
        s.add_argument("--out", required=True, help="the JSON file to write")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    if args.study == "fig1":
        study = fig1_study(args.preset, seed=args.seed, num_samples=args.num_samples)
    else:
        study = dispersion_study(args.preset, seed=args.seed, num_pairs=args.num_pairs, repeats=args.repeats,
                                 pool_points=args.pool_points, holdout_points=args.holdout_points)
    study["seconds"]["total"] = time.perf_counter() - start
    study["command"] = ["python", "-m", "balance_lite.experiments.studies", *(argv if argv is not None else sys.argv[1:])]
    out = write_study(study, args.out)
    print(f"wrote {out} ({out.stat().st_size:,} bytes) in {study['seconds']['total']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
