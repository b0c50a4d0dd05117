"""The benchmark scripts run end to end on tiny inputs and print what the book and README read."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from balance_lite.benchmarks import acquisition as acq_bench
from balance_lite.benchmarks import iteration as iter_bench

ROOT = Path(__file__).resolve().parents[1]


def _store_script():
    spec = importlib.util.spec_from_file_location("store_bench", ROOT / "scripts" / "store_acquisition_benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_acquisition_benchmark_tables_parse(monkeypatch, capsys):
    monkeypatch.setitem(acq_bench.SCALES, "mnist", dict(N=300, K=6, C=4, B=4))
    acq_bench.main(["--scale", "mnist", "--num-configurations", "64", "--importance-pool", "100", "--skip-redux"])
    out = capsys.readouterr().out
    assert "factorized and enumerate pick the same first 3 points: True" in out
    assert re.search(r"ratio importance / factorized: \d+x", out)

    table = _store_script().parse(out)["mnist"]
    methods = [row["method"] for row in table["rows"]]
    assert methods == [
        "Batch-BALanCe factorized",
        "Batch-BALanCe importance (M = 64)",
        "Batch-BALanCe enumerate (b = 3)",
        "BatchBALD (ours, M = 64)",
        "BALD (scores + top-B)",
    ]
    assert all(row["seconds"] >= 0 and row["peak_mib"] >= 0 for row in table["rows"])  # printed to 0.01 s
    assert table["rows"][1]["note"] == "measured on 100 points: " + table["rows"][1]["note"].split(": ")[1]
    assert "N = 300, K = 6 pairs" in table["header"][0]


def test_iteration_benchmark_prints_one_row_per_iteration(capsys):
    assert iter_bench.main(["--preset", "digits", "--method", "batch-balance", "--iterations", "2",
                            "--batch-size", "5"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if re.match(r"\| \d+ \|", line)]
    assert [int(r.split("|")[2]) for r in rows] == [20, 25, 30]  # labels: 2 per class, then +5 twice
    train, evaluate, predict, acquire, total = (float(x) for x in rows[0].split("|")[4:9])
    assert predict > 0 and acquire >= 0  # printed to 0.01 s
    assert total == pytest.approx(train + evaluate + predict + acquire, abs=0.03)
    assert rows[-1].split("|")[6].strip() == "0.00"  # the budget is reached: no prediction


def test_iteration_benchmark_rejects_zero_iterations():
    with pytest.raises(SystemExit):
        iter_bench.main(["--preset", "digits", "--iterations", "0"])
