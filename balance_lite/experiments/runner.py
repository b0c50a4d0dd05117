r"""Run a preset: every (method, B, trial) unit, resumable, in sequence, in processes or on SLURM.

Chapter: *The active learning loop in 30 lines* (the last section: one command with the CLI).

Trial t uses seed ``seed + t`` for the data split, the initial set, every network initialisation
and every acquisition, so the same command twice on a CPU gives identical selections, and a unit
can be resumed after any iteration (see :mod:`balance_lite.experiments.results`).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy
import sklearn
import torch

from .. import __version__
from ..checks import check_positive_int
from ..loop import run_active_learning
from ..models import build_model
from .presets import DEFAULT_METHODS, Preset, get_preset
from .results import (
    FINGERPRINT_IGNORES,
    append_record,
    atomic_write_text,
    check_provenance,
    is_finished,
    lock_folder,
    parse_unit_filename,
    preset_fingerprint,
    read_manifest,
    read_records,
    unit_filename,
)

__all__ = ["EXECUTORS", "Unit", "check_device", "plan_units", "run_experiment", "run_unit", "write_manifest"]

#: Where units run, this machine (``local``) or submitit (SLURM, or its local and debug executors).
EXECUTORS = ("local", "slurm", "submitit-local", "submitit-debug")


@dataclass(frozen=True)
class Unit:
    """One learning curve: a method, a batch size and a trial."""

    method: str
    batch_size: int
    trial: int

    @property
    def filename(self) -> str:
        """Its results file's name."""
        return unit_filename(self.method, self.batch_size, self.trial)


def plan_units(methods, batch_sizes, trials: int) -> list[Unit]:
    """Every unit, trial-major (trial 0 of every method first, so early results are comparable)."""
    return [Unit(m, b, t) for t in range(trials) for b in batch_sizes for m in methods]


def run_unit(spec: dict) -> dict:
    """Run or resume one unit described by a picklable ``spec`` (see :func:`run_experiment`).

    Returns:
        ``{"unit": filename, "status": "done" | "ran", "iterations": n, "new": k}``.
    """
    if spec.get("num_threads"):
        torch.set_num_threads(int(spec["num_threads"]))
    preset: Preset = get_preset(spec["preset"], quick=spec["quick"], protocol=spec.get("protocol", "paper"))
    unit = Unit(spec["method"], spec["batch_size"], spec["trial"])
    path = Path(spec["out"]) / unit.filename
    records = read_records(path)  # drops (and removes) a half-written last line
    seed = int(spec["seed"]) + unit.trial
    fingerprint = spec.get("fingerprint") or preset_fingerprint(preset.to_dict())
    check_provenance(records, path, seed=seed, fingerprint=fingerprint)
    if is_finished(records):
        return {"unit": unit.filename, "status": "done", "iterations": len(records), "new": 0}
    splits = preset.trial_splits(seed, root=spec.get("data_root"))
    factory = partial(build_model, preset.dataset, splits.input_shape, splits.num_classes)
    new = []

    def save(record):
        append_record(path, {**record.to_dict(), "seed": seed, "fingerprint": fingerprint})
        new.append(record)

    result = run_active_learning(
        splits, factory, preset.strategy(unit.method), batch_size=unit.batch_size,
        budget=preset.unit_budget(unit.batch_size, len(splits.initial)), train_config=preset.train_config(),
        eval_samples=preset.eval_samples, seed=seed, device=spec.get("device"), progress=spec.get("progress", False),
        resume=records, on_iteration=save, candidates=preset.candidates,
    )
    return {"unit": unit.filename, "status": "ran", "iterations": len(result.records), "new": len(new)}


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
        return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _hardware(device) -> dict:
    """What a run ran on: the machine's architecture, CPU model and count, and the GPU when one is used."""
    cpu = platform.processor() or None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    hardware = {"machine": platform.machine(), "cpu": cpu, "cpus": os.cpu_count()}
    if str(device or "cpu").startswith("cuda") and torch.cuda.is_available():
        hardware["gpu"] = torch.cuda.get_device_name(torch.device(str(device)))
    return hardware


def _record_end(out: Path, started: float, interrupted: bool) -> None:
    """Add this command's end, wall time and outcome to the last run of ``out``'s manifest."""
    manifest = read_manifest(out)
    if not manifest or not manifest.get("runs"):
        return
    manifest["runs"][-1].update({
        "ended": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "interrupted": interrupted})
    atomic_write_text(out / "manifest.json", _json(manifest))


def _versions() -> dict:
    return {"balance_lite": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version()}


