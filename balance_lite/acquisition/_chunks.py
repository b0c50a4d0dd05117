r"""Work on a pool in chunks of points, so temporaries stay small at any N: the one chunking rule.

Chapter: *Exact Batch-BALanCe at any batch size (beyond the paper)* (memory at the paper's scale).

A chunk holds as many pool points as fit in :data:`CHUNK_ELEMENTS` numbers of the largest
temporary one point creates. :func:`chunks` gives the ``(start, end)`` ranges; :func:`map_points`
applies a per-point function over them and concatenates the results.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch
from torch import Tensor

__all__ = ["CHUNK_ELEMENTS", "chunks", "map_points"]

#: Elements of the largest temporary one chunk may create (about 32 MiB in float64).
CHUNK_ELEMENTS = 2**22


def chunks(N: int, per_point: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` ranges covering ``0..N-1``, each of at most ``CHUNK_ELEMENTS // per_point`` points.

    Args:
        N: the number of pool points.
        per_point: elements of the largest temporary one point creates.

    Example:
        >>> list(chunks(5, CHUNK_ELEMENTS // 2))
        [(0, 2), (2, 4), (4, 5)]
    """
    step = max(1, CHUNK_ELEMENTS // max(1, per_point))
    for start in range(0, N, step):
        yield start, min(N, start + step)


def map_points(fn: Callable[..., Tensor], *tensors: Tensor) -> Tensor:
    """``fn(*chunks)`` over chunks of the leading (pool) axis, concatenated.

    All tensors share the leading size N; ``fn`` maps chunks of n points to an ``[n, ...]`` result.

    Example:
        >>> map_points(lambda x: x.sum(-1), torch.ones(3, 2))
        tensor([2., 2., 2.])
    """
    N = tensors[0].shape[0]
    per_point = sum(t[0].numel() for t in tensors) if N else 1
    ranges = list(chunks(N, per_point))
    if len(ranges) <= 1:
        return fn(*tensors)
    return torch.cat([fn(*(t[s:e] for t in tensors)) for s, e in ranges])
