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

What can be trusted, and how it is checked:

- One run at a time per folder: :func:`lock_folder` takes an exclusive lock (``.lock``, holding the
  holder's pid, host and start time; the operating system releases it when the process dies, so a
  lock left by a killed run is never in the way). A second run into the same folder stops with one
  line naming the holder.
- Every record is validated on read (:func:`validate_records`): a JSON object with an integer
  ``labels``, a list of distinct non-negative integer ``selected`` positions, numeric metrics,
  consecutive ``iteration`` numbers, labels growing by what the previous record selected, and nothing
  after the finishing record. A bad record is one error naming the file and the line.
- Records written since this check existed also carry the trial's ``seed`` and the preset's
  ``fingerprint`` (:func:`preset_fingerprint`); a resumed run and :func:`load_results` check them
  against the manifest when present. Older records without them still load.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
from pathlib import Path

__all__ = [
    "LOCK_NAME",
    "FolderLockedError",
    "ResultsError",
    "append_record",
    "check_provenance",
    "atomic_write_text",
    "finished_only",
    "is_finished",
    "load_results",
    "lock_folder",
    "preset_fingerprint",
    "validate_records",
    "read_records",
    "parse_unit_filename",
    "read_manifest",
    "unit_filename",
]

#: The lock file of a results folder (see :func:`lock_folder`).
LOCK_NAME = ".lock"

#: The metrics every record holds (numbers; NaN allowed).
RECORD_METRICS = ("accuracy", "macro_auc", "macro_f1", "nll")


class ResultsError(ValueError):
    """A results folder or file cannot be trusted as it is (the message names the file and line)."""


class FolderLockedError(ResultsError):
    """Another run holds the results folder's lock."""


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