def write_manifest(out: Path, preset: Preset, *, methods, batch_sizes, trials, seed, device, executor) -> dict:
    """Create or extend ``out/manifest.json``; refuse a folder made with other settings.

    Methods, batch sizes and trials may grow between runs; the preset's parameters and the seed may not.

    Raises:
        ValueError: ``out`` holds results of another preset, quick flag or seed (the message names
            the settings that differ), or results files but no manifest (then which seed and preset
            made them is unknown, unless their records say it).
    """
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    old = read_manifest(out)
    run = {"started": now, "device": str(device or "cpu"), "executor": executor, "command": [str(a) for a in sys.argv],
           "git_commit": _git_commit(), "versions": _versions(), "host": platform.node(), "hardware": _hardware(device)}
    if old is not None:
        # Notes are prose, and variants, like methods, may grow: neither changes finished results.
        params = _canonical({k: v for k, v in preset.to_dict().items() if k not in FINGERPRINT_IGNORES})
        old_params = _canonical({k: v for k, v in old.get("preset", {}).items() if k not in FINGERPRINT_IGNORES})
        if old.get("seed") != seed:
            raise ValueError(f"out {str(out)!r} holds results made with another seed ({old.get('seed')!r}, now "
                             f"{seed!r}); use another --out folder or the same seed")
        differ = _differences(old_params, params)
        if differ:
            raise ValueError(f"out {str(out)!r} holds results made with another preset: {'; '.join(differ)}; "
                             "use another --out folder or delete it")
    else:
        _check_orphans(out, seed, preset_fingerprint(preset.to_dict()))
    if old is not None:
        methods = list(dict.fromkeys([*old["methods"], *methods]))
        batch_sizes = sorted({*old["batch_sizes"], *batch_sizes})
        trials = max(trials, old["trials"])
    # A folder keeps the preset its manifest recorded (the same settings, possibly without fields added
    # since), so that its records' fingerprints stay valid.
    recorded = old["preset"] if old is not None else preset.to_dict()
    manifest = {
        "preset": recorded,
        "fingerprint": preset_fingerprint(recorded),
        "seed": seed,
        "methods": list(methods),
        "batch_sizes": list(batch_sizes),
        "trials": trials,
        "strategies": {m: {"name": preset.strategy(m).name, **preset.strategy(m).params()} for m in methods},
        "train_config": dataclasses.asdict(preset.train_config()),
        "created": old["created"] if old else now,
        "runs": [*(old or {}).get("runs", []), run],
    }
    atomic_write_text(out / "manifest.json", _json(manifest))
    return manifest


#: Preset fields added after results were first stored, with the value that means "as before": a
#: manifest without the field and a preset at that value describe the same settings.
ADDED_FIELDS = {"initial_per_class": None}


def _canonical(params: dict) -> dict:
    """``params`` with each missing :data:`ADDED_FIELDS` entry at its "as before" value."""
    return {**ADDED_FIELDS, **params}


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """``"key: was X, now Y"`` for each setting that differs (nested dicts by dotted key)."""
    out = []
    for key in sorted(set(old) | set(new), key=str):
        was, now = old.get(key, "(absent)"), new.get(key, "(absent)")
        if isinstance(was, dict) and isinstance(now, dict):
            out += _differences(was, now, f"{prefix}{key}.")
        elif was != now:
            out.append(f"{prefix}{key} was {was!r}, now {now!r}")
    return out


def _check_orphans(out: Path, seed: int, fingerprint: str) -> None:
    """Without a manifest, results files are accepted only when their records name this seed and preset."""
    for path in sorted(out.iterdir()):
        unit = parse_unit_filename(path.name)
        if unit is None:
            continue
        records = read_records(path, repair=False)
        if any("seed" not in r or "fingerprint" not in r for r in records):
            raise ValueError(f"out {str(out)!r} holds results ({path.name}) but no manifest.json, and their records "
                             "do not say which seed and preset made them; restore the manifest or use another folder")
        check_provenance(records, path, seed=seed + unit[2], fingerprint=fingerprint)


def check_device(device) -> str | None:
    """Check that ``device`` names a device this machine has; return it as a string (None: CPU).

    Raises:
        ValueError: an unknown device string, the meta device, or CUDA / MPS that is not available.
    """
    if device is None:
        return None
    import torch

    try:
        d = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device must be cpu, cuda, cuda:N or mps, got {device!r}") from None
    if d.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} needs CUDA, but this PyTorch sees no CUDA GPU "
                             f"(torch {torch.__version__}); use --device cpu")
        if d.index is not None and d.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    elif d.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device {device!r} needs Apple's MPS, which this machine does not have; use --device cpu")
    elif d.type != "cpu":
        raise ValueError(f"device must be cpu, cuda, cuda:N or mps, got {device!r}"
                         + (" (the meta device holds no data)" if d.type == "meta" else ""))
    return str(device)


