"""Datasets of the paper, split for active learning (Sec. 4.1, App. B.1).

Chapter: *The active learning loop in 30 lines*.

>>> from balance_lite import data
>>> splits = data.load("digits", seed=0)
>>> len(splits.pool), len(splits.initial), splits.num_classes
(997, 20, 10)
"""

from __future__ import annotations

from .registry import DatasetNotAvailableError, available, data_root, load
from .splits import ArrayDataset, Splits
from .verify import DataFileError

__all__ = ["ArrayDataset", "DataFileError", "DatasetNotAvailableError", "Splits", "available", "data_root", "load"]