def _umask() -> int:
    """The process's umask (read without changing it where /proc tells it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - systems without /proc
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a part.

    The file gets the permissions of a plainly created file (``0o666`` less the umask).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, expected a file name", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
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


def read_records(path: str | os.PathLike, *, repair: bool = True, validate: bool = True) -> list[dict]:
    """The complete records of a results file; a half-written last line is dropped.

    Args:
        path: a ``.jsonl`` results file (missing: no records).
        repair: rewrite the file without the half-written line, so that appends continue cleanly.
        validate: check every record with :func:`validate_records`.

    Returns:
        The records, in order.

    Raises:
        ResultsError: a line other than the last is not valid JSON (the file was damaged otherwise),
            or a record is malformed (the error names the file and the line).
    """
    path = Path(path)
    if not path.exists():
        return []
    if path.is_dir():
        raise ResultsError(f"{path}: is a folder, expected a results file")
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise ResultsError(f"{path}: is not a text file ({err.reason} at byte {err.start}); the file is damaged") from None
    lines = text.split("\n")
    # Every complete record ends with "\n", so the piece after the last "\n" is "" or a torn write.
    complete, torn = lines[:-1], lines[-1]
    records, numbers = [], []
    for i, line in enumerate(complete):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise ResultsError(f"{path}: line {i + 1} is not a JSON record ({err}); the file is damaged") from None
        numbers.append(i + 1)
    if validate:
        validate_records(records, path, lines=numbers)
    if torn and repair:
        atomic_write_text(path, "".join(line + "\n" for line in complete if line.strip()))
    return records


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate_records(records: list, path: str | os.PathLike = "records", *, lines: list[int] | None = None) -> None:
    """Check the records of one results file against the schema; raise naming the file and line.

    Each record must be a JSON object with ``labels`` (an integer >= 0), ``selected`` (distinct
    integers >= 0) and the metrics of ``RECORD_METRICS`` (numbers, NaN allowed); ``iteration``,
    where present, counts from 0; ``seed`` (an integer) and ``fingerprint`` (a string), where
    present, are the same on every line. Across records, the labels grow by what the previous record
    selected, and no record follows one that selected nothing (the unit's end).

    Raises:
        ResultsError: the first violation, as ``"{path}: line {n}: ..."``.
    """
    lines = lines or list(range(1, len(records) + 1))

    def bad(k, what):
        raise ResultsError(f"{path}: line {lines[k]}: {what}")

    for k, r in enumerate(records):
        if not isinstance(r, dict):
            bad(k, f"a record must be a JSON object, got {json.dumps(r)[:60]}")
        if not _is_int(r.get("labels")) or r["labels"] < 0:
            bad(k, f"'labels' must be an integer >= 0, got {r.get('labels', 'nothing')!r}")
        sel = r.get("selected")
        if not isinstance(sel, list) or not all(_is_int(i) and i >= 0 for i in sel):
            bad(k, f"'selected' must be a list of pool positions (integers >= 0), got {str(sel)[:60]}")
        if len(set(sel)) != len(sel):
            bad(k, "'selected' repeats a pool position")
        for m in RECORD_METRICS:
            if not _is_number(r.get(m)):
                bad(k, f"metric {m!r} must be a number (NaN allowed), got {r.get(m, 'nothing')!r}")
        if "iteration" in r and r["iteration"] != k:
            bad(k, f"'iteration' must be {k} (the line's position among the records), got {r['iteration']!r}; "
                "were two runs writing into this folder at once?")
        if "seed" in r and not _is_int(r["seed"]):
            bad(k, f"'seed' must be an integer, got {r['seed']!r}")
        if "fingerprint" in r and not isinstance(r["fingerprint"], str):
            bad(k, f"'fingerprint' must be a string, got {r['fingerprint']!r}")
        if k:
            prev = records[k - 1]
            for key in ("seed", "fingerprint"):
                if key in r and key in prev and r[key] != prev[key]:
                    bad(k, f"{key!r} is {r[key]!r}, but the line before has {prev[key]!r}: records of two runs are mixed")
            if not prev["selected"]:
                bad(k, "a record follows the unit's last record (the one that selected nothing)")
            want = prev["labels"] + len(prev["selected"])
            if r["labels"] != want:
                bad(k, f"'labels' must be {want} (the line before had {prev['labels']} and selected "
                    f"{len(prev['selected'])}), got {r['labels']}; were two runs writing into this folder at once?")


#: Preset fields that do not change finished results: prose, and the named method variants (which,
#: like methods, may grow between runs).
FINGERPRINT_IGNORES = ("notes", "cpu_notes", "variants")


def preset_fingerprint(preset: dict) -> str:
    """A short digest of a preset's settings (:meth:`~balance_lite.experiments.presets.Preset.to_dict` without
    ``FINGERPRINT_IGNORES``), 16 hex digits."""
    params = {k: v for k, v in preset.items() if k not in FINGERPRINT_IGNORES}
    text = json.dumps(params, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_finished(records: list[dict]) -> bool:
    """True when the last record acquired nothing: the run reached its budget."""
    return bool(records) and not records[-1].get("selected")


def finished_only(results: dict[tuple[str, int], dict[int, list[dict]]]) -> dict[tuple[str, int], dict[int, list[dict]]]:
    """:func:`load_results`'s output keeping only finished trials (:func:`is_finished`), and the units that have one."""
    return {key: done for key, trials in results.items()
            if (done := {t: r for t, r in trials.items() if is_finished(r)})}