def _check_executor(executor: str) -> None:
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if executor == "local":
        return
    try:
        import submitit  # noqa: F401
    except ImportError:
        raise ValueError(f"executor {executor!r} needs submitit: pip install 'balance_lite[slurm]'") from None
    if executor == "slurm":
        import shutil

        if shutil.which("sbatch") is None:
            raise ValueError("executor 'slurm' needs a SLURM cluster, but 'sbatch' is not on this machine's PATH; "
                             "use --executor local (with --jobs N) here")


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"out {str(out)!r} is a file, expected a results folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"out {str(out)!r} cannot be created: {err.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"out {str(out)!r} is not writable by this user")


def _json(obj) -> str:
    import json

    return json.dumps(obj, indent=2, default=str) + "\n"


def run_experiment(
    preset: str,
    *,
    out: str | os.PathLike | None = None,
    methods=None,
    trials: int | None = None,
    seed: int = 0,
    quick: bool = False,
    protocol: str = "paper",
    batch_sizes=None,
    device: str | None = None,
    jobs: int = 1,
    executor: str = "local",
    data_root: str | os.PathLike | None = None,
    progress: bool = True,
    slurm: dict | None = None,
    wait: bool = True,
    log=print,
) -> list:
    """Run (or resume) every unit of a preset and write the results folder.

    Args:
        preset: a preset name (see :func:`balance_lite.experiments.presets.available`).
        out: the results folder (default ``results/PRESET``, ``results/PRESET-cpu`` or
            ``results/PRESET-quick``).
        methods: strategy names (default ``batch-balance, batchbald, random``).
        trials: trials per (method, B); trial t uses seed ``seed + t`` (default: the preset's, 6 for
            the paper protocol).
        seed: the base seed.
        quick: use the preset's quick variant.
        protocol: ``"paper"`` or ``"cpu"`` (see :data:`~balance_lite.experiments.presets.PROTOCOLS`);
            recorded in the manifest with the preset's settings.
        batch_sizes: a subset of the preset's batch sizes (default: all of them).
        device: where networks run, e.g. ``"cuda"`` (default CPU).
        jobs: with ``executor="local"``, units run in this many processes at once.
        executor: ``"local"``, ``"slurm"`` (submitit), or submitit's ``"submitit-local"`` /
            ``"submitit-debug"`` executors (the same code path as SLURM, on this machine).
        data_root: where the datasets are (default ``$BALANCE_LITE_DATA``).
        progress: one progress bar per unit (sequential local runs only).
        slurm: submitit parameters, e.g. ``{"slurm_partition": "gpu", "timeout_min": 600, "gpus_per_node": 1}``.
        wait: with submitit, wait for the jobs (always for the local and debug executors).
        log: called with one line per event.

    Returns:
        One status dict per unit (see :func:`run_unit`), or the submitit jobs when not waiting.

    The results folder is locked (:func:`~balance_lite.experiments.results.lock_folder`) from the
    checks of the manifest until the last unit ends; with ``executor="slurm"`` and ``wait=False``
    the lock ends once the jobs are submitted, so do not start another run into the folder while
    they run. Every argument is checked before anything is written.

    Raises:
        ValueError: unknown preset, method, executor (or SLURM / submitit missing), device (or one
            this machine lacks), a batch size the preset does not have, bad ``trials`` / ``jobs`` /
            ``seed``, a ``data_root`` that is not a folder, an ``out`` that is a file or not writable,
            or an ``out`` folder made with other settings.
        FolderLockedError: another run holds ``out``.
    """
    spec_preset = get_preset(preset, quick=quick, protocol=protocol)
    trials = spec_preset.trials if trials is None else trials
    if methods is not None and len(list(methods)) == 0:
        raise ValueError(f"methods must name at least one strategy among {spec_preset.methods()}, got none")
    methods = list(methods or DEFAULT_METHODS)
    unknown = [m for m in methods if m not in spec_preset.methods()]
    if unknown:
        raise ValueError(f"methods must be among {spec_preset.methods()}, got {unknown}")
    if batch_sizes is not None and len(list(batch_sizes)) == 0:
        raise ValueError(f"batch_sizes must name at least one of the preset's {list(spec_preset.batch_sizes)}, got none")
    batch_sizes = list(batch_sizes or spec_preset.batch_sizes)
    bad = [b for b in batch_sizes if b not in spec_preset.batch_sizes]
    if bad:
        raise ValueError(f"batch_sizes must be among the preset's {list(spec_preset.batch_sizes)}, got {bad}")
    check_positive_int(trials, "trials")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    check_positive_int(jobs, "jobs")
    _check_executor(executor)
    device = check_device(device)
    if data_root is not None and not Path(data_root).expanduser().is_dir():
        raise ValueError(f"data_root {str(data_root)!r} is not a folder; give the folder that holds the data "
                         "(e.g. MNIST/raw/...), or leave it out to use $BALANCE_LITE_DATA")
    suffix = "-quick" if quick else ("" if protocol == "paper" else f"-{protocol}")
    out = Path(out or Path("results") / (preset + suffix))
    _check_out(out)
    with lock_folder(out):
        return _run_locked(preset, spec_preset, out, methods, batch_sizes, trials, seed, quick, protocol, device,
                           jobs, executor, data_root, progress, slurm, wait, log)


