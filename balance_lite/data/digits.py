"""scikit-learn's bundled 8x8 digits: the embedded default dataset (no download)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits

from .splits import ArrayDataset, Splits, balanced_initial

#: Held-out sizes for the 1,797 digits: the rest (997) is the pool.
DIGITS_SIZES = {"holdout": 200, "val": 200, "test": 400}


def load_digits_splits(seed: int = 0) -> Splits:
    """The 1,797 digits scaled to [0, 1], shuffled by ``seed`` and split into
    test 400 / val 200 / D̄pool 200 / pool 997, with 2 labeled examples per class."""
    bunch = load_digits()
    x = torch.from_numpy((bunch.data / 16.0).astype(np.float32))
    y = torch.from_numpy(bunch.target.astype(np.int64))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    cuts = np.cumsum([DIGITS_SIZES["test"], DIGITS_SIZES["val"], DIGITS_SIZES["holdout"]])
    test, val, holdout, pool = np.split(order, cuts)
    part = lambda idx: ArrayDataset(x[idx], y[idx])  # noqa: E731
    return Splits(
        name="digits",
        pool=part(pool),
        holdout=part(holdout),
        val=part(val),
        test=part(test),
        initial=balanced_initial(y[pool].numpy(), 2, rng),
        num_classes=10,
        description=(
            "scikit-learn's bundled optical digits (UCI, 1,797 8x8 images, 10 classes), pixel values / 16; "
            f"random split by seed {seed}: test 400, val 200, D̄pool 200, pool 997; 2 initial labels per class."
        ),
    )
