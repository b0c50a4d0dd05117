"""The split structure every dataset loader returns (Sec. 4.1 and App. B.1 of the paper).

Chapter: *The data sets and their splits*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset


class ArrayDataset(Dataset):
    """A dataset held as two tensors: inputs ``x`` ``[n, ...]`` float32, labels ``y`` ``[n]`` int64.

    Training loops may read ``x`` and ``y`` directly instead of indexing item by item.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y must have the same length, got {x.shape[0]} and {y.shape[0]}")
        self.x = x.float()
        self.y = y.long()

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i):
        return self.x[i], self.y[i]


@dataclass(frozen=True)
class Splits:
    """The five parts of an active-learning experiment.

    Attributes:
        name: the dataset's registry name (see :func:`balance_lite.data.available`).
        pool: the unlabeled pool that acquisition functions choose from.
        holdout: the held-out unlabeled set D̄pool, used only for Hamming distances between
            hypotheses: never trained on, never acquired.
        val: the validation set (early stopping, and the error that anneals tau).
        test: the test set the learning curves report.
        initial: positions in ``pool`` of the initial labeled set (2 per class, or empty).
        num_classes: the number of classes C.
        description: where the data came from and how it was split.
        origin: for a repeated pool (Repeated-MNIST, repeated digits), ``[len(pool)]`` int64: the
            position in the base pool of the image each pool point is a noisy copy of (see
            :func:`~balance_lite.data.repeat_pool`); None where every pool point is its own image.
            ``pool_origin()`` gives it for any pool.
    """

    name: str
    pool: ArrayDataset
    holdout: ArrayDataset
    val: ArrayDataset
    test: ArrayDataset
    initial: list[int]
    num_classes: int
    description: str
    origin: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.origin is not None:
            origin = np.asarray(self.origin)
            if origin.shape != (len(self.pool),) or not np.issubdtype(origin.dtype, np.integer):
                raise ValueError(f"origin must be a 1-d integer array with one entry per pool point, shape "
                                 f"({len(self.pool)},), got shape {origin.shape} and dtype {origin.dtype}")
            object.__setattr__(self, "origin", origin.astype(np.int64, copy=False))

    def pool_origin(self) -> np.ndarray:
        """``[len(pool)]`` int64: :attr:`origin`, or every position its own origin (``arange``) if None."""
        return self.origin if self.origin is not None else np.arange(len(self.pool), dtype=np.int64)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input, e.g. ``(64,)`` for digits or ``(1, 28, 28)`` for MNIST."""
        return tuple(self.pool.x.shape[1:])

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(getattr(self, k))}" for k in ("pool", "holdout", "val", "test"))
        return (f"Splits({self.name!r}: {sizes}, initial={len(self.initial)}, "
                f"num_classes={self.num_classes}, input_shape={self.input_shape})")


def balanced_initial(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> list[int]:
    """Positions of ``per_class`` randomly chosen examples of every class present in ``labels``."""
    chosen = []
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        if len(where) < per_class:
            raise ValueError(f"class {c} has {len(where)} pool examples, fewer than per_class={per_class}")
        chosen.extend(rng.choice(where, size=per_class, replace=False).tolist())
    return sorted(int(i) for i in chosen)
