"""Datasets of the paper, split for active learning (Sec. 4.1, App. B.1).

Chapter: *The data sets and their splits*.

>>> from balance_lite import data
>>> splits = data.load("digits", seed=0)
>>> len(splits.pool), len(splits.initial), splits.num_classes
(997, 20, 10)
"""

from __future__ import annotations

from .download import DatasetNotAvailableError
from .registry import DATASETS, DatasetSpec, available, data_root, dataset_spec, load
from .repeats import BatchRedundancy, batch_redundancy, repeat_origin, repeat_pool
from .splits import ArrayDataset, Splits
from .verify import DataFileError

__all__ = ["ArrayDataset", "BatchRedundancy", "DATASETS", "DataFileError", "DatasetNotAvailableError", "DatasetSpec",
           "Splits", "available", "batch_redundancy", "data_root", "dataset_spec", "load", "repeat_origin",
           "repeat_pool"]
