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
from .verify import DataFileError, check_digest, check_member_digest, check_table, verify_enabled


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


class _Members(dict):
    """``{member: bytes}``, with ``where[member]``: the file (or ``archive:member``) it was read from."""

    where: dict[str, str]


def _open_members(source: UciSource, root: Path, name: str, download: bool) -> _Members:
    """The bytes of ``source.members``, from unpacked files, the archive, or a fresh download.

    A known digest of the archive (:data:`balance_lite.data.verify.SHA256`) is checked here; the
    members' digests by :func:`_check_members` once they have been parsed (so that a damaged file
    gets the more telling error of the parser first).
    """
    folder = root / "uci" / source.folder
    unpacked = [folder / m for m in source.members]
    out = _Members()
    if all(p.is_file() for p in unpacked):
        for m, p in zip(source.members, unpacked):
            out[m] = p.read_bytes()
        out.where = {m: str(p) for m, p in zip(source.members, unpacked)}
        return out
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
    if verify_enabled():
        check_digest(archive, f"uci/{source.folder}/{source.archive}", source.citation)
    try:
        with zipfile.ZipFile(archive) as outer:
            names = set(outer.namelist())
            if HAR_INNER in names:
                with zipfile.ZipFile(io.BytesIO(outer.read(HAR_INNER))) as inner:
                    out.update({m: inner.read(m) for m in source.members})
                    prefix = f"{archive}:{HAR_INNER}:"
            else:
                out.update({m: outer.read(m) for m in source.members})
                prefix = f"{archive}:"
    except (zipfile.BadZipFile, KeyError, EOFError, OSError) as err:
        raise DataFileError(f"{archive}: not the official archive ({type(err).__name__}: {err}); expected a zip "
                            f"holding {', '.join(source.members)}") from None
    out.where = {m: prefix + m for m in source.members}
    return out


def _check_members(source: UciSource, files: _Members) -> None:
    """The official digests of the members that have one (unless verification is off)."""
    for m in source.members:
        check_member_digest(files[m], files.where[m], f"uci/{source.folder}/{m}", source.citation)


def _text(data: bytes, where: str) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as err:
        raise DataFileError(f"{where}: not a text file ({err.reason} at byte {err.start})") from None


