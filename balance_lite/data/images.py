"""MNIST, Repeated-MNIST, Fashion-MNIST, EMNIST and imbalanced MNIST through torchvision.

Chapter: *The data sets and their splits*.

Splits follow Sec. 4.1 and App. B.1 of the paper: from the official training set we hold out a
validation set and the unlabeled D̄pool, the rest is the pool; the official test set is the test set.
Inputs are ``[n, 1, 28, 28]`` float32, normalised with the pixel mean and std of the official
training set (computed at load time: 0.1307 and 0.3081 for MNIST).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .download import missing_error, offline, short_timeouts
from .splits import ArrayDataset, Splits, balanced_initial

#: EMNIST splits of the paper and their number of classes.
EMNIST_CLASSES = {"balanced": 47, "bymerge": 47, "byclass": 62}

#: Repeated-MNIST: copies of the pool and the std of the Gaussian noise added after normalising.
REPEATS, REPEAT_NOISE_STD = 3, 0.1

#: Imbalanced MNIST: the fraction of each class's pool examples that is kept (classes 0-4 rare).
IMBALANCED_KEEP = {c: (0.1 if c < 5 else 1.0) for c in range(10)}


def _torchvision_class(cls_name: str):
    from torchvision import datasets

    return getattr(datasets, cls_name)


def _raw_files(cls_name: str, split: str | None) -> list[str]:
    if cls_name == "EMNIST":
        return [f"emnist-{split}-{part}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
                for part in ("train", "test") for kind in ("images", "labels")]
    return [f"{part}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
            for part in ("train", "t10k") for kind in ("images", "labels")]


def read_torchvision(cls_name: str, root: Path, name: str, *, split: str | None = None, download: bool = True):
    """The official train and test parts of a torchvision dataset as ``(x_uint8, y)`` tensor pairs.

    Raises:
        DatasetNotAvailableError: the files are not under ``root/<cls_name>/raw`` and could not be
            downloaded (offline, or ``download=False``).
    """
    cls = _torchvision_class(cls_name)
    kwargs = {"split": split} if split else {}
    parts = {}
    try:
        for train in (True, False):
            parts[train] = cls(str(root), train=train, download=False, **kwargs)
    except RuntimeError as missing:
        folder = root / cls_name / "raw"
        how = (f"run balance_lite.data.load({name!r}) on a machine with internet access (torchvision downloads "
               f"them), or copy the official uncompressed IDX files into {folder}")
        if not download or offline():
            raise missing_error(name, folder, _raw_files(cls_name, split), how) from missing
        try:
            with short_timeouts():
                for train in (True, False):
                    parts[train] = cls(str(root), train=train, download=True, **kwargs)
        except Exception as failure:  # urllib, HTTP and checksum errors all mean the same thing here
            raise missing_error(name, folder, _raw_files(cls_name, split), how, failure) from None
    return [(parts[t].data, parts[t].targets) for t in (True, False)]


def pixel_stats(x_uint8: torch.Tensor) -> tuple[float, float]:
    """Mean and std of the pixels scaled to [0, 1]."""
    x = x_uint8.double() / 255.0
    return float(x.mean()), float(x.std())


def _normalise(x_uint8: torch.Tensor, stats: tuple[float, float]) -> torch.Tensor:
    mean, std = stats
    return ((x_uint8.float() / 255.0 - mean) / std).unsqueeze(1)


def _split_train(y: np.ndarray, sizes: dict[str, int], rng: np.random.Generator, balanced: bool):
    """Positions of val, D̄pool and pool in the training set; class-balanced holds if ``balanced``."""
    if not balanced:
        order = rng.permutation(len(y))
        val, holdout, pool = np.split(order, np.cumsum([sizes["val"], sizes["holdout"]]))
        return val, holdout, pool
    classes = np.unique(y)
    taken = np.zeros(len(y), dtype=bool)
    out = []
    for part in ("val", "holdout"):
        per_class = sizes[part] // len(classes)
        chosen = []
        for c in classes:
            where = np.flatnonzero((y == c) & ~taken)
            if len(where) < per_class:
                raise ValueError(f"class {c} has {len(where)} examples left, fewer than {per_class} for {part}")
            chosen.append(rng.choice(where, per_class, replace=False))
        chosen = np.concatenate(chosen)
        taken[chosen] = True
        rest = sizes[part] - len(chosen)  # when C does not divide the size, fill at random
        if rest:
            extra = rng.choice(np.flatnonzero(~taken), rest, replace=False)
            taken[extra] = True
            chosen = np.concatenate([chosen, extra])
        out.append(np.sort(chosen))
    pool = rng.permutation(np.flatnonzero(~taken))
    return out[0], out[1], pool


def image_splits(name: str, root: Path, seed: int, *, download: bool = True) -> Splits:
    """Load and split one of the image datasets (see :data:`balance_lite.data.available`)."""
    rng = np.random.default_rng(seed)
    if name.startswith("emnist-"):
        split = name.removeprefix("emnist-")
        (x_tr, y_tr), (x_te, y_te) = read_torchvision("EMNIST", root, name, split=split, download=download)
        # EMNIST's IDX images are stored transposed; flip them upright.
        x_tr, x_te = x_tr.transpose(-1, -2), x_te.transpose(-1, -2)
        sizes, balanced, per_class = {"val": 18_800, "holdout": 18_800}, True, 0
        num_classes = EMNIST_CLASSES[split]
        source = f"EMNIST {split} (Cohen et al. 2017), torchvision's reader"
    else:
        cls_name = "FashionMNIST" if name == "fashion-mnist" else "MNIST"
        (x_tr, y_tr), (x_te, y_te) = read_torchvision(cls_name, root, name, download=download)
        sizes, balanced, per_class = {"val": 10_000, "holdout": 10_000}, False, 2
        num_classes = 10
        source = f"{'Fashion-MNIST (Xiao et al. 2017)' if cls_name == 'FashionMNIST' else 'MNIST (LeCun et al. 1998)'}"
    stats = pixel_stats(x_tr)
    # Files smaller than the real ones (the tests' format samples) get a fifth of their rows per split.
    sizes = {part: min(size, len(y_tr) // 5) for part, size in sizes.items()}
    y_np = y_tr.numpy()
    val, holdout, pool = _split_train(y_np, sizes, rng, balanced)
    x = _normalise(x_tr, stats)
    note = ""
    if name == "imbalanced-mnist":
        keep = np.concatenate([
            rng.choice(where, int(round(IMBALANCED_KEEP[c] * len(where))), replace=False)
            for c in range(10) for where in [pool[y_np[pool] == c]]
        ])
        pool = np.sort(keep)
        note = "; pool imbalanced: 10% of the pool examples of classes 0-4 kept, all of classes 5-9"
    pool_x, pool_y = x[pool], y_tr[pool]
    initial = balanced_initial(pool_y.numpy(), per_class, rng) if per_class else []
    if name == "repeated-mnist":
        generator = torch.Generator().manual_seed(seed)
        copies = [pool_x + REPEAT_NOISE_STD * torch.randn(pool_x.shape, generator=generator) for _ in range(REPEATS)]
        pool_x, pool_y = torch.cat(copies), pool_y.repeat(REPEATS)
        note = (f"; pool repeated {REPEATS} times, each copy with its own isotropic Gaussian noise "
                f"(std {REPEAT_NOISE_STD}, added after normalising)")
    return Splits(
        name=name,
        pool=ArrayDataset(pool_x, pool_y),
        holdout=ArrayDataset(x[holdout], y_tr[holdout]),
        val=ArrayDataset(x[val], y_tr[val]),
        test=ArrayDataset(_normalise(x_te, stats), y_te),
        initial=initial,
        num_classes=num_classes,
        description=(
            f"{source}; from the official training set, seed {seed}: validation {len(val)}"
            f"{' (class-balanced)' if balanced else ''}, D̄pool {len(holdout)}, pool {len(pool_y)}; "
            f"official test set {len(y_te)}; {len(initial)} initial labels{note}."
        ),
    )
