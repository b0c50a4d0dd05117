r"""From predictions to a batch: one selector per acquisition method, all returning a :class:`Selection`.

Chapter: *The active learning loop in 30 lines* (predict, then select).

Each selector takes the typed predictions of its family (:mod:`~balance_lite.acquisition.predictions`),
the batch size B, the method's parameters and a generator, and returns a complete
:class:`~balance_lite.acquisition.selection.Selection`: indices, scores, ties, and for the
BALanCe family tau, the number of cut pairs and whether it fell back to random (decided by
:func:`~balance_lite.acquisition.selection.no_edge_fallback` alone). The ``select_power_*``
selectors sample the batch from the method's one-point scores
(:func:`~balance_lite.acquisition.stochastic_batch`, Kirsch et al., TMLR 2023) instead of
taking the top B. The strategies of
:mod:`balance_lite.strategies` only sample the predictions and call one of these.

Example:
    >>> g = torch.Generator().manual_seed(0)
    >>> select_random(PoolSize(10), 3, generator=g).indices
    [4, 1, 7]
    >>> from balance_lite.acquisition import predictive_entropy_scores
    >>> lp = torch.tensor([[[0.5, 0.5]], [[0.9, 0.1]]]).log()
    >>> select_top_scores(SamplePredictions(lp), 1, score_fn=predictive_entropy_scores).indices
    [0]
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import torch
from torch import Tensor

from .balance import balance_scores
from .batch_balance import batch_balance
from .batchbald import batchbald
from .diversity import badge, coreset
from .epig import epig_scores
from .hamming import hamming_edges
from .partition import partition_classes, partition_scores
from .predictions import EmbeddingPredictions, PairPredictions, PoolSize, SamplePredictions, TargetPredictions
from .selection import Selection, no_edge_fallback, random_selection, top_b
from .stochastic import stochastic_batch


def _expect(predictions, kind: type, method: str) -> None:
    if not isinstance(predictions, kind):
        raise TypeError(f"predictions for {method} must be a {kind.__name__}, got {type(predictions).__name__}")


def select_random(predictions: PoolSize, batch_size: int, *, generator: torch.Generator | None = None) -> Selection:
    """The random baseline: B pool positions uniformly at random (every score 0, not a fallback)."""
    _expect(predictions, PoolSize, "random")
    return random_selection(predictions.num_points, batch_size, generator)


def select_top_scores(predictions: SamplePredictions, batch_size: int, *, score_fn: Callable[[Tensor], Tensor],
                      generator: torch.Generator | None = None) -> Selection:
    """Top-B of a one-point score ``score_fn: [N, S, C] -> [N]`` (higher is better), e.g. :func:`bald_scores`."""
    _expect(predictions, SamplePredictions, "a one-point score")
    return top_b(score_fn(predictions.log_probs), batch_size, generator=generator)


def select_batchbald(predictions: SamplePredictions, batch_size: int, *, num_configurations: int = 10_000,
                     generator: torch.Generator | None = None) -> Selection:
    """BatchBALD's greedy batch (:func:`~balance_lite.acquisition.batchbald`) with M = ``num_configurations``."""
    _expect(predictions, SamplePredictions, "batchbald")
    return batchbald(predictions.log_probs, batch_size, num_configurations=num_configurations, generator=generator)


def _edges(predictions: PairPredictions, tau: float) -> Tensor:
    return hamming_edges(predictions.preds_a, predictions.preds_b, tau)


def select_balance(predictions: PairPredictions, batch_size: int, *, tau: float,
                   generator: torch.Generator | None = None) -> Selection:
    """BALanCe (Eq. 3, Alg. 1): the B points of highest BALanCe score, edges cut at ``tau``.

    Meant for B = 1 (the paper's sequential setting); for B > 1 it is the naive top-B batch.
    """
    _expect(predictions, PairPredictions, "balance")
    edges = _edges(predictions, tau)
    sel = no_edge_fallback(edges, predictions.num_points, batch_size, generator)
    if sel is None:
        scores = balance_scores(predictions.log_probs_a, predictions.log_probs_b, edges)
        sel = top_b(scores, batch_size, generator=generator)
    return dataclasses.replace(sel, tau=float(tau), num_edges=int(edges.sum()))


def select_batch_balance(predictions: PairPredictions, batch_size: int, *, tau: float, route: str = "factorized",
                         num_configurations: int = 10_000, generator: torch.Generator | None = None) -> Selection:
    """Batch-BALanCe (Eq. 4, Alg. 2): the greedy batch of :func:`~balance_lite.acquisition.batch_balance`."""
    _expect(predictions, PairPredictions, "batch-balance")
    edges = _edges(predictions, tau)
    sel = batch_balance(predictions.log_probs_a, predictions.log_probs_b, edges, batch_size, route=route,
                        num_configurations=num_configurations, generator=generator)
    return dataclasses.replace(sel, tau=float(tau))


