"""The paper's tabular sets from their original UCI archives: HAR, Gas Sensor Array Drift, Dry Bean.

Chapter: *The data sets and their splits*.

Each loader looks for the official archive (or its unpacked files) under ``<root>/uci/<folder>/``,
downloads the archive when it is missing and the machine is online, and parses the original
format: whitespace-separated text (HAR), the ``label;concentration index:value ...`` lines of
``batch1.dat`` ... ``batch10.dat`` (Drift), ARFF (Dry Bean). Features are z-scored with the mean
and std of the non-test part. Splits (App. B.1, Table 1): 2,000 validation, 2,000 test where the set
has no official test split (HAR keeps its official 2,947-reading test split), the rest is the pool;
"The AL pool is also used as D̄pool", so ``holdout`` is the pool itself. Files smaller than the real
ones (the tests' format samples) get a fifth of their rows per split.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .download import fetch_url, missing_error, offline
from .splits import ArrayDataset, Splits, balanced_initial


#: Validation size, and test size where the set has no official test split (App. B.1, Table 1: "2K").
VAL_SIZE = TEST_SIZE = 2000
#: Initial labels per class (the released code's 2 per class; App. B.1 does not say).
INITIAL_PER_CLASS = 2


@dataclass(frozen=True)
class UciSource:
    """Where a UCI data set comes from and which files of its archive we read."""

    folder: str
    url: str
    archive: str
    sha256: str | None
    members: tuple[str, ...]
    citation: str


HAR = UciSource(
    folder="har",
    url="https://archive.ics.uci.edu/static/public/240/human+activity+recognition+using+smartphones.zip",
    archive="human+activity+recognition+using+smartphones.zip",
    sha256="c00b803081a5c797cd5e4b83700a9810b38d53d9d84e01917e090e1fdbc81031",
    members=("UCI HAR Dataset/train/X_train.txt", "UCI HAR Dataset/train/y_train.txt",
             "UCI HAR Dataset/test/X_test.txt", "UCI HAR Dataset/test/y_test.txt"),
    citation="UCI Human Activity Recognition Using Smartphones (Anguita et al. 2013)",
)
DRIFT = UciSource(
    folder="gas_drift",
    url="https://archive.ics.uci.edu/static/public/224/gas+sensor+array+drift+dataset.zip",
    archive="gas+sensor+array+drift+dataset.zip",
    sha256=None,  # no published digest was reachable when this was written; see the data chapter
    members=tuple(f"Dataset/batch{i}.dat" for i in range(1, 11)),
    citation="UCI Gas Sensor Array Drift (Vergara et al. 2012)",
)
DRY_BEAN = UciSource(
    folder="dry_bean",
    url="https://archive.ics.uci.edu/static/public/602/dry+bean+dataset.zip",
    archive="dry+bean+dataset.zip",
    sha256=None,
    members=("DryBeanDataset/Dry_Bean_Dataset.arff",),
    citation="UCI Dry Bean (Koklu and Ozkan 2020)",
)

#: Inner archive of the HAR download: the outer zip holds ``UCI HAR Dataset.zip``.
HAR_INNER = "UCI HAR Dataset.zip"


def _open_members(source: UciSource, root: Path, name: str, download: bool) -> dict[str, bytes]:
    """The bytes of ``source.members``, from unpacked files, the archive, or a fresh download."""
    folder = root / "uci" / source.folder
    unpacked = [folder / m for m in source.members]
    if all(p.is_file() for p in unpacked):
        return {m: p.read_bytes() for m, p in zip(source.members, unpacked)}
    archive = folder / source.archive
    how = (f"download {source.url} on a machine with internet access and put the zip file in {folder} "
           "(as it is, or unpacked)")
    if not archive.is_file():
        if not download or offline():
            raise missing_error(name, folder, [source.archive] + list(source.members), how)
        try:
            fetch_url(source.url, archive, source.sha256)
        except Exception as failure:
            raise missing_error(name, folder, [source.archive] + list(source.members), how, failure) from None
    with zipfile.ZipFile(archive) as outer:
        names = set(outer.namelist())
        if HAR_INNER in names:
            with zipfile.ZipFile(io.BytesIO(outer.read(HAR_INNER))) as inner:
                return {m: inner.read(m) for m in source.members}
        return {m: outer.read(m) for m in source.members}


def parse_whitespace_table(text: bytes) -> np.ndarray:
    """Rows of whitespace-separated numbers (HAR's ``X_*.txt`` and ``y_*.txt``)."""
    return np.loadtxt(io.StringIO(text.decode()), dtype=np.float64, ndmin=2)


def parse_drift_batch(text: bytes, num_features: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """One ``batchN.dat`` file: lines ``label;concentration 1:v1 2:v2 ... 128:v128``.

    Returns:
        ``(features [n, 128], labels [n])`` with labels shifted to start at 0.
    """
    rows, labels = [], []
    for line in text.decode().splitlines():
        if not line.strip():
            continue
        head, *pairs = line.split()
        label = int(head.split(";")[0])
        row = np.zeros(num_features)
        for pair in pairs:
            index, value = pair.split(":")
            row[int(index) - 1] = float(value)
        rows.append(row)
        labels.append(label - 1)
    return np.array(rows), np.array(labels, dtype=np.int64)


def parse_arff(text: bytes) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """A numeric ARFF file with a nominal class as the last attribute (Dry Bean's format).

    Returns:
        ``(feature_names, features [n, F], class_names, labels [n])``.
    """
    from scipy.io import arff

    data, meta = arff.loadarff(io.StringIO(text.decode()))
    names = meta.names()
    class_attr = names[-1]
    class_names = list(meta[class_attr][1])
    features = np.stack([data[n].astype(np.float64) for n in names[:-1]], axis=1)
    values = [v.decode() if isinstance(v, bytes) else v for v in data[class_attr]]
    labels = np.array([class_names.index(v) for v in values], dtype=np.int64)
    return names[:-1], features, class_names, labels


def _tabular_splits(name, source, x, y, x_test, y_test, seed, note):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_total = len(y) + (0 if x_test is None else len(y_test))
    # a fifth of the data for files smaller than the real ones
    test_size, val_size = min(TEST_SIZE, n_total // 5), min(VAL_SIZE, n_total // 5)
    if x_test is None:
        test, order = order[:test_size], order[test_size:]
        x_test, y_test = x[test], y[test]
    val, pool = order[:val_size], order[val_size:]
    train_part = np.concatenate([val, pool])
    mean, std = x[train_part].mean(0), x[train_part].std(0)
    std[std == 0] = 1.0
    z = lambda a: torch.from_numpy(((a - mean) / std).astype(np.float32))  # noqa: E731
    part = lambda idx: ArrayDataset(z(x[idx]), torch.from_numpy(y[idx]))  # noqa: E731
    num_classes = int(max(y.max(), y_test.max())) + 1
    pool_part = part(pool)
    return Splits(
        name=name,
        pool=pool_part,
        holdout=pool_part,  # App. B.1: "The AL pool is also used as D̄pool"
        val=part(val),
        test=ArrayDataset(z(x_test), torch.from_numpy(y_test)),
        initial=balanced_initial(y[pool], INITIAL_PER_CLASS, rng),
        num_classes=num_classes,
        description=(f"{source.citation}, parsed from {source.archive}{note}; seed {seed}: validation {len(val)}, "
                     f"pool {len(pool)} (also D̄pool, App. B.1), test {len(y_test)}; features z-scored on the "
                     "non-test part; 2 initial labels per class."),
    )


def load_har(root: Path, seed: int, *, download: bool = True) -> Splits:
    """UCI HAR: 561 features, 6 activities; official train (7,352) and test (2,947) splits."""
    files = _open_members(HAR, root, "har", download)
    x, y, x_te, y_te = (parse_whitespace_table(files[m]) for m in HAR.members)
    to_labels = lambda a: a[:, 0].astype(np.int64) - 1  # noqa: E731
    return _tabular_splits("har", HAR, x, to_labels(y), x_te, to_labels(y_te), seed,
                           " (official test split)")


def load_drift(root: Path, seed: int, *, download: bool = True) -> Splits:
    """UCI Gas Sensor Array Drift: 13,910 readings of 128 features, 6 gases, all 10 batches pooled."""
    files = _open_members(DRIFT, root, "drift", download)
    parts = [parse_drift_batch(files[m]) for m in DRIFT.members]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    return _tabular_splits("drift", DRIFT, x, y, None, None, seed, " (batches 1-10 pooled)")


def load_dry_bean(root: Path, seed: int, *, download: bool = True) -> Splits:
    """UCI Dry Bean: 13,611 beans, 16 shape features, 7 varieties."""
    files = _open_members(DRY_BEAN, root, "dry-bean", download)
    _, x, _, y = parse_arff(files[DRY_BEAN.members[0]])
    return _tabular_splits("dry-bean", DRY_BEAN, x, y, None, None, seed, "")