def load_results(folder: str | os.PathLike) -> dict[tuple[str, int], dict[int, list[dict]]]:
    """Every results file of a folder: ``{(method, B): {trial: records}}``, checked.

    Half-written last lines are ignored (the files are not modified). Every record is validated
    (:func:`validate_records`). With a manifest, every unit must be one that the manifest's runs
    planned (a method, batch size and trial it lists), and records carrying a ``seed`` or a
    ``fingerprint`` must match the manifest's seed plus the trial and its preset; without one, the
    fingerprints of all records must agree. Results of different presets or seeds are never pooled.

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        ResultsError: a malformed record or manifest, or results that the manifest did not make.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist")
    manifest = read_manifest(folder)
    expected = preset_fingerprint(manifest["preset"]) if manifest else None
    seen: dict[str, str] = {}
    out: dict[tuple[str, int], dict[int, list[dict]]] = {}
    for path in sorted(folder.iterdir()):
        unit = parse_unit_filename(path.name)
        if unit is None:
            continue
        method, batch_size, trial = unit
        records = read_records(path, repair=False)
        if not records:
            continue
        if manifest is not None:
            planned = (method in manifest.get("methods", [method]) and batch_size in manifest.get("batch_sizes", [batch_size])
                       and trial < manifest.get("trials", trial + 1))
            if not planned:
                raise ResultsError(
                    f"{path}: the manifest's runs did not make this unit (they ran methods {manifest.get('methods')}, "
                    f"batch sizes {manifest.get('batch_sizes')}, {manifest.get('trials')} trials); results of another "
                    "run were copied here? Move the file out or use another folder")
            seed = manifest["seed"] + trial if "seed" in manifest else None
            check_provenance(records, path, seed=seed, fingerprint=expected)
        for k, r in enumerate(records):
            if "fingerprint" in r:
                first = seen.setdefault(r["fingerprint"], f"{path.name} line {k + 1}")
                if len(seen) > 1:
                    raise ResultsError(f"{path}: line {k + 1}: records of different presets in one folder "
                                       f"(fingerprints {sorted(seen)}, first seen in {first} ...)")
        out.setdefault((method, batch_size), {})[trial] = records
    return dict(sorted(out.items()))


def check_provenance(records: list[dict], path, *, seed: int | None, fingerprint: str | None) -> None:
    """Raise if a record carries a ``seed`` or ``fingerprint`` other than the given ones.

    Records without those fields (written before they existed) pass, and so does anything for a
    ``None`` expectation.

    Raises:
        ResultsError: naming the file, the line, and both values.
    """
    for k, r in enumerate(records):
        if seed is not None and "seed" in r and r["seed"] != seed:
            raise ResultsError(f"{path}: line {k + 1} was made with seed {r['seed']}, expected {seed} "
                               "(the manifest's seed plus the trial); results of another seed are here")
        if fingerprint is not None and "fingerprint" in r and r["fingerprint"] != fingerprint:
            raise ResultsError(f"{path}: line {k + 1} was made with preset settings {r['fingerprint']}, "
                               f"expected {fingerprint} (the manifest's preset); results of another preset are here")


def read_manifest(folder: str | os.PathLike) -> dict | None:
    """The folder's ``manifest.json``, or None when there is none.

    Raises:
        ResultsError: the file is not a JSON object with a ``preset`` object, or its ``seed``,
            ``methods``, ``batch_sizes`` or ``trials`` (where present) are not an integer, lists and
            an integer.
    """
    path = Path(folder) / "manifest.json"
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ResultsError(f"{path}: is not valid JSON ({err}); restore it or use another folder") from None
    if not isinstance(manifest, dict):
        raise ResultsError(f"{path}: must hold a JSON object, got {type(manifest).__name__}; "
                           "restore it or use another folder")
    types = {"preset": dict, "seed": int, "methods": list, "batch_sizes": list, "trials": int}
    for key, kind in types.items():
        if key == "preset" or key in manifest:
            value = manifest.get(key)
            if isinstance(value, kind) and not isinstance(value, bool):
                continue
            raise ResultsError(f"{path}: {key!r} must be a JSON {kind.__name__.replace('dict', 'object')}, "
                               f"got {manifest.get(key, 'nothing')!r}; restore it or use another folder")
    return manifest


def _describe_holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text())
        return (f"pid {holder['pid']} on host {holder['host']} (since {holder['started']}: "
                f"{' '.join(holder.get('command', []))[:120]})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (its lock file is being written)"


@contextlib.contextmanager
def lock_folder(folder: str | os.PathLike):
    """Hold the exclusive lock of a results folder for the duration of the block.

    The lock is an ``fcntl.flock`` on ``folder/.lock``, which holds the holder's pid, host, start
    time and command line. The operating system releases it when the holder exits or dies, so a
    stale lock file from a killed run is taken over; the file is removed on a clean exit.

    Raises:
        FolderLockedError: another live process holds the lock (the message names it).
    """
    import fcntl

    path = Path(folder) / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderLockedError(f"results folder {folder} is in use by {_describe_holder(path)}; "
                                    "wait for that run to finish, or use another --out folder") from None
        # the file may have been removed (by its previous holder, on exit) between open and flock
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    info = {"pid": os.getpid(), "host": platform.node(),
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": [str(a) for a in sys.argv]}
    try:
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(info) + "\n").encode())
        yield info
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)