def select_partition(predictions: PairPredictions, batch_size: int, *, tau: float,
                     generator: torch.Generator | None = None) -> Selection:
    """BALanCe-Partition (App. B.3): classes of all 2K hypotheses of radius ``tau``, then top-B.

    Its edges join hypotheses of different classes, so ``num_edges`` stays None; with a single
    class there is no edge and the batch falls back to random.
    """
    _expect(predictions, PairPredictions, "balance-partition")
    classes = partition_classes(predictions.preds_a, predictions.preds_b, tau)  # [2K]
    scores = partition_scores(predictions.log_probs_a, predictions.log_probs_b, classes)
    sel = no_edge_fallback(classes.max().reshape(1) > 0, predictions.num_points, batch_size, generator)
    if sel is None:
        sel = top_b(scores, batch_size, generator=generator)
    return dataclasses.replace(sel, tau=float(tau))


def select_power_scores(predictions: SamplePredictions, batch_size: int, *, score_fn: Callable[[Tensor], Tensor],
                        mode: str = "power", beta: float = 1.0,
                        generator: torch.Generator | None = None) -> Selection:
    """Stochastic batch of a one-point score ``score_fn: [N, S, C] -> [N]`` (Kirsch et al., TMLR 2023).

    With :func:`~balance_lite.acquisition.bald_scores` and ``mode="power"`` it is PowerBALD; see
    :func:`~balance_lite.acquisition.stochastic_batch` for ``mode`` and ``beta``.

    Example:
        >>> from balance_lite.acquisition import bald_scores
        >>> lp = torch.tensor([[[0.5, 0.5], [0.5, 0.5]], [[1.0, 0.0], [0.0, 1.0]]]).log()  # [N=2, S=2, C=2]
        >>> select_power_scores(SamplePredictions(lp), 1, score_fn=bald_scores).indices  # BALD 0 has weight 0
        [1]
    """
    _expect(predictions, SamplePredictions, "a one-point score")
    return stochastic_batch(score_fn(predictions.log_probs), batch_size, mode=mode, beta=beta, generator=generator)


def select_power_balance(predictions: PairPredictions, batch_size: int, *, tau: float, mode: str = "power",
                         beta: float = 1.0, generator: torch.Generator | None = None) -> Selection:
    """PowerBALanCe: a stochastic batch of BALanCe scores (Eq. 3), edges cut at ``tau`` (Kirsch et al., TMLR 2023).

    As :func:`select_balance` but the batch is sampled by
    :func:`~balance_lite.acquisition.stochastic_batch` with ``mode`` and ``beta``; with no
    cut edge every score is 0 and the batch falls back to random (``NO_EDGE``), as for BALanCe.
    """
    _expect(predictions, PairPredictions, "power-balance")
    edges = _edges(predictions, tau)
    sel = no_edge_fallback(edges, predictions.num_points, batch_size, generator)
    if sel is None:
        scores = balance_scores(predictions.log_probs_a, predictions.log_probs_b, edges)
        sel = stochastic_batch(scores, batch_size, mode=mode, beta=beta, generator=generator)
    return dataclasses.replace(sel, tau=float(tau), num_edges=int(edges.sum()))


def select_epig(predictions: TargetPredictions, batch_size: int, *,
                generator: torch.Generator | None = None) -> Selection:
    """Top-B of EPIG (:func:`~balance_lite.acquisition.epig_scores`, Bickford Smith et al., AISTATS 2023)."""
    _expect(predictions, TargetPredictions, "epig")
    return top_b(epig_scores(predictions.log_probs, predictions.target_log_probs), batch_size, generator=generator)


def select_power_epig(predictions: TargetPredictions, batch_size: int, *, mode: str = "power", beta: float = 1.0,
                      generator: torch.Generator | None = None) -> Selection:
    """PowerEPIG: a stochastic batch of EPIG scores (Bickford Smith et al., 2023; Kirsch et al., TMLR 2023)."""
    _expect(predictions, TargetPredictions, "power-epig")
    scores = epig_scores(predictions.log_probs, predictions.target_log_probs)
    return stochastic_batch(scores, batch_size, mode=mode, beta=beta, generator=generator)


def select_badge(predictions: EmbeddingPredictions, batch_size: int, *,
                 generator: torch.Generator | None = None) -> Selection:
    """BADGE (Ash et al., ICLR 2020): :func:`~balance_lite.acquisition.badge` on the pool's embeddings
    and dropout-off log-probabilities (``predictions.log_probs`` ``[N, C]`` is required)."""
    _expect(predictions, EmbeddingPredictions, "badge")
    if predictions.log_probs is None:
        raise ValueError("predictions.log_probs must hold the pool's [N, C] dropout-off log-probabilities "
                         "for badge, got None")
    return badge(predictions.features, predictions.log_probs, batch_size, generator=generator)


def select_coreset(predictions: EmbeddingPredictions, batch_size: int, *,
                   generator: torch.Generator | None = None) -> Selection:
    """Core-Set (Sener and Savarese, ICLR 2018): :func:`~balance_lite.acquisition.coreset`'s greedy
    k-centre batch (``predictions.labeled_features`` ``[L, D]`` is required; L may be 0)."""
    _expect(predictions, EmbeddingPredictions, "coreset")
    if predictions.labeled_features is None:
        raise ValueError("predictions.labeled_features must hold the labeled points' [L, D] embeddings "
                         "for coreset (L may be 0), got None")
    return coreset(predictions.features, predictions.labeled_features, batch_size, generator=generator)
