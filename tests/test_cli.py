"""Tests for the ``balance-lite`` command line, and for results folders written by older versions.

``tests/data/results_v0`` was written by ``balance-lite run digits --quick --methods
random,batch-balance,balance --trials 1`` at commit 04c6d6e, before the acquisition contract was
unified (records without ``fallback_reason`` and ``num_tied``, strategy parameters named
``method``): it must still load, plot and tabulate.
"""

import shutil
from pathlib import Path

import pytest

from balance_lite import cli
from balance_lite.experiments import curves, load_results, read_manifest, results_table
from balance_lite.loop import IterationRecord

OLD_RESULTS = Path(__file__).parent / "data" / "results_v0"


def test_cli_run_plot_table(tmp_path, capsys):
    out = tmp_path / "cli"
    assert cli.main(["run", "digits", "--quick", "--methods", "random", "--trials", "2", "--out", str(out),
                     "--no-progress"]) == 0
    assert len(load_results(out)[("random", 10)]) == 2
    assert cli.main(["plot", str(out)]) == 0
    assert (out / "accuracy.png").stat().st_size > 1000
    assert cli.main(["plot", str(out), "--metric", "nll", "--output", str(tmp_path / "nll.png")]) == 0
    assert (tmp_path / "nll.png").exists()
    capsys.readouterr()
    assert cli.main(["table", str(out), "--at", "30"]) == 0
    table = capsys.readouterr().out
    assert "| random | 10 | 30 | 2 |" in table
    assert cli.main(["presets"]) == 0
    assert "mnist" in capsys.readouterr().out
    assert cli.main(["run", "digits", "--quick", "--methods", "nope", "--out", str(out)]) == 2
    assert "methods must be among" in capsys.readouterr().err
    assert cli.main(["table", str(tmp_path / "missing")]) == 2
    assert cli.main(["run", "digits", "--batch-sizes", "3", "--out", str(tmp_path / "b")]) == 2
    with pytest.raises(SystemExit):
        cli.main(["run", "digits", "--executor", "kubernetes"])


def test_parser_knows_every_command_and_option():
    parser = cli.build_parser()
    args = parser.parse_args(["run", "mnist", "--quick", "--methods", "batch-balance,random", "--batch-sizes", "1,10",
                              "--trials", "3", "--jobs", "2"])
    assert (args.preset, args.quick, args.methods, args.batch_sizes, args.trials, args.jobs) == (
        "mnist", True, ["batch-balance", "random"], [1, 10], 3, 2)
    assert parser.parse_args(["table", "x", "--at", "130"]).at == 130
    assert parser.parse_args(["plot", "x", "--metric", "nll"]).metric == "nll"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "mnist", "--batch-sizes", "one"])


def test_results_written_before_the_contract_still_load():
    results = load_results(OLD_RESULTS)
    assert sorted(results) == [("balance", 10), ("batch-balance", 10), ("random", 10)]
    for runs in results.values():
        records = [IterationRecord.from_dict(r) for r in runs[0]]
        assert [r.labels for r in records] == [20, 30, 40, 50]
        assert records[-1].selected == [] and records[0].num_tied == [] and records[0].fallback_reason is None
    balance = [IterationRecord.from_dict(r) for r in results[("balance", 10)][0]]
    assert balance[0].tau is not None and balance[0].num_edges is not None
    assert read_manifest(OLD_RESULTS)["strategies"]["batch-balance"]["method"] == "factorized"
    assert {c.method for c in curves(OLD_RESULTS)} == {"balance", "batch-balance", "random"}
    assert {row["method"] for row in results_table(OLD_RESULTS)} == {"balance", "batch-balance", "random"}


def test_cli_plots_and_tabulates_an_old_results_folder(tmp_path, capsys):
    folder = tmp_path / "old"
    shutil.copytree(OLD_RESULTS, folder)
    assert cli.main(["plot", str(folder)]) == 0
    assert (folder / "accuracy.png").stat().st_size > 1000
    capsys.readouterr()
    assert cli.main(["table", str(folder), "--at", "50"]) == 0
    table = capsys.readouterr().out
    assert "| batch-balance | 10 | 50 | 1 |" in table and "| random | 10 | 50 | 1 |" in table
