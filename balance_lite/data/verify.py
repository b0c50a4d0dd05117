r"""Verification of the data files the loaders read: official digests, shapes, label ranges, class counts.

Chapter: *The data sets and their splits*.

Every loader checks the files it reads before using them, so that a damaged, truncated, swapped or
foreign file is one error naming the file, what was expected and what was found
(:class:`DataFileError`), never a silently different data set nor a misleading "files are missing".

Two levels:

- **format checks**, always: an IDX file's magic number and its size against its header, as many
  labels as images, labels below the number of classes, no missing values in a table, every line
  complete;
- **official checks**, unless switched off: the SHA-256 of each file against the official digest
  (:data:`SHA256`, the same values as ``shared/data/SHA256SUMS``; for sets without a published
  digest of the file, the digest of the official archive's member or archive), the official shapes
  and the official class counts (:data:`IDX_EXPECTED`, :data:`TABLE_EXPECTED`).

Switch the official checks off for your own copies (a subset, another version) with
``data.load(..., verify=False)`` or the environment variable ``BALANCE_LITE_VERIFY=0``. Digests are
computed once per file and remembered, keyed by the file's path, size and modification time, in
``verified.json`` of the user cache folder, so loading stays as fast as before.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np

__all__ = [
    "DataFileError",
    "IDX_EXPECTED",
    "SHA256",
    "TABLE_EXPECTED",
    "check_idx_set",
    "check_table",
    "file_sha256",
    "verification",
    "verify_enabled",
]


class DataFileError(ValueError):
    """A data file is not what the loader expects (the message names the file, the expected and the found)."""


#: Official SHA-256 of the files, by their path under the data root (``shared/data/SHA256SUMS``;
#: MNIST and Fashion-MNIST: the uncompressed official IDX files; Dry Bean: the ARFF member of the
#: official UCI archive) and of the HAR archive (``uci/har/<archive>``).
SHA256 = {
    "MNIST/raw/train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "MNIST/raw/train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "MNIST/raw/t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "MNIST/raw/t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "FashionMNIST/raw/train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "FashionMNIST/raw/train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "FashionMNIST/raw/t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "FashionMNIST/raw/t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    "uci/dry_bean/DryBeanDataset/Dry_Bean_Dataset.arff": "b2a4a76a2aedfb8ed415adfc1bfc70b5f202cb00cb72e500766e364c14834014",
    "uci/har/human+activity+recognition+using+smartphones.zip":
        "c00b803081a5c797cd5e4b83700a9810b38d53d9d84e01917e090e1fdbc81031",
}

_MNIST_TRAIN = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
_MNIST_TEST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

#: The official IDX sets: ``{folder: (num_classes, {part: (examples, class counts or None)})}``, parts
#: ``train`` and ``test`` (MNIST counts from its README; Fashion-MNIST 6,000 / 1,000 per class;
#: EMNIST sizes from Cohen et al. 2017, Table II: Balanced 2,400 / 400 per class).
IDX_EXPECTED = {
    "MNIST": (10, {"train": (60_000, _MNIST_TRAIN), "test": (10_000, _MNIST_TEST)}),
    "FashionMNIST": (10, {"train": (60_000, [6000] * 10), "test": (10_000, [1000] * 10)}),
    "EMNIST-balanced": (47, {"train": (112_800, [2400] * 47), "test": (18_800, [400] * 47)}),
    "EMNIST-bymerge": (47, {"train": (697_932, None), "test": (116_323, None)}),
    "EMNIST-byclass": (62, {"train": (697_932, None), "test": (116_323, None)}),
}

#: The official tables: rows, features and classes (class counts where published).
TABLE_EXPECTED = {
    "dry-bean": {"rows": 13_611, "features": 16, "classes": 7,
                 "counts": {"SEKER": 2027, "BARBUNYA": 1322, "BOMBAY": 522, "CALI": 1630, "HOROZ": 1928,
                            "SIRA": 2636, "DERMASON": 3546}},
    "har-train": {"rows": 7352, "features": 561, "classes": 6, "counts": None},
    "har-test": {"rows": 2947, "features": 561, "classes": 6, "counts": None},
    "drift": {"rows": 13_910, "features": 128, "classes": 6, "counts": None},
}

_VERIFY: contextvars.ContextVar[bool | None] = contextvars.ContextVar("balance_lite_verify", default=None)


@contextlib.contextmanager
def verification(verify: bool | None):
    """Within the block, the official checks are on (True), off (False) or as the environment says (None)."""
    if verify is not None and not isinstance(verify, bool):
        raise TypeError(f"verify must be True, False or None, got {verify!r}")
    token = _VERIFY.set(verify)
    try:
        yield
    finally:
        _VERIFY.reset(token)


def verify_enabled() -> bool:
    """Whether the official checks run: the ``verify`` of the current :func:`verification` block,
    else False when ``$BALANCE_LITE_VERIFY`` is ``0``, ``false``, ``no`` or ``off``, else True."""
    chosen = _VERIFY.get()
    if chosen is not None:
        return chosen
    return os.environ.get("BALANCE_LITE_VERIFY", "1").strip().lower() not in ("0", "false", "no", "off")


# --- digests, computed once per (path, size, mtime) --------------------------------------------

_MEMORY: dict[str, tuple[int, int, str]] = {}


def _cache_file() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("balance_lite")) / "verified.json"


def _load_cache() -> dict:
    try:
        return json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return {}


def _save_cache(entries: dict) -> None:
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entries))
        os.replace(tmp, path)
    except OSError:  # a read-only home: the digest is recomputed next time, nothing else changes
        pass


def file_sha256(path: str | os.PathLike, *, cache: bool = True) -> str:
    """SHA-256 of a file, remembered per (absolute path, size, modification time) across processes."""
    path = Path(path).resolve()
    st = path.stat()
    key, stamp = str(path), (st.st_size, st.st_mtime_ns)
    if cache:
        hit = _MEMORY.get(key)
        if hit is None:
            entry = _load_cache().get(key)
            hit = tuple(entry) if isinstance(entry, list) and len(entry) == 3 else None
        if hit is not None and tuple(hit[:2]) == stamp:
            _MEMORY[key] = hit
            return hit[2]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    value = digest.hexdigest()
    if cache:
        _MEMORY[key] = (*stamp, value)
        entries = _load_cache()
        entries[key] = [*stamp, value]
        _save_cache(entries)
    return value


def check_digest(path: Path, relative: str, what: str) -> None:
    """Compare a file's SHA-256 with :data:`SHA256` ``[relative]`` (nothing to do for other files)."""
    want = SHA256.get(relative)
    if want is None:
        return
    got = file_sha256(path)
    if got != want:
        raise DataFileError(
            f"{path}: SHA-256 {got[:16]}..., expected the official {what} file's {want[:16]}...: it is another "
            "file or a damaged copy (replace it with the official file, or load with verify=False / "
            "BALANCE_LITE_VERIFY=0 to use your own copy)")


