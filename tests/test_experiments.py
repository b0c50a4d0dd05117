"""Tests for balance_lite.experiments (presets, runner, results files, report); the CLI is in test_cli.py."""

import json
import math
from functools import partial

import numpy as np
import pytest
import torch

from balance_lite import data
from balance_lite.experiments import (
    PRESETS,
    curves,
    get_preset,
    load_results,
    plan_units,
    read_manifest,
    read_records,
    results_table,
    run_experiment,
    shrink,
)
from balance_lite.experiments.report import format_table
from balance_lite.strategies import get_strategy
from balance_lite.experiments.results import append_record, atomic_write_text, parse_unit_filename, unit_filename
from tests.experiment_helpers import quiet, run_digits

FIELDS = ("labels", "accuracy", "macro_auc", "macro_f1", "nll", "tau", "num_edges", "selected", "seconds")




def selections(path):
    return [r["selected"] for r in read_records(path, repair=False)]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """digits-quick, random, two trials, seed 0, run in this process: the reference for other executors."""
    out = tmp_path_factory.mktemp("baseline")
    run_digits(out, trials=2, seed=0)
    return out


def test_run_writes_records_and_manifest(tmp_path):
    out = tmp_path / "digits"
    statuses = run_digits(out, trials=2, seed=3)
    assert sorted(s["unit"] for s in statuses) == ["random_B10_trial0.jsonl", "random_B10_trial1.jsonl"]
    preset = get_preset("digits", quick=True)
    for trial in (0, 1):
        records = read_records(out / f"random_B10_trial{trial}.jsonl")
        assert [r["labels"] for r in records] == list(range(20, preset.unit_budget(10, 20) + 1, 10)) == [20, 30, 40, 50]
        for r in records:
            assert all(k in r for k in FIELDS)
        assert records[-1]["selected"] == []
    manifest = read_manifest(out)
    assert manifest["preset"]["name"] == "digits" and manifest["preset"]["is_quick"]
    assert manifest["seed"] == 3 and manifest["trials"] == 2 and manifest["methods"] == ["random"]
    run = manifest["runs"][0]
    assert run["device"] == "cpu" and "torch" in run["versions"] and "git_commit" in run
    # the hardware, and when the command ended, how long it took and whether it finished
    assert run["hardware"]["cpus"] >= 1 and run["hardware"]["machine"] and "gpu" not in run["hardware"]
    assert run["ended"] >= run["started"] and run["wall_seconds"] >= 0 and run["interrupted"] is False
    # trial t uses seed base + t: trial 1 of base 3 is trial 0 of base 4
    other = tmp_path / "other"
    run_digits(other, trials=1, seed=4)
    assert selections(out / "random_B10_trial1.jsonl") == selections(other / "random_B10_trial0.jsonl")


def test_same_command_twice_gives_identical_selections(tmp_path, baseline):
    run_digits(tmp_path, trials=1, seed=0)
    name = "random_B10_trial0.jsonl"
    assert selections(tmp_path / name) == selections(baseline / name)
    assert [r["accuracy"] for r in read_records(tmp_path / name)] == [r["accuracy"] for r in read_records(baseline / name)]


