"""Tests for balance_lite.experiments.compare: AUBC tables, paired t-tests, the penalty matrix, the CLI."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from balance_lite import cli
from balance_lite.experiments.compare import (aubc_table, compare_report, format_penalty_matrix, paired_t_better,
                                              penalty_matrix)
from tests.experiment_helpers import run_digits


def curve(accs, start=10, step=10, finished=True):
    records = [{"labels": start + step * i, "accuracy": float(a), "selected": [0]} for i, a in enumerate(accs)]
    if finished:
        records[-1]["selected"] = []
    return records


def results_from(table):
    """``{method: [[acc per label count] per trial]}`` -> load_results's shape at B = 10."""
    return {(m, 10): {t: curve(accs) for t, accs in enumerate(trials)} for m, trials in table.items()}


# --- AUBC table ----------------------------------------------------------------------------------

def test_aubc_table_summarises_each_methods_trials_best_first():
    res = results_from({"a": [[0.5, 0.7, 0.9], [0.5, 0.5, 0.5], [0.6, 0.6, 0.6]],
                        "b": [[0.9, 0.9, 0.9], [0.8, 0.8, 0.8], [0.7, 0.9, 0.9]]})
    rows = aubc_table(res)
    assert [r["method"] for r in rows] == ["b", "a"]
    a = next(r for r in rows if r["method"] == "a")
    per_trial = [(0.6 + 0.8) / 2, 0.5, 0.6]  # two trapezoids of width 10, divided by the range 20
    assert a["aubc"] == pytest.approx(dict(enumerate(per_trial)))
    assert a["median"] == pytest.approx(np.median(per_trial))
    assert (a["q25"], a["q75"]) == pytest.approx(tuple(np.percentile(per_trial, [25, 75])))
    assert a["std"] == pytest.approx(np.std(per_trial, ddof=1))
    assert a["labels"] == (10, 30) and a["trials"] == 3


def test_aubc_table_stops_where_every_trial_stopped_and_skips_unfinished_trials():
    res = results_from({"a": [[0.5, 0.5, 1.0], [0.5, 0.5]], "b": [[0.5, 0.5, 0.5]]})
    res[("b", 10)][1] = curve([0.1, 0.1, 0.1], finished=False)
    rows = {r["method"]: r for r in aubc_table(res)}
    assert rows["a"]["labels"] == (10, 20) and rows["a"]["aubc"] == {0: 0.5, 1: 0.5}
    assert rows["b"]["trials"] == 1


def test_aubc_table_asks_for_a_batch_size_when_there_are_several():
    res = {**results_from({"a": [[0.5, 0.6]]}), ("a", 5): {0: curve([0.5, 0.6])}}
    with pytest.raises(ValueError, match="batch_size must be given"):
        aubc_table(res)
    with pytest.raises(ValueError, match="batch_size must be one of"):
        aubc_table(res, batch_size=3)
    with pytest.raises(ValueError, match="metric must be one of"):
        aubc_table(res, batch_size=5, metric="loss")
    assert aubc_table(res, batch_size=5)[0]["trials"] == 1


# --- paired t-test -------------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=2, max_size=8),
       st.sampled_from([0.01, 0.05, 0.2]))
def test_paired_t_better_agrees_with_the_t_distribution(pairs, alpha):
    a, b = map(np.array, zip(*pairs))
    d = a - b
    got = paired_t_better(a, b, alpha=alpha)
    assert got == -paired_t_better(b, a, alpha=alpha)
    if np.ptp(d) > 1e-9:
        t = d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))
        p = 2 * stats.t.sf(abs(t), df=len(d) - 1)
        if abs(p - alpha) > 1e-9:
            assert got == (int(np.sign(t)) if p < alpha else 0)


def test_paired_t_better_with_no_spread_and_bad_input():
    assert paired_t_better(np.array([0.7, 0.8]), np.array([0.6, 0.7])) == 1
    assert paired_t_better(np.array([0.7, 0.8]), np.array([0.7, 0.8])) == 0
    with pytest.raises(ValueError, match="at least two pairs"):
        paired_t_better(np.array([1.0]), np.array([0.0]))
    with pytest.raises(ValueError, match="same length"):
        paired_t_better(np.array([1.0, 2.0]), np.array([0.0]))
    with pytest.raises(ValueError, match="alpha"):
        paired_t_better(np.array([1.0, 2.0]), np.array([0.0, 1.0]), alpha=1.5)


# --- penalty matrix ------------------------------------------------------------------------------

def brute_force_penalty(table, alpha):
    """The definition, one label count and one ordered pair at a time."""
    methods = sorted(table)
    arr = {m: np.array(table[m]) for m in methods}  # [T, L]
    L = arr[methods[0]].shape[1]
    wins = np.zeros((len(methods), len(methods)))
    for i, j in itertools.permutations(range(len(methods)), 2):
        for n in range(L):
            d = arr[methods[i]][:, n] - arr[methods[j]][:, n]
            if np.ptp(d) <= 1e-12:
                wins[i, j] += d[0] > 1e-12
            else:
                wins[i, j] += stats.ttest_rel(arr[methods[i]][:, n], arr[methods[j]][:, n]).pvalue < alpha and d.mean() > 0
    return methods, wins / L


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 4), st.integers(2, 5), st.integers(2, 4), st.integers(0, 10_000))
def test_penalty_matrix_is_the_brute_force_definition(num_methods, trials, labels, seed):
    rng = np.random.default_rng(seed)
    table = {f"m{k}": (rng.random((trials, labels)) * 0.3 + 0.1 * k).round(3).tolist() for k in range(num_methods)}
    pm = penalty_matrix(results_from(table), alpha=0.1)
    methods, wins = brute_force_penalty(table, 0.1)
    assert pm.methods == methods
    np.testing.assert_allclose(pm.wins, wins, atol=1e-4)
    assert np.all(np.diag(pm.wins) == 0) and np.all(pm.wins + pm.wins.T <= 1 + 1e-9)
    assert pm.labels == [10 + 10 * i for i in range(labels)] and pm.trials == list(range(trials))


def test_a_method_against_a_copy_of_itself_is_never_penalised():
    rng = np.random.default_rng(0)
    trials = rng.random((5, 6)).tolist()
    pm = penalty_matrix(results_from({"a": trials, "a-copy": trials, "worse": (np.array(trials) - 0.2).tolist()}))
    assert pm.wins[0, 1] == pm.wins[1, 0] == 0
    assert pm.wins[0, 2] == pm.wins[1, 2] == 1 and pm.beaten().tolist() == [0, 0, 2]
    assert "| **beaten (column sum)** | **0.00** | **0.00** | **2.00** |" in format_penalty_matrix(pm)


def test_penalty_matrix_needs_two_shared_trials():
    with pytest.raises(ValueError, match="share 1 finished trial"):
        penalty_matrix(results_from({"a": [[0.5, 0.6]], "b": [[0.5, 0.7]]}))


# --- the report and the command ------------------------------------------------------------------

def test_compare_command_on_a_real_run(tmp_path, capsys):
    out = tmp_path / "r"
    run_digits(out, methods=["random", "entropy"], trials=2)
    report = compare_report(out)
    assert "## B = 10: AUBC of accuracy" in report and "penalty matrix (2 paired trials" in report
    assert cli.main(["compare", str(out), "--output", str(tmp_path / "c.md")]) == 0
    printed = capsys.readouterr().out
    assert printed == report == (tmp_path / "c.md").read_text()
    assert cli.main(["compare", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