# --- IDX ---------------------------------------------------------------------------------------

def read_idx_header(path: Path) -> tuple[int, ...]:
    """The shape an unsigned-byte IDX file declares, after checking its magic number and its size.

    Raises:
        DataFileError: a bad magic number, a type other than unsigned bytes, or a size that does not
            match the header (a truncated or padded file).
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[3] not in (1, 2, 3, 4):
            raise DataFileError(f"{path}: not an IDX file: magic number {head.hex() or '(empty)'}, expected "
                                "00 00 08 then the number of dimensions (1 for labels, 3 for images)")
        if head[2] != 0x08:
            raise DataFileError(f"{path}: IDX data type 0x{head[2]:02x}, expected 0x08 (unsigned bytes)")
        dims = f.read(4 * head[3])
    if len(dims) < 4 * head[3]:
        raise DataFileError(f"{path}: truncated IDX header ({size} bytes)")
    shape = struct.unpack(">" + "I" * head[3], dims)
    want = 4 + 4 * head[3] + int(np.prod(shape, dtype=np.int64))
    if size != want:
        raise DataFileError(f"{path}: {size} bytes, expected {want} for the shape {list(shape)} its header declares "
                            f"({'truncated' if size < want else 'extra bytes at the end'})")
    return shape


def _idx_labels(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    return np.fromfile(path, dtype=np.uint8, offset=8)[: shape[0]]


def check_idx_set(folder: Path, files: dict[str, tuple[str, str]], expected_key: str, num_classes: int,
                  *, root: Path | None = None) -> None:
    """Check the four IDX files of an image set before torchvision reads them.

    Args:
        folder: ``<root>/<ClassName>/raw``.
        files: ``{part: (images file, labels file)}`` for parts ``train`` and ``test``.
        expected_key: the key of :data:`IDX_EXPECTED`.
        num_classes: labels must be below this.
        root: the data root (digests are looked up by the path under it).

    Raises:
        DataFileError: the first problem found, naming the file.
    """
    official = verify_enabled()
    _, expect = IDX_EXPECTED[expected_key]
    for part, (images_name, labels_name) in files.items():
        images, labels = folder / images_name, folder / labels_name
        ishape, lshape = read_idx_header(images), read_idx_header(labels)
        if len(ishape) != 3 or ishape[1:] != (28, 28):
            raise DataFileError(f"{images}: images of shape {list(ishape)}, expected [n, 28, 28]")
        if len(lshape) != 1:
            raise DataFileError(f"{labels}: labels of shape {list(lshape)}, expected [n]")
        if ishape[0] != lshape[0]:
            raise DataFileError(f"{labels}: {lshape[0]} labels for the {ishape[0]} images of {images_name}, "
                                "expected one label per image")
        y = _idx_labels(labels, lshape)
        if len(y) and int(y.max()) >= num_classes:
            bad = int(np.flatnonzero(y >= num_classes)[0])
            raise DataFileError(f"{labels}: label {int(y[bad])} at position {bad}, expected labels 0..{num_classes - 1}")
        if not official:
            continue
        n, counts = expect[part]
        role = "training" if part == "train" else "test"
        if ishape[0] != n:
            other = expect["test" if part == "train" else "train"][0]
            swapped = " (are the train and test files swapped?)" if ishape[0] == other else ""
            raise DataFileError(f"{images}: {ishape[0]} images, expected the official {role} set's {n}{swapped}")
        found = np.bincount(y, minlength=num_classes).tolist()
        if counts is not None and found != counts:
            raise DataFileError(f"{labels}: class counts {found}, expected the official {role} set's {counts} "
                                f"(another data set's file, or a damaged copy?)")
        if root is not None:
            for path in (images, labels):
                try:
                    relative = path.relative_to(root).as_posix()
                except ValueError:
                    continue
                check_digest(path, relative, expected_key)


# --- tables ------------------------------------------------------------------------------------

def check_table(where: str, x: np.ndarray, y: np.ndarray, key: str, *, class_names=None) -> None:
    """Check a parsed table: no missing values, labels in range; officially, its size and class counts.

    Args:
        where: the file (and member) it came from, for messages.
        x: ``[n, F]`` features; y: ``[n]`` labels from 0.
        key: the key of :data:`TABLE_EXPECTED`.
        class_names: names of the classes, in label order (for published counts by name).

    Raises:
        DataFileError: the first problem found.
    """
    spec = TABLE_EXPECTED[key]
    if x.ndim != 2 or len(x) != len(y):
        raise DataFileError(f"{where}: {len(y)} labels for features of shape {list(x.shape)}, expected [n, F] and n labels")
    missing = ~np.isfinite(x)
    if missing.any():
        row, col = (int(v) for v in np.argwhere(missing)[0])
        raise DataFileError(f"{where}: a missing or non-finite value ({x[row, col]}) in data row {row + 1}, "
                            f"feature {col + 1}; expected numbers everywhere")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= spec["classes"]):
        raise DataFileError(f"{where}: labels {int(y.min())}..{int(y.max())} (from 0), expected 0..{spec['classes'] - 1}")
    if not verify_enabled():
        return
    if x.shape != (spec["rows"], spec["features"]):
        raise DataFileError(f"{where}: {x.shape[0]} rows of {x.shape[1]} features, expected the official "
                            f"{spec['rows']} rows of {spec['features']} (a truncated or other file?)")
    found = np.bincount(y, minlength=spec["classes"])
    if (found == 0).any():
        raise DataFileError(f"{where}: {int((found > 0).sum())} classes present, expected all {spec['classes']}")
    if spec["counts"] is not None and class_names is not None:
        got = {name: int(found[i]) for i, name in enumerate(class_names)}
        if got != spec["counts"]:
            raise DataFileError(f"{where}: class counts {got}, expected the official {spec['counts']}")


def check_member_digest(data: bytes, where: str, relative: str, what: str) -> None:
    """Compare the SHA-256 of bytes read from a file or an archive member with :data:`SHA256` ``[relative]``."""
    want = SHA256.get(relative)
    if want is None or not verify_enabled():
        return
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise DataFileError(
            f"{where}: SHA-256 {got[:16]}..., expected the official {what} file's {want[:16]}...: it is another file "
            "or a damaged copy (replace it, or load with verify=False / BALANCE_LITE_VERIFY=0 to use your own copy)")