def _run_locked(preset, spec_preset, out, methods, batch_sizes, trials, seed, quick, protocol, device, jobs,
                executor, data_root, progress, slurm, wait, log) -> list:
    started = time.perf_counter()
    manifest = write_manifest(out, spec_preset, methods=methods, batch_sizes=batch_sizes, trials=trials, seed=seed,
                              device=device, executor=executor)
    finished = False
    try:
        statuses = _run_units(preset, out, manifest, methods, batch_sizes, trials, seed, quick, protocol, device,
                              jobs, executor, data_root, progress, slurm, wait, log)
        finished = True
        return statuses
    finally:
        _record_end(out, started, interrupted=not finished)


def _run_units(preset, out, manifest, methods, batch_sizes, trials, seed, quick, protocol, device, jobs, executor,
               data_root, progress, slurm, wait, log) -> list:
    units = plan_units(methods, batch_sizes, trials)
    base = {"preset": preset, "quick": quick, "protocol": protocol, "seed": seed, "out": str(out.resolve()), "device": device,
            "data_root": str(data_root) if data_root else None, "fingerprint": manifest["fingerprint"]}
    specs = [{**base, "method": u.method, "batch_size": u.batch_size, "trial": u.trial} for u in units]
    todo = [s for s, u in zip(specs, units) if not is_finished(read_records(out / u.filename, repair=False))]
    log(f"{preset}{' (quick)' if quick else f' ({protocol} protocol)'}: {len(units)} units, {len(units) - len(todo)} already finished, "
        f"{len(todo)} to run -> {out}")
    statuses = [{"unit": u.filename, "status": "done"} for s, u in zip(specs, units) if s not in todo]
    if not todo:
        return statuses
    if executor == "local" and jobs == 1:
        for spec in todo:
            status = run_unit({**spec, "progress": progress})
            log(f"  {status['unit']}: {status['iterations']} iterations ({status['new']} new)")
            statuses.append(status)
        return statuses
    if executor == "local":
        import concurrent.futures
        import multiprocessing

        threads = max(1, (os.cpu_count() or 1) // jobs)
        ctx = multiprocessing.get_context("spawn")
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_ignore_sigint)
        try:
            futures = [pool.submit(run_unit, {**spec, "num_threads": threads}) for spec in todo]
            for future in concurrent.futures.as_completed(futures):
                status = future.result()
                log(f"  {status['unit']}: {status['iterations']} iterations ({status['new']} new)")
                statuses.append(status)
        except BaseException:
            # Ctrl-C or a failed unit: stop the workers now (a torn last line is repaired on resume)
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
        return statuses
    return _submit(todo, out, executor, slurm or {}, wait, log) + (statuses if wait else [])


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops them (no traceback from each worker)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _submit(specs, out: Path, executor: str, params: dict, wait: bool, log) -> list:
    import submitit
    cluster = {"slurm": "slurm", "submitit-local": "local", "submitit-debug": "debug"}[executor]
    ex = submitit.AutoExecutor(folder=out / "submitit", cluster=cluster)
    ex.update_parameters(**{"timeout_min": 24 * 60, "name": "balance-lite", **params})
    jobs = ex.map_array(run_unit, specs)
    log(f"  submitted {len(jobs)} {cluster} jobs: {', '.join(str(j.job_id) for j in jobs[:5])}"
        f"{' ...' if len(jobs) > 5 else ''}")
    if not wait and cluster == "slurm":
        return jobs
    statuses = []
    for job in jobs:
        status = job.result()
        log(f"  {status['unit']}: {status['iterations']} iterations ({status['new']} new)")
        statuses.append(status)
    return statuses
