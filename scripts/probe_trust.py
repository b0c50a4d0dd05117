"""Probe the cases of issue 18 and count the outcomes: clear error, silently wrong, traceback.

Run from a checkout (``PYTHONPATH`` pointing at the ``balance_lite`` to probe, which may be an
older commit: only APIs that existed before the issue are used)::

    PYTHONPATH=. BALANCE_LITE_DATA=/path/to/data python scripts/probe_trust.py [--json out.json]

Each case is something a user does that must end in either the right result (``ok``) or one clear
error (``clear``: a one-line message naming the argument or file; exit status 2 on the command
line). Anything else is ``silent`` (wrong or doubled results, no error), ``misleading`` (an error
that names the wrong cause) or ``traceback`` (an exception other than the documented ones, or a
multi-line Python traceback from the command line). Needs the real MNIST, Fashion-MNIST and Dry
Bean files under ``$BALANCE_LITE_DATA``; copies are damaged under a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from balance_lite import cli, data
from balance_lite.acquisition import batch_balance_value, joint_mutual_information
from balance_lite.acquisition._checks import check_log_probs
from balance_lite.experiments import read_records, results_table, run_experiment
from balance_lite.experiments.report import format_table

UNIT = "random_B10_trial0.jsonl"
RUN = ["run", "digits", "--quick", "--methods", "random", "--trials", "1", "--no-progress"]
CLEAR_TYPES = (ValueError, TypeError, FileNotFoundError)


def quiet(*a):
    pass


def cli_outcome(args, *, expect_error=True):
    """Run the command line in this process: ``clear`` (status 2, one line), ``silent`` (status 0 where an
    error was due) or ``traceback``."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = cli.main([str(a) for a in args])
    except SystemExit as exit_:
        status = exit_.code
    except BaseException:  # noqa: BLE001 - an exception escaping main is a traceback for the user
        return "traceback"
    text = err.getvalue()
    if status == 0:
        return "silent" if expect_error else "ok"
    if status == 2 and "Traceback" not in text and len([ln for ln in text.splitlines() if ln.strip()]) == 1:
        return "clear"
    return "traceback"


def api_outcome(call, *, clear_types=CLEAR_TYPES):
    try:
        call()
    except clear_types as err:
        return "clear" if "\n" not in str(err) else "traceback"
    except BaseException:  # noqa: BLE001
        return "traceback"
    return "silent"


def fresh_run(base: Path, name: str) -> Path:
    out = base / name
    shutil.copytree(base / "_ref", out)
    return out


