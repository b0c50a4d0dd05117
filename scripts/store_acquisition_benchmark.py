"""Run the acquisition benchmark and store its tables as JSON for the book.

Usage (from the repository root)::

    python scripts/store_acquisition_benchmark.py [benchmark options]   # e.g. --scale both
    python scripts/store_acquisition_benchmark.py --from-output FILE [the options FILE was run with]
    python scripts/store_acquisition_benchmark.py --out book/data/other.json [benchmark options]

runs ``python -m balance_lite.benchmarks.acquisition`` with the given options (or, with
``--from-output``, reads the saved output of such a run: the benchmark takes an hour or more on a
busy two-core machine), echoes its output, and writes ``book/data/acquisition_benchmark.json``: the exact command, the date, the machine,
every table row (method, seconds, peak MiB, note) per scale, the ratio and check lines, and the
raw output (or the file given by a leading ``--out FILE``). The chapter *Exact Batch-BALanCe at any
batch size* reads the default file; *Beyond the paper* reads ``book/data/acquisition_benchmark_newer.json``.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parents[1] / "book" / "data" / "acquisition_benchmark.json"


def parse(text: str) -> dict:
    """The benchmark's printed output as ``{scale: {"header": [...], "rows": [...], "notes": [...]}}``."""
    scales: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = {"header": [line[3:].strip()], "rows": [], "notes": []}
            scales[line[3:].split()[0].lower()] = current
        elif current is None or not line.strip():
            continue
        elif line.startswith("| ") and not line.startswith("| method"):
            cells = [part.strip() for part in line.strip().split("|")][1:]  # "| a | b | c | note"
            name, seconds, peak, note = cells[0], cells[1], cells[2], "|".join(cells[3:]).strip()
            current["rows"].append({"method": name, "seconds": float(seconds), "peak_mib": float(peak), "note": note})
        elif line.startswith("tau ="):
            current["header"].append(line.strip())
        elif line.startswith(("ratio", "- ")):
            current["notes"].append(line.strip())
    return scales


def main(argv: list[str]) -> None:
    out = OUT
    if argv[:1] == ["--out"] and len(argv) > 1:
        out, argv = Path(argv[1]).resolve(), argv[2:]
    shown_args = list(argv)
    if shown_args[:1] == ["--from-output"] and len(shown_args) > 1:
        shown_args[1] = "SAVED_OUTPUT"
    if out != OUT:
        shown_args = ["--out", str(out.relative_to(OUT.parents[2]) if out.is_relative_to(OUT.parents[2]) else out),
                      *shown_args]
    stored_by = "python scripts/store_acquisition_benchmark.py" + "".join(f" {a}" for a in shown_args)
    saved = None
    if argv[:1] == ["--from-output"]:
        saved, argv = Path(argv[1]), argv[2:]
    shown = "python -m balance_lite.benchmarks.acquisition" + "".join(f" {a}" for a in argv)
    if saved is None:
        command = [sys.executable, "-m", "balance_lite.benchmarks.acquisition", *argv]
        stdout = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        finished = datetime.datetime.now(datetime.timezone.utc)
    else:
        # the benchmark's own lines: from its title to its closing load-average line
        text = saved.read_text()
        start = text.index("# balance_lite acquisition benchmark")
        end = text.index("\n", text.index("at end", start)) + 1
        stdout = text[start:end]
        finished = datetime.datetime.fromtimestamp(saved.stat().st_mtime, datetime.timezone.utc)
    print(stdout, end="")
    record = {
        "command": shown,
        "stored_by": stored_by,
        "date": finished.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "scales": parse(stdout),
        "output": stdout,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"\nstored in {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")


if __name__ == "__main__":
    main(sys.argv[1:])
