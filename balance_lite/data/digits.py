"""scikit-learn's bundled 8x8 digits: the embedded default dataset (no download), and its Repeated version.

Chapter: *The data sets and their splits*.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from sklearn.datasets import load_digits

from .repeats import repeat_pool
from .splits import ArrayDataset, Splits, balanced_initial

#: Held-out sizes for the 1,797 digits: the rest (997) is the pool.
DIGITS_SIZES = {"holdout": 200, "val": 200, "test": 400}

#: Repeated-digits: copies of the pool and the std of the Gaussian noise added to each copy
#: (in pixel units: the digits' pixels lie in [0, 1]).
DIGITS_REPEATS, DIGITS_REPEAT_NOISE_STD = 3, 0.1


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


def load_repeated_digits_splits(seed: int = 0) -> Splits:
    """Repeated-digits: the digits split of ``seed`` with its pool repeated 3 times, each copy noisy.

    The small-scale analogue of Repeated-MNIST (Kirsch et al., 2019; Sec. 4 of the paper): copy r
    of pool point i sits at position ``r * 997 + i`` and equals it plus its own isotropic
    Gaussian noise (std 0.1 in pixel units). D̄pool, validation, test and the initial labels
    (positions in the first copy) are those of ``load("digits", seed=seed)``; ``origin`` maps
    every pool position to its point in that split's pool. An acquisition
    function that ignores redundancy spends labels on copies of the same image.
    """
    base = load_digits_splits(seed)
    x = base.pool.x
    x_rep, y_rep, origin = repeat_pool(x, base.pool.y, DIGITS_REPEATS, DIGITS_REPEAT_NOISE_STD,
                                       torch.Generator().manual_seed(seed))
    return dataclasses.replace(
        base,
        name="repeated-digits",
        pool=ArrayDataset(x_rep, y_rep),
        origin=origin,
        description=(
            base.description.removesuffix(".")
            + f"; pool repeated {DIGITS_REPEATS} times ({len(y_rep)} points, copy r of point i at r * {len(x)} + i), "
            f"each copy with its own isotropic Gaussian noise (std {DIGITS_REPEAT_NOISE_STD})."
        ),
    )
