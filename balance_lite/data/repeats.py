"""Repeated pools: noisy copies of a pool, where each copy came from, and how redundant a batch is.

Chapter: *The data sets and their splits* (Repeated-MNIST, Sec. 4.1 of the paper, after Kirsch et
al. 2019) and the chapter on redundant pools, which counts the copies in each method's batches.

A repeated pool of ``copies`` copies of a base pool of ``n`` points holds copy ``r`` of base point
``i`` at position ``r * n + i``; its *origin* array maps every position back to ``i``.
:func:`batch_redundancy` reads a selected batch through that array: how many picks are copies of
the same original image, how many share a class, how many copy an image already labeled.

Example:
    >>> x, y = torch.zeros(4, 2), torch.tensor([0, 1, 1, 0])
    >>> x_rep, y_rep, origin = repeat_pool(x, y, 3, 0.1, torch.Generator().manual_seed(0))
    >>> x_rep.shape, origin.tolist()
    (torch.Size([12, 2]), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])
    >>> r = batch_redundancy([0, 4, 8, 1], origin, labels=y_rep)
    >>> r.distinct_images, r.duplicate_picks, r.max_copies, r.max_per_class
    (2, 2, 3, 3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["BatchRedundancy", "batch_redundancy", "repeat_origin", "repeat_pool"]


def _count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return int(value)


def repeat_origin(n: int, copies: int) -> np.ndarray:
    """The origin array of a pool of ``n`` points repeated ``copies`` times, ``[copies * n]`` int64.

    ``repeat_origin(n, copies)[r * n + i] == i``: copy ``r`` of base point ``i`` sits at ``r * n + i``.

    Raises:
        ValueError: ``n`` is negative or ``copies`` is below 1.
    """
    n, copies = _count(n, "n", 0), _count(copies, "copies", 1)
    return np.tile(np.arange(n, dtype=np.int64), copies)


def repeat_pool(x: torch.Tensor, y: torch.Tensor, copies: int, noise_std: float,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """``copies`` copies of a pool, each with its own isotropic Gaussian noise.

    Copy ``r`` is ``x + noise_std * z_r`` with ``z_r`` standard normal of ``x``'s shape, drawn from
    ``generator`` in copy order: the first ``c`` copies of a ``copies``-copy pool are those of a
    ``c``-copy pool from a generator in the same state. Every copy is noisy, the first included
    (as in Kirsch et al. 2019's Repeated-MNIST and the paper's released code).

    Args:
        x: ``[n, ...]`` inputs.
        y: ``[n]`` labels.
        copies: how many copies, at least 1.
        noise_std: the noise's standard deviation (in ``x``'s units), non-negative.
        generator: draws the noise.

    Returns:
        ``(x_rep [copies * n, ...], y_rep [copies * n], origin [copies * n] int64)``, copy ``r`` of
        point ``i`` at position ``r * n + i`` and ``origin[r * n + i] == i``.

    Raises:
        ValueError: ``copies`` below 1, a negative ``noise_std``, or ``x`` and ``y`` of different lengths.
    """
    copies = _count(copies, "copies", 1)
    if not noise_std >= 0:
        raise ValueError(f"noise_std must be a non-negative number, got {noise_std!r}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same length, got {x.shape[0]} and {y.shape[0]}")
    noisy = [x + noise_std * torch.randn(x.shape, generator=generator) for _ in range(copies)]
    return torch.cat(noisy), y.repeat(copies), repeat_origin(x.shape[0], copies)


@dataclass(frozen=True)
class BatchRedundancy:
    """How redundant one selected batch is (see :func:`batch_redundancy`).

    Attributes:
        size: B, the number of picks.
        distinct_images: how many different original images the picks copy.
        duplicate_picks: ``size - distinct_images``: picks that copy an image another pick of the
            batch already copies (0 for a batch without duplicates).
        max_copies: the most picks that copy one original image.
        copies: ``{original: picks}`` for every original image picked more than once.
        already_labeled: picks whose original image was already labeled (through any of its
            copies) before this batch; 0 when no labeled set was given.
        class_counts: ``{class: picks}`` per class picked (empty when no labels were given).
        distinct_classes: how many classes the batch covers (0 when no labels were given).
        max_per_class: the most picks of one class (0 when no labels were given).
    """

    size: int
    distinct_images: int
    duplicate_picks: int
    max_copies: int
    copies: dict
    already_labeled: int
    class_counts: dict
    distinct_classes: int
    max_per_class: int


def _positions(values, name: str, length: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-d sequence of integer pool positions, got {values!r}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= length):
        raise ValueError(f"{name} must hold positions in 0..{length - 1} (the origin array's length), got "
                         f"{arr.min()}..{arr.max()}")
    return arr


def batch_redundancy(selected, origin, *, labels=None, labeled=None) -> BatchRedundancy:
    """Count the copies of the same original image, and of the same class, in a selected batch.

    Args:
        selected: ``[B]`` pool positions of one batch (e.g. an iteration record's ``selected``).
        origin: ``[N]`` the original image of every pool position (``origin`` of
            :class:`~balance_lite.data.Splits`, or :func:`repeat_origin`).
        labels: optional ``[N]`` class of every pool position (e.g. ``splits.pool.y``).
        labeled: optional pool positions labeled before this batch (the initial set and earlier
            batches): their originals count towards ``already_labeled``.

    Returns:
        A :class:`BatchRedundancy`.

    Raises:
        ValueError: ``origin`` is not a 1-d integer array, ``labels`` has another length,
            ``selected`` is empty, holds a position twice or out of range, or ``labeled`` is out of range.

    Example:
        >>> origin = repeat_origin(5, 2)  # positions 0-4 and 5-9 copy images 0-4
        >>> r = batch_redundancy([1, 6, 2], origin, labeled=[7])
        >>> r.distinct_images, r.copies, r.already_labeled
        (2, {1: 2}, 1)
    """
    origin = np.asarray(origin)
    if origin.ndim != 1 or not np.issubdtype(origin.dtype, np.integer):
        raise ValueError(f"origin must be a 1-d integer array (the original image of each pool position), "
                         f"got shape {origin.shape} and dtype {origin.dtype}")
    n = origin.shape[0]
    picks = _positions(selected, "selected", n)
    if picks.size == 0:
        raise ValueError("selected must hold at least one pool position, got none")
    if np.unique(picks).size != picks.size:
        raise ValueError(f"selected must hold distinct pool positions (a batch never picks one twice), "
                         f"got {picks.tolist()}")
    images, counts = np.unique(origin[picks], return_counts=True)
    already = 0
    if labeled is not None:
        before = set(origin[_positions(labeled, "labeled", n)].tolist())
        already = int(sum(int(o) in before for o in origin[picks]))
    class_counts: dict = {}
    if labels is not None:
        labels = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels must have one class per pool position, shape ({n},), got {labels.shape}")
        classes, per_class = np.unique(labels[picks], return_counts=True)
        class_counts = {int(c): int(k) for c, k in zip(classes, per_class)}
    return BatchRedundancy(
        size=int(picks.size),
        distinct_images=int(images.size),
        duplicate_picks=int(picks.size - images.size),
        max_copies=int(counts.max()),
        copies={int(i): int(k) for i, k in zip(images, counts) if k > 1},
        already_labeled=already,
        class_counts=class_counts,
        distinct_classes=len(class_counts),
        max_per_class=max(class_counts.values(), default=0),
    )
