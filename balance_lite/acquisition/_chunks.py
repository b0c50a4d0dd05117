"""Apply a per-point function to a pool in chunks, so temporaries stay small at any N."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

#: Elements of one chunk of the input (about 32 MiB in float64).
CHUNK_ELEMENTS = 2**22


def map_points(fn: Callable[..., Tensor], *tensors: Tensor) -> Tensor:
    """``fn(*chunks)`` over chunks of the leading (pool) axis, concatenated.

    All tensors share the leading size N; ``fn`` maps chunks of n points to an ``[n, ...]`` result.
    """
    N = tensors[0].shape[0]
    per_point = max(1, sum(t[0].numel() for t in tensors))
    step = max(1, CHUNK_ELEMENTS // per_point)
    if step >= N:
        return fn(*tensors)
    return torch.cat([fn(*(t[s : s + step] for t in tensors)) for s in range(0, N, step)])
