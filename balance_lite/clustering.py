r"""Equivalence classes from a metric: Hamming distances and farthest-first traversal.

Chapters: *The cost of labels*, *When information is not what you need* and *Hypotheses from MC
dropout*.

Used by the hypothesis-space chapters (``balance_lite.hypotheses``) and by BALanCe-Partition
(App. B.3 of the paper), which both group hypotheses whose predictions differ on at most a
fraction ``tau`` of the points.
"""

from __future__ import annotations

import torch
from torch import Tensor


def pairwise_hamming(preds: Tensor) -> Tensor:
    r"""Normalised Hamming distance between every pair of prediction vectors.

    :math:`d_H(h, h') = \frac{1}{U} \sum_u \mathbb{1}[h(x_u) \ne h'(x_u)]`.

    Args:
        preds: ``[n, U]`` integer labels that n hypotheses predict on U points.

    Returns:
        ``[n, n]`` float distances in [0, 1] on ``preds``' device.

    Raises:
        ValueError: ``preds`` is not a 2-d tensor with at least one column.

    Example:
        >>> pairwise_hamming(torch.tensor([[0, 1, 1, 0], [0, 0, 1, 1]]))
        tensor([[0.0000, 0.5000],
                [0.5000, 0.0000]])
    """
    if preds.dim() != 2 or preds.shape[1] == 0:
        raise ValueError(f"preds must have shape [n, U] with U >= 1, got {tuple(preds.shape)}")
    n, U = preds.shape
    if n == 0:
        return preds.new_zeros((0, 0), dtype=torch.float32)
    num_classes = int(preds.max()) + 1
    if int(preds.min()) < 0:
        raise ValueError("preds must hold non-negative integer class labels")
    one_hot = torch.nn.functional.one_hot(preds.long(), num_classes).flatten(1).float()  # [n, U*C]
    agree = one_hot @ one_hot.T  # [n, n] number of points where the two agree
    return 1.0 - agree / U


def farthest_first_classes(distances: Tensor, radius: float, *, first: int = 0) -> tuple[Tensor, list[int]]:
    r"""Partition points into classes of radius at most ``radius`` by farthest-first traversal.

    Gonzalez's greedy k-center algorithm: start from point ``first``; while some point lies
    farther than ``radius`` from every chosen center, make the farthest such point a center.
    Each point then joins its nearest center (ties go to the earlier center). Every class has
    radius ``<= radius``, hence diameter ``<= 2 * radius``, and the number of centers is at most
    that of an optimal cover of radius ``radius / 2``.

    Args:
        distances: ``[n, n]`` symmetric distances with a zero diagonal.
        radius: the largest distance allowed from a point to its class center (tau).
        first: the index of the first center.

    Returns:
        ``(labels, centers)``: ``[n]`` long class labels in ``0..len(centers)-1``, where class j
        is centered on point ``centers[j]``.

    Raises:
        ValueError: ``distances`` is not square, ``radius`` is negative or ``first`` is out of range.

    Example:
        >>> d = torch.tensor([[0.0, 0.1, 0.9], [0.1, 0.0, 0.8], [0.9, 0.8, 0.0]])
        >>> farthest_first_classes(d, radius=0.2)
        (tensor([0, 0, 1]), [0, 2])
    """
    if distances.dim() != 2 or distances.shape[0] != distances.shape[1]:
        raise ValueError(f"distances must be a square [n, n] matrix, got {tuple(distances.shape)}")
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    n = distances.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=distances.device), []
    if not 0 <= first < n:
        raise ValueError(f"first must be in [0, {n}), got {first}")
    centers = [first]
    nearest = distances[first].clone()  # distance of every point to its nearest center
    while True:
        far = int(torch.argmax(nearest))
        if nearest[far] <= radius:
            break
        centers.append(far)
        nearest = torch.minimum(nearest, distances[far])
    labels = torch.argmin(distances[:, centers], dim=1)
    return labels, centers
