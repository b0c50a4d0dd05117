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
    monkeypatch.setitem(acq_bench.SCALES, "mnist", dict(N=300, K=6, C=4, B=4, D=16, L=7))
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
        "PowerBALD (BALD scores + power sampling)",
        "PowerBALanCe (Eq. 3 scores + power sampling)",
        "EPIG (T = 100 targets, scores + top-B)",
        "BADGE (k-means++ on gradients, D = 16)",
        "Core-Set (greedy k-centre, D = 16, L = 7)",
        "mnist_cnn.embed, dropout off (BADGE, Core-Set input)",
    ]
    assert all(row["seconds"] >= 0 and row["peak_mib"] >= 0 for row in table["rows"])  # printed to 0.01 s
    assert table["rows"][1]["note"] == "measured on 100 points: " + table["rows"][1]["note"].split(": ")[1]
    assert "N = 300, K = 6 pairs" in table["header"][0] and table["header"][0].endswith("D = 16, L = 7")


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
    for r in rows:  # the plain reference ran after every iteration, and the ratio is train / plain
        cells = r.split("|")
        plain, ratio = float(cells[10]), float(cells[11])
        assert plain > 0 and ratio == pytest.approx(float(cells[4]) / plain, rel=0.1, abs=0.02)
    assert re.search(r"# mean of the 2 acquiring iterations: train [\d.]+ s, .* train / plain [\d.]+", out)


def test_iteration_benchmark_process_clock_restores_the_loop_clock(capsys):
    import time

    from balance_lite import loop

    assert iter_bench.main(["--preset", "digits", "--iterations", "1", "--batch-size", "5", "--threads", "1",
                            "--clock", "process", "--no-plain"]) == 0
    assert "# clock process, torch threads 1" in capsys.readouterr().out
    assert loop.time is time


def test_plain_reference_is_the_same_network_with_torch_dropout():
    import torch

    from balance_lite.models import build_model
    from balance_lite.train import TrainConfig

    model = build_model("mnist", (1, 28, 28), 10)
    net = iter_bench.plain_network(model)
    kinds = [type(layer).__name__ for layer in net]
    assert kinds == ["Conv2d", "MaxPool2d", "ReLU", "Dropout2d", "Conv2d", "MaxPool2d", "ReLU", "Dropout2d",
                     "Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    model.eval(), net.eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(net(x), model(x), atol=1e-5)  # same weights
    x, y = torch.randn(12, 1, 28, 28), torch.arange(12) % 10
    before = [p.clone() for p in net.parameters()]
    best = iter_bench.plain_train(net, x, y, x, y, config=TrainConfig(epoch_size=24, batch_size=8), epochs=2,
                                  num_classes=10)
    assert 0.0 <= best <= 1.0
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_iteration_benchmark_rejects_zero_iterations():
    with pytest.raises(SystemExit):
        iter_bench.main(["--preset", "digits", "--iterations", "0"])


def test_iteration_benchmark_compares_the_training_routes(capsys):
    assert iter_bench.main(["--preset", "digits", "--compare-training", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"# training, 1 epochs on 20 labels \(best of 2\): fast [\d.]+ s, plain layers [\d.]+ s, "
                     r"plain loop [\d.]+ s", out)
    assert re.search(r"# fast / plain loop [\d.]+, plain layers / plain loop [\d.]+, fast / plain layers [\d.]+", out)
    assert "| iteration |" not in out


def test_store_script_writes_where_out_says_and_records_the_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(acq_bench.SCALES, "mnist", dict(N=200, K=4, C=3, B=3, D=8, L=5))
    acq_bench.main(["--scale", "mnist", "--num-configurations", "32", "--importance-pool", "50", "--skip-redux"])
    saved = tmp_path / "bench.txt"
    saved.write_text(capsys.readouterr().out)
    out = tmp_path / "stored.json"
    _store_script().main(["--out", str(out), "--from-output", str(saved), "--scale", "mnist"])
    import json

    record = json.loads(out.read_text())
    assert record["stored_by"].endswith(f"--out {out} --from-output SAVED_OUTPUT --scale mnist")
    assert record["command"] == "python -m balance_lite.benchmarks.acquisition --scale mnist"
    assert [r["method"] for r in record["scales"]["mnist"]["rows"]][0] == "Batch-BALanCe factorized"