def area_results(base: Path) -> dict:
    cases = {}
    # two runs into one folder at once, two real processes
    out = base / "concurrent"
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "balance_lite.cli", *RUN[:-2], "2", "--no-progress", "--out", str(out)]
    p1 = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    p2 = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    e1, e2 = p1.communicate()[1], p2.communicate()[1]
    its = [r.get("iteration") for r in read_records(out / UNIT, repair=False)] if (out / UNIT).exists() else []
    refused = sorted([p1.returncode, p2.returncode]) == [0, 2] and "Traceback" not in e1 + e2
    cases["two runs into one --out at once"] = ("clear" if refused and its == sorted(set(its))
                                                else "silent" if 0 == p1.returncode == p2.returncode else "traceback")
    # manifest deleted, then another seed
    out = fresh_run(base, "nomanifest")
    (out / "manifest.json").unlink()
    lines = (out / UNIT).read_text().splitlines(keepends=True)
    (out / UNIT).write_text("".join(lines[:2]))
    cases["manifest deleted, run with another seed"] = cli_outcome([*RUN, "--seed", "1", "--out", out])
    # bad records lines: run (resume) and table
    for text in ("42", "null", "[1,2]", "{}", '{"selected": []}'):
        for command in ("run", "table"):
            out = fresh_run(base, f"bad-{command}-{abs(hash(text))}")
            first = (out / UNIT).read_text().splitlines()[0]
            (out / UNIT).write_text(first + "\n" + text + "\n")
            if text in ("{}", '{"selected": []}') and command == "run":
                # a unit marked finished by a stray line: silently wrong unless refused
                outcome = cli_outcome([*RUN, "--out", out])
            else:
                outcome = cli_outcome([*RUN, "--out", out] if command == "run" else ["table", out])
            cases[f"results line {text} then {command}"] = outcome
    # records of two writers (iterations 0 0 1 1)
    out = fresh_run(base, "doubled")
    lines = (out / UNIT).read_text().splitlines(keepends=True)
    (out / UNIT).write_text("".join(line for line in lines[:2] for _ in range(2)))
    cases["doubled records (0 0 1 1) then table"] = cli_outcome(["table", out])
    # NaN metric: trials counted honestly
    rec = {"labels": 20, "accuracy": 0.5, "macro_auc": 0.8, "macro_f1": 0.5, "nll": 1.0, "selected": []}
    rows = results_table({("random", 10): {0: [rec], 1: [{**rec, "macro_auc": math.nan}]}})
    text = format_table(rows)
    cases["a NaN metric in one of two trials, table"] = "ok" if "n=1" in text else "silent"
    # a unit of another run copied in (another seed, a trial the manifest never ran)
    out = fresh_run(base, "pooled")
    shutil.copy(base / "_seed5" / UNIT, out / "random_B10_trial3.jsonl")
    cases["another run's unit copied into the folder, table"] = cli_outcome(["table", out])
    # manifest permissions follow the umask
    old = os.umask(0o022)
    try:
        out = base / "umask"
        run_experiment("digits", out=out, methods=["random"], trials=1, quick=True, progress=False, log=quiet)
    finally:
        os.umask(old)
    mode = (out / "manifest.json").stat().st_mode & 0o777
    cases["manifest.json mode under umask 022"] = "ok" if mode == 0o644 else "silent"
    return cases


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def damaged_copy(base: Path, name: str) -> Path:
    root = base / name
    src = data.data_root()
    for folder in ("MNIST", "FashionMNIST"):
        (root / folder / "raw").mkdir(parents=True)
        for f in (src / folder / "raw").iterdir():
            os.symlink(f, root / folder / "raw" / f.name)
    (root / "uci" / "dry_bean" / "DryBeanDataset").mkdir(parents=True)
    arff = src / "uci" / "dry_bean" / "DryBeanDataset" / "Dry_Bean_Dataset.arff"
    shutil.copy(arff, root / "uci" / "dry_bean" / "DryBeanDataset" / arff.name)
    return root


def data_outcome(call):
    """``clear`` for one clear error naming a file; ``misleading`` for "files are missing"; else as api_outcome."""
    try:
        call()
    except data.DatasetNotAvailableError:
        return "misleading"
    except CLEAR_TYPES as err:
        return "clear" if "\n" not in str(err) else "traceback"
    except BaseException:  # noqa: BLE001
        return "traceback"
    return "silent"


