"""Every dataset declared once: its loader, its network, its training settings and their source.

Chapter: *The data sets and their splits*.

A :class:`DatasetSpec` is the one place that knows a dataset by name. :func:`load` reads its
loader; :func:`balance_lite.models.build_model` builds the network it names (an architecture of
:data:`balance_lite.models.NETWORKS`); :func:`balance_lite.train.train_config_for` starts from its
training settings. Adding a dataset means writing its loader and adding one entry to
:data:`DATASETS`.

Example:
    >>> spec = dataset_spec("dry-bean")
    >>> spec.network, spec.training["lr"], spec.kind
    ('dry_bean_mlp', 0.01, 'tabular')
"""

from __future__ import annotations

import functools
import operator
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import platformdirs

from .digits import load_digits_splits, load_repeated_digits_splits
from .download import DatasetNotAvailableError
from .images import TABLE2_REPEATS, image_splits
from .splits import Splits
from .uci import load_drift, load_dry_bean, load_har
from .verify import verification

__all__ = ["DATASETS", "DatasetNotAvailableError", "DatasetSpec", "available", "data_root", "dataset_spec", "load"]

#: What a loader takes: the data root, the seed of the split, whether it may download.
Loader = Callable[[Path, int, bool], Splits]


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: how to load it, which network learns it, how that network is trained.

    Attributes:
        name: the name :func:`load` takes.
        kind: ``"images"``, ``"tabular"`` or ``"digits"`` (the embedded 8x8 digits).
        load: ``(root, seed, download) -> Splits``.
        network: the architecture's name in :data:`balance_lite.models.NETWORKS`.
        training: :class:`~balance_lite.train.TrainConfig` fields that differ from its defaults.
        source: where the network and training settings come from.
    """

    name: str
    kind: str
    load: Loader = field(repr=False)
    network: str
    training: dict = field(default_factory=dict)
    source: str = ""


def _no_root(loader: Callable[[int], Splits]) -> Loader:
    @functools.wraps(loader)
    def load(root: Path, seed: int, download: bool) -> Splits:
        return loader(seed)

    return load


def _with_download(loader: Callable[..., Splits]) -> Loader:
    @functools.wraps(loader)
    def load(root: Path, seed: int, download: bool) -> Splits:
        return loader(root, seed, download=download)

    return load


def _images(name: str, network: str, source: str) -> DatasetSpec:
    return DatasetSpec(name, "images", functools.partial(_image, name), network, {}, source)


def _image(name: str, root: Path, seed: int, download: bool) -> Splits:
    return image_splits(name, root, seed, download=download)


_IMAGES = "App. B.1: Adam lr 1e-3, epochs of 4,096 examples."
_TABULAR = "App. B.1: the MLP of Table 1, Adam lr 1e-2."
_DIGITS = ("Not in the paper: the MLP 64-128-C, lr 1e-2 and 1,024-example epochs are our choice (the set is small "
           "and converges in a few epochs).")

#: Every dataset by name.
DATASETS: dict[str, DatasetSpec] = {d.name: d for d in [
    DatasetSpec("digits", "digits", _no_root(load_digits_splits), "digits_mlp",
                {"lr": 1e-2, "epoch_size": 1024}, _DIGITS),
    DatasetSpec("repeated-digits", "digits", _no_root(load_repeated_digits_splits), "digits_mlp",
                {"lr": 1e-2, "epoch_size": 1024}, "Trains like the digits. " + _DIGITS),
    _images("mnist", "mnist_cnn", _IMAGES),
    _images("repeated-mnist", "mnist_cnn", _IMAGES),
    *[_images(f"repeated-mnist-{r}", "mnist_cnn", _IMAGES) for r in TABLE2_REPEATS],
    _images("fashion-mnist", "emnist_cnn", "Sec. 4.1: the EMNIST network with 10 outputs. " + _IMAGES),
    _images("emnist-balanced", "emnist_cnn", _IMAGES),
    _images("emnist-bymerge", "emnist_cnn", _IMAGES),
    _images("emnist-byclass", "emnist_cnn", _IMAGES),
    _images("imbalanced-mnist", "mnist_cnn", _IMAGES),
    DatasetSpec("har", "tabular", _with_download(load_har), "har_mlp", {"lr": 1e-2}, _TABULAR),
    DatasetSpec("drift", "tabular", _with_download(load_drift), "drift_mlp", {"lr": 1e-2}, _TABULAR),
    DatasetSpec("dry-bean", "tabular", _with_download(load_dry_bean), "dry_bean_mlp",
                {"lr": 1e-2, "epoch_size": 8192}, _TABULAR + " Epochs of 8,192 examples."),
]}


def available() -> list[str]:
    """Every dataset name :func:`load` accepts."""
    return list(DATASETS)


def dataset_spec(name: str) -> DatasetSpec:
    """The declaration of dataset ``name``.

    Raises:
        ValueError: ``name`` is not a known dataset.
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {available()}, got {name!r}")
    return DATASETS[name]


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Where datasets live: ``root`` if given, else ``$BALANCE_LITE_DATA``, else a user cache folder."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("BALANCE_LITE_DATA")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("balance_lite")) / "data"


def load(name: str, *, root: str | os.PathLike | None = None, seed: int = 0, download: bool = True,
         verify: bool | None = None) -> Splits:
    """Load dataset ``name`` split as in the paper; the split is a pure function of (name, seed).

    Args:
        name: one of :func:`available`.
        root: folder holding the data (default: see :func:`data_root`); given, it must exist.
        seed: a non-negative integer; seeds the split and the initial labeled set.
        download: fetch missing files when online (set ``BALANCE_LITE_OFFLINE=1`` to never try).
        verify: check the files against the official digests, shapes and class counts (see
            ``balance_lite.data.verify``); False for your own copies. Default: on, unless the
            environment variable ``BALANCE_LITE_VERIFY`` is ``0``. Format checks always run.

    Raises:
        ValueError: ``name`` is not a known dataset, ``seed`` is not a non-negative integer, or
            ``root`` is not a folder.
        DatasetNotAvailableError: the files are missing and cannot be downloaded.
        DataFileError: a file is not the expected one (a ``ValueError`` naming the file).
    """
    spec = dataset_spec(name)
    try:
        index = None if isinstance(seed, bool) else operator.index(seed)
    except TypeError:
        index = None
    if index is None or index < 0:
        raise ValueError(f"seed must be a non-negative integer (the split is a function of it), got {seed!r}")
    seed = index
    if root is not None and not Path(root).expanduser().is_dir():
        raise ValueError(f"root {str(root)!r} is not a folder; give the folder that holds the data, or leave it out "
                         "to use $BALANCE_LITE_DATA")
    with verification(verify):
        return spec.load(data_root(root), seed, download)