def test_resume_after_a_killed_run_recomputes_only_what_is_missing(tmp_path):
    out = tmp_path / "r"
    run_digits(out, trials=2)
    path = out / "random_B10_trial0.jsonl"
    full = read_records(path)
    lines = path.read_text().splitlines(keepends=True)
    # simulate a kill mid-way: two complete iterations, then half of the third line
    path.write_text("".join(lines[:2]) + lines[2][: len(lines[2]) // 2])
    assert len(read_records(path, repair=False)) == 2
    statuses = {s["unit"]: s for s in run_digits(out, trials=2)}
    assert statuses["random_B10_trial1.jsonl"]["status"] == "done"  # finished trial: untouched
    resumed = statuses["random_B10_trial0.jsonl"]
    assert resumed["status"] == "ran" and resumed["new"] == len(full) - 2
    again = read_records(path)
    assert [r["selected"] for r in again] == [r["selected"] for r in full]
    assert [r["accuracy"] for r in again] == [r["accuracy"] for r in full]
    assert path.read_text().endswith("\n") and len(path.read_text().splitlines()) == len(full)
    assert len(read_manifest(out)["runs"]) == 2
    # everything finished: nothing runs
    assert all(s["status"] == "done" for s in run_digits(out, trials=2))


def test_results_folder_refuses_other_settings(tmp_path):
    out = tmp_path / "r"
    run_digits(out, seed=0)
    with pytest.raises(ValueError, match="another seed"):
        run_digits(out, seed=1)
    with pytest.raises(ValueError, match="another preset"):
        run_digits(out, quick=False, seed=0, trials=1)
    run_digits(out, seed=0, trials=2)  # more trials: fine
    assert read_manifest(out)["trials"] == 2


def record(labels, selected, **kw):
    """A valid results record (the fields the schema requires)."""
    return {"labels": labels, "accuracy": 0.5, "macro_auc": 0.9, "macro_f1": 0.5, "nll": 1.0, "selected": selected, **kw}


def test_read_records_drops_only_a_torn_last_line(tmp_path):
    path = tmp_path / "x.jsonl"
    append_record(path, record(20, list(range(10)), nll=math.nan))
    append_record(path, record(30, []))
    with open(path, "a") as f:
        f.write('{"labels": 40, "sel')
    records = read_records(path)
    assert [r["labels"] for r in records] == [20, 30] and math.isnan(records[0]["nll"])
    assert path.read_text().count("\n") == 2 and path.read_text().endswith("\n")  # repaired on disk
    path.write_text('{"labels": 20}\nnot json\n{"labels": 30}\n')
    with pytest.raises(ValueError, match="line 2"):
        read_records(path)
    assert read_records(tmp_path / "missing.jsonl") == []
    atomic_write_text(tmp_path / "sub/a.txt", "hello")
    assert (tmp_path / "sub/a.txt").read_text() == "hello"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.txt"]  # no temporary left behind


def test_unit_file_names_round_trip():
    assert parse_unit_filename(unit_filename("batch-balance", 10, 3)) == ("batch-balance", 10, 3)
    assert parse_unit_filename("manifest.json") is None
    with pytest.raises(ValueError, match="method"):
        unit_filename("Batch_BALanCe", 1, 0)
    units = plan_units(["a", "b"], [1, 10], 2)
    assert len(units) == 8 and units[0].trial == 0 and units[-1].trial == 1


def test_parallel_processes_give_the_same_results(tmp_path, baseline):
    run_digits(tmp_path, trials=2, jobs=2)
    for t in (0, 1):
        name = f"random_B10_trial{t}.jsonl"
        assert selections(tmp_path / name) == selections(baseline / name)


def test_submitit_local_executor_uses_the_same_layout(tmp_path, baseline):
    pytest.importorskip("submitit")
    statuses = run_digits(tmp_path, seed=0, executor="submitit-local")
    assert [s["status"] for s in statuses] == ["ran"]
    name = "random_B10_trial0.jsonl"
    assert selections(tmp_path / name) == selections(baseline / name)
    assert read_manifest(tmp_path)["runs"][0]["executor"] == "submitit-local"
    # a half-written line, then submitit's in-process debug executor resumes the unit
    lines = (tmp_path / name).read_text().splitlines(keepends=True)
    (tmp_path / name).write_text("".join(lines[:-1]) + lines[-1][:10])
    assert [s["new"] for s in run_digits(tmp_path, seed=0, executor="submitit-debug")] == [1]
    assert selections(tmp_path / name) == selections(baseline / name)


def fake_results():
    """Two methods x three trials with known accuracies."""
    out = {}
    for method, base in (("random", 0.5), ("batch-balance", 0.6)):
        out[(method, 10)] = {
            t: [{"labels": n, "accuracy": base + 0.01 * t + 0.001 * n, "macro_auc": 0.9, "macro_f1": 0.5,
                 "nll": 1.0 + t, "selected": []} for n in (20, 30, 40 if method == "random" else 50)]
            for t in range(3)
        }
    return out


def test_curves_and_table_statistics():
    results = fake_results()
    bb = {c.method: c for c in curves(results)}["batch-balance"]
    assert bb.method == "batch-balance" and list(bb.labels) == [20, 30, 50]
    np.testing.assert_allclose(bb.median, [0.63, 0.64, 0.66])
    np.testing.assert_allclose(bb.lower, [0.625, 0.635, 0.655])  # quartiles of three values a, a+.01, a+.02
    np.testing.assert_allclose(bb.upper, [0.635, 0.645, 0.665])
    rows = results_table(results)  # default: 40, the largest label count every trial reached
    by = {r["method"]: r for r in rows}
    assert by["random"]["labels"] == [40] and by["batch-balance"]["labels"] == [30]
    assert by["random"]["accuracy"] == pytest.approx((0.55, 0.545, 0.555))
    assert by["random"]["nll"] == pytest.approx((2.0, 1.5, 2.5))
    rows = results_table(results, at=20)
    assert all(r["labels"] == [20] for r in rows)
    text = format_table(rows)
    assert text.count("\n") == 4 and "| random | 10 | 20 | 3 | 0.5300 [0.5250, 0.5350]" in text
    with pytest.raises(ValueError, match="at=10"):
        results_table(results, at=10)
    with pytest.raises(ValueError, match="metric"):
        curves(results, "loss")


#: The presets on the embedded digits: our own, not the paper's experiments.
OURS = {name for name, p in PRESETS.items() if p.dataset in ("digits", "repeated-digits")}


def test_starting_budget_presets_draw_their_initial_set_per_trial(tmp_path):
    splits = data.load("digits", seed=0)
    assert get_preset("digits").with_initial(splits, 0) is splits
    for k in (1, 5):
        preset = get_preset(f"digits-start{k}")
        chosen = preset.with_initial(splits, 3)
        labels = chosen.pool.y[chosen.initial]
        assert torch.equal(torch.bincount(labels, minlength=10), torch.full((10,), k))
        assert chosen.initial == preset.with_initial(splits, 3).initial != preset.with_initial(splits, 4).initial
    run_experiment("digits-start1", out=tmp_path, methods=["random"], trials=1, quick=True, progress=False, log=quiet)
    records = read_records(tmp_path / unit_filename("random", 10, 0))
    assert [r["labels"] for r in records] == [10, 20, 30, 40]
    assert get_preset("digits-batches").batch_sizes == (5, 20)


def test_presets_build_every_strategy_and_quick_variants_are_small():
    from balance_lite.strategies import available

    for name, preset in PRESETS.items():
        quick = preset.quick_variant()
        assert quick.is_quick and quick.num_pairs <= preset.num_pairs and preset.iterations is None
        for b in preset.batch_sizes:
            assert quick.unit_budget(b, 20) == 20 + 3 * b < preset.unit_budget(b, 20) == preset.budget
        for method in available():
            strategy = preset.strategy(method)
            assert strategy.name == method
        assert preset.train_config().max_epochs >= quick.train_config().max_epochs
    mnist = get_preset("mnist")
    assert mnist.batch_sizes == (1, 3, 10) and mnist.num_pairs == 100 and mnist.budget == 260
    assert get_preset("emnist-balanced").batch_sizes == (5,) and get_preset("emnist-byclass").num_pairs == 10
    assert mnist.strategy("batch-balance").params()["num_pairs"] == 100
    assert mnist.strategy("bald").params()["num_samples"] == 100
    with pytest.raises(ValueError, match="preset must be one of"):
        get_preset("cifar")


def test_every_preset_matches_the_papers_settings_table():
    from balance_lite.experiments.presets import paper_settings, setting_value

    rows = paper_settings()
    assert {r["preset"] for r in rows} == set(PRESETS) - OURS
    for row in rows:
        assert row["source"], row
        expected = row["ours"] or row["paper"]
        assert not row["ours"] or row["why"], f"{row['preset']} {row['setting']}: a departure needs a reason"
        got = setting_value(get_preset(row["preset"]), row["setting"])
        assert got == expected, f"{row['preset']} {row['setting']}: preset {got}, table {expected} ({row['source']})"
    with pytest.raises(ValueError, match="setting must be"):
        setting_value(get_preset("mnist"), "colour")


def test_cpu_protocol_reduces_every_method_alike_and_is_recorded(tmp_path):
    for name, preset in PRESETS.items():
        cpu = preset.protocol_variant("cpu")
        assert cpu.protocol == "cpu" and cpu.trials >= 3 and cpu.budget <= preset.budget
        assert cpu.num_pairs <= preset.num_pairs and cpu.num_samples <= preset.num_samples
        assert cpu.batch_sizes == preset.batch_sizes and cpu.divisor == preset.divisor
        if name not in OURS:
            assert cpu.cpu_notes and cpu.num_samples == cpu.num_pairs  # S = K for every method, as in the paper
    assert get_preset("repeated-mnist", protocol="cpu").candidates is None  # duplicates are the point
    assert get_preset("mnist", protocol="cpu").candidates == 2000
    with pytest.raises(ValueError, match="protocol must be one of"):
        get_preset("mnist", protocol="gpu")
    out = tmp_path / "cpu"
    run_digits(out, trials=1, protocol="cpu")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["preset"]["protocol"] == "cpu"
    with pytest.raises(ValueError, match="another preset"):
        run_digits(out, trials=1, protocol="paper")


def test_table2_presets_differ_only_in_their_repetition_count():
    from balance_lite.experiments.presets import setting_value

    names = [f"table2-repeat{r}" for r in range(4)]
    assert [setting_value(get_preset(n), "pool_copies") for n in names] == ["1", "2", "3", "4"]
    assert [get_preset(n).dataset for n in names] == [f"repeated-mnist-{r}" for r in range(4)]
    assert setting_value(get_preset("repeated-mnist"), "pool_copies") == "3"
    assert setting_value(get_preset("mnist"), "pool_copies") == "1" and setting_value(get_preset("mnist"), "noise_std") == "0"
    same = lambda p: {k: v for k, v in p.to_dict().items() if k not in ("name", "dataset", "notes")}  # noqa: E731
    for protocol in ("paper", "cpu"):
        assert all(same(get_preset(n, protocol=protocol)) == same(get_preset(names[0], protocol=protocol)) for n in names)
    paper, cpu = get_preset("table2-repeat2"), get_preset("table2-repeat2", protocol="cpu")
    assert (paper.batch_sizes, paper.divisor, paper.num_pairs, paper.num_samples, paper.budget) == ((10,), 4.0, 100, 100, 300)
    assert (paper.candidates, paper.sizes) == (None, {})
    assert (cpu.budget, cpu.trials, cpu.num_pairs, cpu.num_samples, cpu.candidates) == (130, 3, 20, 20, 2000)
    assert cpu.sizes == {"holdout": 2000, "val": 2000} and "2,000 random original images" in cpu.cpu_notes
    assert "pool" not in get_preset("table2-repeat3", quick=True).sizes  # the quick subset keeps whole images


def test_method_variants_override_the_presets_parameters():
    mnist = get_preset("mnist")
    fixed = mnist.strategy("batch-balance-tau0.3").params()
    assert fixed["tau"] == 0.3 and fixed["num_pairs"] == 100
    assert mnist.strategy("batch-balance-eps8").params()["divisor"] == 8.0
    assert mnist.strategy("batch-balance").params()["divisor"] == 2.0
    assert get_preset("imbalanced-mnist", protocol="cpu").strategy("batch-balance-k50").params()["num_pairs"] == 50
    assert {"batch-balance-tau0.05", "batch-balance-eps4", "random"} <= set(mnist.methods())
    for name in mnist.variants:
        assert parse_unit_filename(unit_filename(name, 10, 0)) == (name, 10, 0)
    with pytest.raises(ValueError, match="methods must be among"):
        run_experiment("digits", out="unused", methods=["batch-balance-tau0.3"], quick=True, log=quiet)


def test_candidates_limit_the_points_scored_each_iteration():
    from balance_lite.loop import run_active_learning
    from balance_lite.models import build_model

    splits = data.load("digits", seed=0)
    factory = partial(build_model, "digits", splits.input_shape, splits.num_classes)
    config = get_preset("digits", quick=True).train_config()
    seen = []

    class Spy(get_strategy("random").__class__):
        def predict(self, model, pool_x, holdout_x, *, generator):
            seen.append(len(pool_x))
            return super().predict(model, pool_x, holdout_x, generator=generator)

    result = run_active_learning(splits, factory, Spy(), batch_size=5, budget=30, train_config=config,
                                 eval_samples=2, candidates=50)
    assert seen == [50, 50] and len(set(result.labeled)) == 30
    with pytest.raises(ValueError, match="candidates must be"):
        run_active_learning(splits, factory, "random", batch_size=5, budget=30, candidates=0)


def test_every_preset_dataset_is_a_data_name_with_a_network():
    from balance_lite.models import NETWORKS

    for preset in PRESETS.values():
        assert preset.dataset in data.available() and data.dataset_spec(preset.dataset).network in NETWORKS


def test_shrink_keeps_the_initial_examples():
    splits = data.load("digits", seed=0)
    small = shrink(splits, {"pool": 100, "test": 50}, seed=1)
    assert len(small.pool) == 100 and len(small.test) == 50 and len(small.val) == len(splits.val)
    assert torch.equal(small.pool.x[small.initial], splits.pool.x[splits.initial])
    assert torch.equal(small.pool.y[small.initial], splits.pool.y[splits.initial])
    with pytest.raises(ValueError, match="sizes"):
        shrink(splits, {"pool": 5}, seed=0)
    with pytest.raises(ValueError, match="sizes must name"):
        shrink(splits, {"train": 5}, seed=0)


def test_random_and_batch_balance_end_to_end_on_digits_quick(tmp_path):
    out = tmp_path / "e2e"
    run_digits(out, methods=["random", "batch-balance"], trials=1, seed=0)
    results = load_results(out)
    assert set(results) == {("random", 10), ("batch-balance", 10)}
    preset = get_preset("digits", quick=True)
    for (method, _), trials in results.items():
        records = trials[0]
        assert [r["labels"] for r in records] == [20, 30, 40, 50]
        for r in records[:-1]:
            assert all(k in r for k in FIELDS) and len(r["selected"]) == 10
            assert set(r["seconds"]) == {"train", "evaluate", "predict", "acquire"}
            if method == "batch-balance":
                assert 0 < r["tau"] < 1 and 0 <= r["num_edges"] <= preset.num_pairs
            else:
                assert r["tau"] is None and r["num_edges"] is None
    manifest = read_manifest(out)
    assert manifest["strategies"]["batch-balance"]["num_pairs"] == preset.num_pairs
    rows = {r["method"]: r for r in results_table(out)}
    assert rows["batch-balance"]["labels"] == [50]


def test_table_default_label_count_is_per_batch_size():
    results = fake_results()
    results[("random", 1)] = {0: [{"labels": n, "accuracy": 0.5, "macro_auc": 0.9, "macro_f1": 0.5, "nll": 1.0,
                                   "selected": []} for n in (20, 21, 22)]}
    rows = {(r["method"], r["batch_size"]): r for r in results_table(results)}
    assert rows["random", 1]["labels"] == [22] and rows["random", 10]["labels"] == [40]
