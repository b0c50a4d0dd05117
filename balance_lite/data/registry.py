"""Dataset names, the data root, and :func:`load`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from .splits import Splits


class DatasetNotAvailableError(FileNotFoundError):
    """A dataset's files are missing and could not be downloaded."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Where datasets live: ``root`` if given, else ``$BALANCE_LITE_DATA``, else a user cache folder."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("BALANCE_LITE_DATA")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("balance_lite")) / "data"


def _digits(root: Path, seed: int, download: bool) -> Splits:
    from .digits import load_digits_splits

    return load_digits_splits(seed)


def _repeated_digits(root: Path, seed: int, download: bool) -> Splits:
    from .digits import load_repeated_digits_splits

    return load_repeated_digits_splits(seed)


def _image(name: str) -> Callable[[Path, int, bool], Splits]:
    def loader(root: Path, seed: int, download: bool) -> Splits:
        from .images import image_splits

        return image_splits(name, root, seed, download=download)

    return loader


def _uci(name: str) -> Callable[[Path, int, bool], Splits]:
    def loader(root: Path, seed: int, download: bool) -> Splits:
        from .uci import UCI_LOADERS

        return UCI_LOADERS[name](root, seed, download=download)

    return loader


_IMAGE_NAMES = ["mnist", "repeated-mnist", "fashion-mnist", "emnist-balanced", "emnist-bymerge",
                "emnist-byclass", "imbalanced-mnist"]
_LOADERS: dict[str, Callable[[Path, int, bool], Splits]] = {
    "digits": _digits,
    "repeated-digits": _repeated_digits,
    **{name: _image(name) for name in _IMAGE_NAMES},
    **{name: _uci(name) for name in ["har", "drift", "dry-bean"]},
}


def available() -> list[str]:
    """Every dataset name :func:`load` accepts."""
    return list(_LOADERS)


def load(name: str, *, root: str | os.PathLike | None = None, seed: int = 0, download: bool = True,
         verify: bool | None = None) -> Splits:
    """Load dataset ``name`` split as in the paper; the split is a pure function of (name, seed).

    Args:
        name: one of :func:`available`.
        root: folder holding the data (default: see :func:`data_root`); given, it must exist.
        seed: a non-negative integer; seeds the split and the initial labeled set.
        download: fetch missing files when online (set ``BALANCE_LITE_OFFLINE=1`` to never try).
        verify: check the files against the official digests, shapes and class counts (see
            :mod:`balance_lite.data.verify`); False for your own copies. Default: on, unless the
            environment variable ``BALANCE_LITE_VERIFY`` is ``0``. Format checks always run.

    Raises:
        ValueError: ``name`` is not a known dataset, ``seed`` is not a non-negative integer, or
            ``root`` is not a folder.
        DatasetNotAvailableError: the files are missing and cannot be downloaded.
        DataFileError: a file is not the expected one (a ``ValueError`` naming the file).
    """
    import operator

    from .verify import verification

    if name not in _LOADERS:
        raise ValueError(f"name must be one of {available()}, got {name!r}")
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
        return _LOADERS[name](data_root(root), seed, download)
