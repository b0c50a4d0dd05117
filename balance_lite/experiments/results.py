r"""The results folder: one JSON Lines file per (method, B, trial), a manifest, atomic writes.

Chapter: *The active learning loop in 30 lines* (the last section: the results folder).

Layout of ``results/PRESET/``::

    manifest.json                      # preset, parameters, versions, seeds, device, git commit
    batch-balance_B10_trial0.jsonl     # one record per AL iteration, appended as it finishes
    random_B10_trial0.jsonl
    ...

A unit is finished when its last record acquired nothing (``selected == []``). A run killed while
writing leaves at most one half-written last line; :func:`read_records` drops it (and rewrites the
file without it), so re-running the same command resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

__all__ = [
    "append_record",
    "atomic_write_text",
    "is_finished",
    "load_results",
    "read_records",
    "parse_unit_filename",
    "read_manifest",
    "unit_filename",
]

_UNIT = re.compile(r"^(?P<method>[a-z0-9][a-z0-9.-]*)_B(?P<batch_size>\d+)_trial(?P<trial>\d+)\.jsonl$")


def unit_filename(method: str, batch_size: int, trial: int) -> str:
    """``"{method}_B{batch_size}_trial{trial}.jsonl"``."""
    name = f"{method}_B{batch_size}_trial{trial}.jsonl"
    if not _UNIT.match(name):
        raise ValueError(f"method must be lower-case letters, digits, dots and dashes, got {method!r}")
    return name


def parse_unit_filename(name: str) -> tuple[str, int, int] | None:
    """``(method, batch_size, trial)`` of a results file name, or None for any other file."""
    m = _UNIT.match(name)
    return (m["method"], int(m["batch_size"]), int(m["trial"])) if m else None


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append_record(path: str | os.PathLike, record: dict) -> None:
    """Append one record as one line (a single write, flushed and synced to disk)."""
    line = json.dumps(record, allow_nan=True, separators=(",", ":")) + "\n"
    with open(path, "a") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_records(path: str | os.PathLike, *, repair: bool = True) -> list[dict]:
    """The complete records of a results file; a half-written last line is dropped.

    Args:
        path: a ``.jsonl`` results file (missing: no records).
        repair: rewrite the file without the half-written line, so that appends continue cleanly.

    Returns:
        The records, in order.

    Raises:
        ValueError: a line other than the last is not valid JSON (the file was damaged otherwise).
    """
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    # Every complete record ends with "\n", so the piece after the last "\n" is "" or a torn write.
    complete, torn = lines[:-1], lines[-1]
    records = []
    for i, line in enumerate(complete):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: line {i + 1} is not a JSON record ({err}); the file is damaged") from None
    if torn and repair:
        atomic_write_text(path, "".join(line + "\n" for line in complete if line.strip()))
    return records


def is_finished(records: list[dict]) -> bool:
    """True when the last record acquired nothing: the run reached its budget."""
    return bool(records) and not records[-1].get("selected")


def load_results(folder: str | os.PathLike) -> dict[tuple[str, int], dict[int, list[dict]]]:
    """Every results file of a folder: ``{(method, B): {trial: records}}``.

    Half-written last lines are ignored (the files are not modified).

    Raises:
        FileNotFoundError: ``folder`` does not exist.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist")
    out: dict[tuple[str, int], dict[int, list[dict]]] = {}
    for path in sorted(folder.iterdir()):
        unit = parse_unit_filename(path.name)
        if unit is None:
            continue
        method, batch_size, trial = unit
        records = read_records(path, repair=False)
        if records:
            out.setdefault((method, batch_size), {})[trial] = records
    return dict(sorted(out.items()))


def read_manifest(folder: str | os.PathLike) -> dict | None:
    """The folder's ``manifest.json``, or None."""
    path = Path(folder) / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else None
