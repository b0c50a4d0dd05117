r"""What every acquisition returns, the random fallback, top-B selection and fair tie-breaking.

Chapters: *BALD and BatchBALD* (top-B BALD) and *BALanCe (Eq. 2-3, Alg. 1)* (the random fallback).

:class:`Selection` is the one result type from predictions to a batch: the acquisition functions
of :mod:`balance_lite.acquisition`, the strategies and the loop all pass it on unchanged.
Every selector breaks ties uniformly at random with the caller's generator, never silently
towards the lowest pool index, and records in :attr:`Selection.num_tied` how many candidates
tied at each pick. When a method has nothing to go on, the batch is uniformly random and says
so: that decision is made in one place, :func:`no_edge_fallback`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ._checks import check_batch_size, check_generator

__all__ = ["NO_EDGE", "Selection", "no_edge_fallback", "random_selection", "top_b"]

#: Why a BALanCe-family method fell back to a random batch: no hypothesis pair is cut.
NO_EDGE = "no hypothesis pair is cut (d_H <= tau for every pair): every score is 0"


@dataclass(frozen=True)
class Selection:
    r"""A batch of pool points chosen by an acquisition method.

    Attributes:
        indices: pool positions of the chosen points, in pick order.
        scores: the acquisition value of the batch after each pick, on the paper's scale:
            ``scores[i]`` is the value of ``indices[: i + 1]`` (Eq. 3 and Eq. 4 for BALanCe,
            joint mutual information in nats for BatchBALD, the point's own score for
            :func:`top_b` and :func:`~balance_lite.acquisition.stochastic_batch`, 0 for a random batch).
        num_tied: for each pick, how many candidates shared the best value (1 means a unique
            best); the pick was drawn uniformly among them. A stochastic batch records 1 for a
            point drawn by its weight (:func:`~balance_lite.acquisition.stochastic_batch`).
        tau: the Hamming threshold used (BALanCe methods), else None.
        num_edges: how many of the K hypothesis pairs were cut, :math:`d_H > \tau` (BALanCe and
            Batch-BALanCe), else None (also for BALanCe-Partition, whose edges join classes).
        random_fallback: True when the method could not tell any candidates apart and the
            batch was drawn uniformly at random instead (never True for the random baseline).
        fallback_reason: why it fell back (e.g. ``NO_EDGE``), else None.

    Example:
        >>> sel = Selection(indices=[3, 0], scores=[0.5, 0.75])
        >>> sel.indices, len(sel), sel.random_fallback
        ([3, 0], 2, False)
    """

    indices: list[int]
    scores: list[float]
    num_tied: list[int] = field(default_factory=list)
    tau: float | None = None
    num_edges: int | None = None
    random_fallback: bool = False
    fallback_reason: str | None = None

    def __len__(self) -> int:
        return len(self.indices)


def rand_device(generator: torch.Generator | None) -> torch.device:
    """The device on which random draws with ``generator`` are made (CPU for ``None``)."""
    return generator.device if generator is not None else torch.device("cpu")


def random_selection(N: int, batch_size: int, generator: torch.Generator | None, *,
                     reason: str | None = None) -> Selection:
    """A uniformly random batch of ``batch_size`` of N pool positions (every score 0).

    Args:
        N: pool size.
        batch_size: B, between 1 and N.
        generator: draws the batch; ``None`` uses torch's global generator.
        reason: None for the random baseline; otherwise why a method fell back to chance
            (then ``random_fallback`` is True).

    Example:
        >>> random_selection(10, 3, torch.Generator().manual_seed(0)).indices
        [4, 1, 7]
    """
    B = check_batch_size(batch_size, N)
    check_generator(generator)
    perm = torch.randperm(N, generator=generator, device=rand_device(generator))[:B]
    return Selection(
        indices=[int(i) for i in perm],
        scores=[0.0] * B,
        num_tied=[N - i for i in range(B)],
        random_fallback=reason is not None,
        fallback_reason=reason,
    )


def no_edge_fallback(edges: Tensor, N: int, batch_size: int, generator: torch.Generator | None) -> Selection | None:
    r"""The random fallback of the BALanCe family, decided here and nowhere else.

    With no cut edge every BALanCe-family score is 0 (Eq. 3-4; for BALanCe-Partition: a single
    equivalence class), so nothing tells the candidates apart: the batch is drawn uniformly at
    random and flagged (``NO_EDGE``).

    Args:
        edges: bool tensor of the edges (``[K]`` pairs, or the cross-class pairs of a partition).
        N: pool size.
        batch_size: B.
        generator: draws the random batch.

    Returns:
        The random :class:`Selection`, or None when some edge is cut.

    Example:
        >>> no_edge_fallback(torch.tensor([True, False]), 5, 2, None) is None
        True
        >>> no_edge_fallback(torch.tensor([False]), 5, 2, None).random_fallback
        True
    """
    if bool(edges.any()):
        return None
    return random_selection(N, batch_size, generator, reason=NO_EDGE)


def pick_best(
    values: Tensor,
    available: Tensor,
    *,
    largest: bool,
    rtol: float,
    generator: torch.Generator | None,
) -> tuple[int, int]:
    r"""Position of the best available value, ties drawn uniformly at random.

    Values within ``rtol * |best|`` of the best count as tied: the rounding noise of the
    computation cannot order them.

    Args:
        values: ``[N]`` values to rank.
        available: ``[N]`` bool, False for points already chosen.
        largest: True to maximise, False to minimise.
        rtol: relative tie tolerance (0 for exact ties only).
        generator: draws among the tied candidates.

    Returns:
        ``(index, num_tied)``.
    """
    fill = -torch.inf if largest else torch.inf
    v = values.masked_fill(~available, fill)
    best = v.max() if largest else v.min()
    tol = rtol * best.abs()
    tied = (v >= best - tol) if largest else (v <= best + tol)
    tied_idx = torch.nonzero(tied & available).flatten()
    n_tied = int(tied_idx.numel())
    if n_tied == 1:
        return int(tied_idx[0]), 1
    r = int(torch.randint(n_tied, (1,), generator=generator, device=rand_device(generator)))
    return int(tied_idx[r]), n_tied


def tie_rtol(dtype: torch.dtype) -> float:
    """Relative tie tolerance for values computed in ``dtype``: 32 units in the last place."""
    return 32.0 * torch.finfo(dtype).eps


def check_score_vector(scores: Tensor) -> int:
    """N, after checking that ``scores`` is a floating-point ``[N]`` tensor (N >= 1) without NaN."""
    if not isinstance(scores, Tensor) or not scores.is_floating_point():
        got = scores.dtype if isinstance(scores, Tensor) else type(scores).__name__
        raise TypeError(f"scores must be a floating-point tensor of shape [N], got {got}")
    if scores.dim() != 1 or scores.numel() == 0:
        raise ValueError(f"scores must have shape [N] with N >= 1, got {tuple(scores.shape)}")
    if bool(torch.isnan(scores).any()):
        raise ValueError("scores must not contain NaN")
    return scores.shape[0]


def top_b(scores: Tensor, batch_size: int, *, generator: torch.Generator | None = None) -> Selection:
    r"""The ``batch_size`` highest-scoring pool points (top-B selection for one-point scores).

    Points with exactly equal scores are ordered uniformly at random with ``generator``,
    not by pool index (variation ratios, for example, take few distinct values).

    Args:
        scores: ``[N]`` one score per pool point, e.g. from :func:`bald_scores`.
        batch_size: B, between 1 and N.
        generator: breaks ties; ``None`` uses torch's global generator.

    Returns:
        :class:`Selection` with the chosen indices in decreasing score order and
        ``scores[i]`` the score of ``indices[i]``.

    Raises:
        TypeError: ``scores`` is not a floating-point tensor, or ``batch_size`` is not an int.
        ValueError: ``scores`` is not 1-d, is empty, holds NaN, or ``batch_size`` is out of range.

    Example:
        >>> top_b(torch.tensor([0.1, 0.9, 0.4]), 2).indices
        [1, 2]
    """
    N = check_score_vector(scores)
    B = check_batch_size(batch_size, N)
    check_generator(generator)
    perm = torch.randperm(N, generator=generator, device=rand_device(generator)).to(scores.device)
    order = torch.sort(scores[perm], descending=True, stable=True).indices[:B]
    chosen = perm[order]
    values = scores[chosen]
    # how many not-yet-chosen points tie with pick i: points with that score minus earlier picks
    ascending = torch.sort(scores).values
    equal_counts = torch.searchsorted(ascending, values, right=True) - torch.searchsorted(ascending, values)
    num_tied, seen = [], {}
    for v, c in zip(values.tolist(), equal_counts.tolist()):
        num_tied.append(c - seen.get(v, 0))
        seen[v] = seen.get(v, 0) + 1
    return Selection(indices=[int(i) for i in chosen], scores=values.tolist(), num_tied=num_tied)