def area_data(base: Path) -> dict:
    cases = {}
    src = data.data_root()

    def replace(root, rel, make):
        target = root / rel
        target.unlink()
        make(target)

    labels = np.fromfile(src / "MNIST/raw/train-labels-idx1-ubyte", dtype=np.uint8, offset=8)
    edits = {
        "MNIST with 59,000 labels for 60,000 images": lambda r: replace(
            r, "MNIST/raw/train-labels-idx1-ubyte", lambda t: write_idx(t, labels[:59000])),
        "MNIST labels of 255": lambda r: replace(
            r, "MNIST/raw/train-labels-idx1-ubyte", lambda t: write_idx(t, np.where(np.arange(60000) == 5, 255, labels))),
        "MNIST train and test files swapped": lambda r: [
            (os.replace(r / f"MNIST/raw/train-{k}", r / "tmp"), os.replace(r / f"MNIST/raw/t10k-{k}", r / f"MNIST/raw/train-{k}"),
             os.replace(r / "tmp", r / f"MNIST/raw/t10k-{k}")) for k in ("images-idx3-ubyte", "labels-idx1-ubyte")],
        "Fashion files under MNIST's folder": lambda r: [
            (os.unlink(r / f"MNIST/raw/{f.name}"), os.symlink(f, r / f"MNIST/raw/{f.name}"))
            for f in (src / "FashionMNIST/raw").iterdir()],
        "MNIST file with a bad magic number": lambda r: replace(
            r, "MNIST/raw/t10k-labels-idx1-ubyte",
            lambda t: t.write_bytes(b"\x1f\x8b\x08\x00" + (src / "MNIST/raw/t10k-labels-idx1-ubyte").read_bytes()[4:])),
        "MNIST images truncated": lambda r: replace(
            r, "MNIST/raw/t10k-images-idx3-ubyte",
            lambda t: t.write_bytes((src / "MNIST/raw/t10k-images-idx3-ubyte").read_bytes()[:-1000])),
    }
    for what, edit in edits.items():
        root = damaged_copy(base, f"data-{len(cases)}")
        edit(root)
        cases[what] = data_outcome(lambda: data.load("mnist", root=root, download=False))
    arff = (src / "uci/dry_bean/DryBeanDataset/Dry_Bean_Dataset.arff").read_text()
    head, body = arff.split("@DATA", 1) if "@DATA" in arff else arff.split("@data", 1)
    rows = [r for r in body.strip("\n").split("\n") if r.strip()]
    bean_edits = {
        "Dry Bean truncated to 5 classes": head + "@DATA\n" + "\n".join(
            r for r in rows if not r.endswith(("SIRA", "DERMASON"))) + "\n",
        "Dry Bean with ? values": head + "@DATA\n" + "\n".join(["?," + rows[0].split(",", 1)[1]] + rows[1:]) + "\n",
        "Dry Bean truncated mid-line": arff[: len(arff) - 9],
    }
    for what, text in bean_edits.items():
        root = damaged_copy(base, f"data-{len(cases)}")
        (root / "uci/dry_bean/DryBeanDataset/Dry_Bean_Dataset.arff").write_text(text)
        cases[what] = data_outcome(lambda: data.load("dry-bean", root=root, download=False))
    # seeds and indices
    cases["load(seed=None): a different split at each call"] = api_outcome(lambda: data.load("digits", seed=None))
    cases["load(seed=True)"] = api_outcome(lambda: data.load("digits", seed=True))
    lp = torch.log_softmax(torch.randn(3, 4, 2, dtype=torch.float64), -1)
    edges = torch.ones(4, dtype=torch.bool)
    for indices in ([0.9, 1.7], [True, False], "01"):
        cases[f"batch_balance_value indices {indices!r}"] = api_outcome(
            lambda: batch_balance_value(lp, lp.flip(1), edges, indices))
        cases[f"joint_mutual_information indices {indices!r}"] = api_outcome(
            lambda: joint_mutual_information(lp, indices))
    return cases


