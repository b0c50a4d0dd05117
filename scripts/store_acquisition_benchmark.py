"""Run the acquisition benchmark and store its tables as JSON for the book.

Usage (from the repository root)::

    python scripts/store_acquisition_benchmark.py [benchmark options]   # e.g. --scale both

runs ``python -m balance_lite.benchmarks.acquisition`` with the given options, echoes its output,
and writes ``book/data/acquisition_benchmark.json``: the exact command, the date, the machine,
every table row (method, seconds, peak MiB, note) per scale, the ratio and check lines, and the
raw output. The chapter *Exact Batch-BALanCe at any batch size* reads that file.
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
            name, seconds, peak, note = [part.strip() for part in line.strip().strip("|").split("|", 3)]
            current["rows"].append({"method": name, "seconds": float(seconds), "peak_mib": float(peak), "note": note})
        elif line.startswith("tau ="):
            current["header"].append(line.strip())
        elif line.startswith(("ratio", "- ")):
            current["notes"].append(line.strip())
    return scales


def main(argv: list[str]) -> None:
    command = [sys.executable, "-m", "balance_lite.benchmarks.acquisition", *argv]
    shown = "python -m balance_lite.benchmarks.acquisition" + "".join(f" {a}" for a in argv)
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    print(result.stdout, end="")
    record = {
        "command": shown,
        "stored_by": "python scripts/store_acquisition_benchmark.py" + "".join(f" {a}" for a in argv),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "scales": parse(result.stdout),
        "output": result.stdout,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(record, indent=1) + "\n")
    print(f"\nstored in {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