def parse_whitespace_table(text: bytes, where: str = "table") -> np.ndarray:
    """Rows of whitespace-separated numbers (HAR's ``X_*.txt`` and ``y_*.txt``).

    Raises:
        DataFileError: a row of another length (a truncated line) or a value that is not a number.
    """
    try:
        return np.loadtxt(io.StringIO(_text(text, where)), dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise DataFileError(f"{where}: {' '.join(str(err).split())}; expected rows of equally many numbers") from None


def parse_drift_batch(text: bytes, num_features: int = 128, where: str = "batch",
                      complete: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One ``batchN.dat`` file: lines ``label;concentration 1:v1 2:v2 ... 128:v128``.

    Pairs left out are zero (the sparse libSVM convention); ``complete=True`` (the official files,
    which list every feature) requires all ``num_features`` on every line, so a line cut short is
    caught.

    Returns:
        ``(features [n, 128], labels [n])`` with labels shifted to start at 0.

    Raises:
        DataFileError: a line that is not of that form, a feature index out of range or repeated, or
            (``complete``) a line without every feature, naming the line.
    """
    rows, labels = [], []
    for number, line in enumerate(_text(text, where).splitlines(), 1):
        if not line.strip():
            continue
        try:
            head, *pairs = line.split()
            label = int(head.split(";")[0])
            row = np.zeros(num_features)
            seen = set()
            for pair in pairs:
                index, value = pair.split(":")
                index = int(index)
                if not 1 <= index <= num_features or index in seen:
                    raise IndexError(index)
                seen.add(index)
                row[index - 1] = float(value)
        except (ValueError, IndexError):
            raise DataFileError(f"{where}: line {number} is not 'label;concentration 1:v1 ... {num_features}:v"
                                f"{num_features}' with distinct feature indices 1..{num_features}: {line[:60]!r}") from None
        if complete and len(pairs) != num_features:
            raise DataFileError(f"{where}: line {number} gives {len(pairs)} features, expected all {num_features} "
                                "(a truncated line?)")
        rows.append(row)
        labels.append(label - 1)
    return np.array(rows).reshape(-1, num_features), np.array(labels, dtype=np.int64)


def parse_arff(text: bytes, where: str = "ARFF") -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """A numeric ARFF file with a nominal class as the last attribute (Dry Bean's format).

    Missing values (``?``) become NaN here; :func:`balance_lite.data.verify.check_table` refuses them.

    Returns:
        ``(feature_names, features [n, F], class_names, labels [n])``.

    Raises:
        DataFileError: not a readable ARFF file (a truncated line, an unknown class, no nominal class).
    """
    from scipy.io import arff

    body = _text(text, where)
    if body.rstrip("\r\n") and not body.endswith("\n"):
        last = body.rsplit("\n", 1)[-1]
        raise DataFileError(f"{where}: the last line does not end with a line break (a truncated file?): {last[:60]!r}")
    try:
        data, meta = arff.loadarff(io.StringIO(body))
    except Exception as err:  # scipy raises ValueError, ParseArffError or IndexError on damaged files
        raise DataFileError(f"{where}: not a readable ARFF file: {' '.join(str(err).split())[:200]}") from None
    names = meta.names()
    if not names or meta[names[-1]][0] != "nominal":
        raise DataFileError(f"{where}: the last attribute must be the nominal class, got {names[-1:]}")
    class_attr = names[-1]
    class_names = list(meta[class_attr][1])
    features = np.stack([data[n].astype(np.float64) for n in names[:-1]], axis=1)
    values = [v.decode() if isinstance(v, bytes) else v for v in data[class_attr]]
    unknown = [k for k, v in enumerate(values) if v not in class_names]
    if unknown:
        raise DataFileError(f"{where}: data row {unknown[0] + 1} has class {values[unknown[0]]!r}, expected one of "
                            f"{class_names}")
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
    x, y, x_te, y_te = (parse_whitespace_table(files[m], files.where[m]) for m in HAR.members)
    to_labels = lambda a: a[:, 0].astype(np.int64) - 1  # noqa: E731
    for part, xs, ys, m in (("train", x, y, HAR.members[1]), ("test", x_te, y_te, HAR.members[3])):
        check_table(files.where[m], xs, to_labels(ys), f"har-{part}")
    _check_members(HAR, files)
    return _tabular_splits("har", HAR, x, to_labels(y), x_te, to_labels(y_te), seed,
                           " (official test split)")


def load_drift(root: Path, seed: int, *, download: bool = True) -> Splits:
    """UCI Gas Sensor Array Drift: 13,910 readings of 128 features, 6 gases, all 10 batches pooled."""
    files = _open_members(DRIFT, root, "drift", download)
    parts = [parse_drift_batch(files[m], where=files.where[m], complete=verify_enabled()) for m in DRIFT.members]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    check_table(files.where[DRIFT.members[0]].rsplit("batch", 1)[0] + "batch1..10.dat", x, y, "drift")
    _check_members(DRIFT, files)
    return _tabular_splits("drift", DRIFT, x, y, None, None, seed, " (batches 1-10 pooled)")


def load_dry_bean(root: Path, seed: int, *, download: bool = True) -> Splits:
    """UCI Dry Bean: 13,611 beans, 16 shape features, 7 varieties."""
    files = _open_members(DRY_BEAN, root, "dry-bean", download)
    member = DRY_BEAN.members[0]
    _, x, classes, y = parse_arff(files[member], files.where[member])
    check_table(files.where[member], x, y, "dry-bean", class_names=classes)
    _check_members(DRY_BEAN, files)
    return _tabular_splits("dry-bean", DRY_BEAN, x, y, None, None, seed, "")