def area_errors(base: Path) -> dict:
    cases = {}
    # valid inputs that must be accepted
    torch.manual_seed(0)
    for dtype, C in ((torch.bfloat16, 10), (torch.bfloat16, 47), (torch.float16, 47), (torch.float16, 62)):
        lp = torch.log_softmax(torch.randn(64, 8, C) * 3, -1).to(dtype)
        try:
            check_log_probs(lp)
            cases[f"valid {dtype} log-softmax, C={C}"] = "ok"
        except ValueError:
            cases[f"valid {dtype} log-softmax, C={C}"] = "misleading"
    cases["meta-device tensors"] = api_outcome(lambda: check_log_probs(torch.empty(3, 4, 2, device="meta")))
    a_file = base / "a-file"
    a_file.write_text("x")
    args = {
        "--device tpu": ["--device", "tpu"],
        "--device meta": ["--device", "meta"],
        "--executor slurm without SLURM": ["--executor", "slurm"],
        "--out that is a file": ["--out", a_file],
        "--out under a file (unwritable)": ["--out", a_file / "sub"],
        "--methods ','": ["--methods", ","],
        "--data-root that does not exist": ["--data-root", base / "typo-root"],
    }
    if not torch.cuda.is_available():
        args["--device cuda without CUDA"] = ["--device", "cuda"]
    path = os.environ.get("PATH", "")
    os.environ["PATH"] = str(base)  # no sbatch
    try:
        for what, extra in args.items():
            out = base / f"cli-{len(cases)}"
            full = [*RUN, *extra] if "--out" in extra else [*RUN, "--out", out, *extra]
            outcome = cli_outcome(full)
            if what.startswith("--data-root") and (base / "typo-root").exists():
                outcome = "silent"
            cases[what] = outcome
    finally:
        os.environ["PATH"] = path
    out = base / "seed-1"
    outcome = cli_outcome([*RUN, "--seed", "-1", "--out", out])
    cases["--seed -1 (before writing the manifest)"] = "silent" if (out / "manifest.json").exists() else outcome
    ref = base / "_ref"
    cases["table --output a folder"] = cli_outcome(["table", ref, "--output", base])
    cases["plot --output a folder"] = cli_outcome(["plot", ref, "--output", base])
    cases["plot --output without extension"] = cli_outcome(["plot", ref, "--output", base / "curves"])
    for text in ("[1, 2]", '"text"'):
        out = fresh_run(base, f"manifest-{abs(hash(text))}")
        (out / "manifest.json").write_text(text)
        cases[f"manifest {text} then table"] = cli_outcome(["table", out])
        cases[f"manifest {text} then run"] = cli_outcome([*RUN, "--out", out])
    # preset mismatch: the error must name the differing keys only
    out = fresh_run(base, "mismatch")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = cli.main(["run", "digits", "--methods", "random", "--trials", "1", "--no-progress", "--out", str(out)])
    cases["preset mismatch message"] = "clear" if status == 2 and len(err.getvalue()) < 800 else "misleading"
    # a full disk: the second record fails with ENOSPC
    from balance_lite.experiments import runner

    append, calls = runner.append_record, []

    def full(p, r):
        calls.append(p)
        if len(calls) > 1:
            raise OSError(28, "No space left on device", str(p))
        append(p, r)

    runner.append_record = full
    try:
        cases["ENOSPC while writing results"] = cli_outcome([*RUN, "--out", base / "enospc"])
    finally:
        runner.append_record = append
    # closed stdout pipe and Ctrl-C, real processes
    out = base / "pipe"
    p = subprocess.Popen([sys.executable, "-m", "balance_lite.cli", *RUN, "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.stdout.readline()
    p.stdout.close()
    err = p.communicate()[1]
    finished = (out / UNIT).exists() and read_records(out / UNIT, repair=False)[-1]["selected"] == []
    cases["run | head -1 (closed stdout)"] = "ok" if p.returncode == 0 and finished and "Traceback" not in err else "traceback"
    out = base / "sigint"
    p = subprocess.Popen([sys.executable, "-m", "balance_lite.cli", *RUN, "--out", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    start = time.monotonic()
    while not ((out / UNIT).exists() and (out / UNIT).read_text().count("\n")) and time.monotonic() - start < 300:
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    err = p.communicate()[1]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    cases["Ctrl-C during a run"] = ("clear" if len(lines) == 1 and "resum" in err and "Traceback" not in err
                                    else "traceback")
    return cases


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="probe-trust-"))
    run_experiment("digits", out=base / "_ref", methods=["random"], trials=1, quick=True, progress=False, log=quiet)
    run_experiment("digits", out=base / "_seed5", methods=["random"], trials=1, seed=5, quick=True, progress=False,
                   log=quiet)
    areas = {}
    for name, probe in (("results folder", area_results), ("data files and arguments", area_data),
                        ("errors", area_errors)):
        areas[name] = probe(base)
    total = {}
    for name, cases in areas.items():
        counts = {k: sum(v == k for v in cases.values()) for k in ("ok", "clear", "silent", "misleading", "traceback")}
        print(f"\n## {name}: {len(cases)} tried, " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        for what, outcome in cases.items():
            print(f"  {outcome:10s} {what}")
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
    print(f"\nall: {sum(len(c) for c in areas.values())} tried, " + ", ".join(f"{v} {k}" for k, v in total.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(areas, indent=1))
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
