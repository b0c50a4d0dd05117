"""Tests of balance_lite.experiments.studies: Fig. 1 and the App. B.4 dispersion study, on the embedded digits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite import acquisition, data
from balance_lite.clustering import farthest_first_classes, pairwise_hamming
from balance_lite.experiments.studies import coefficient_of_variation, dispersion_study, fig1_study, main, write_study

FAST = {"max_epochs": 2, "epoch_size": 256}
PER_CLASS = (1, 4, 4, 4, 4, 4, 4, 4, 4, 1)


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", seed=0)


@pytest.fixture(scope="module")
def fig1(digits):
    return fig1_study("digits", num_samples=24, per_class=PER_CLASS, train_overrides=FAST, splits=digits)


@pytest.fixture(scope="module")
def dispersion(digits):
    return dispersion_study("digits", num_pairs=8, repeats=3, pool_points=60, holdout_points=80,
                            train_overrides=FAST, splits=digits)


def test_fig1_shapes_and_invariants(fig1, digits):
    S = 24
    assert fig1["train_per_class"] == list(PER_CLASS) and fig1["train_size"] == sum(PER_CLASS)
    assert fig1["holdout_size"] == len(digits.holdout)
    assert len(fig1["accuracy"]) == len(fig1["classes"]) == S
    assert np.array(fig1["tsne"]).shape == (S + 1, 2)
    masses = np.array(fig1["masses"])
    assert len(masses) == len(fig1["centers"]) == len(fig1["class_accuracy"])
    assert masses.sum() == pytest.approx(1.0) and (masses > 0).all()
    # Every class label is used, and each class's mass is its share of the S hypotheses.
    counts = np.bincount(fig1["classes"], minlength=len(masses))
    np.testing.assert_allclose(masses, counts / S)
    # Each class center belongs to its own class.
    assert [fig1["classes"][c] for c in fig1["centers"]] == list(range(len(masses)))
    assert fig1["tau"] == pytest.approx(fig1["val_error"] / fig1["divisor"])
    assert all(0.0 <= a <= 1.0 for a in fig1["accuracy"])
    for d, other in fig1["other_divisors"].items():
        assert sum(other["masses"]) == pytest.approx(1.0)
        assert len(other["classes"]) == S and other["num_classes"] == len(other["masses"])
    # A larger radius never gives more classes (farthest-first's centers come in a fixed order).
    by_tau = sorted((o["tau"], o["num_classes"]) for o in fig1["other_divisors"].values())
    assert all(a[1] >= b[1] for a, b in zip(by_tau, by_tau[1:]))


def test_fig1_disagreements_give_the_classes(fig1):
    S, U = fig1["num_samples"], fig1["holdout_size"]
    counts = np.array(fig1["disagreements"])
    assert counts.shape == (S * (S - 1) // 2,) and counts.min() >= 0 and counts.max() <= U
    dist = np.zeros((S, S))
    dist[np.triu_indices(S, 1)] = counts / U
    dist = dist + dist.T
    classes, centers = farthest_first_classes(torch.from_numpy(dist), radius=fig1["tau"])
    assert classes.tolist() == fig1["classes"] and centers == fig1["centers"]


def test_fig1_accuracy_is_one_minus_distance_to_the_truth(fig1):
    # The class accuracy is the mean accuracy of its members.
    acc, classes = np.array(fig1["accuracy"]), np.array(fig1["classes"])
    for j, a in enumerate(fig1["class_accuracy"]):
        assert a == pytest.approx(acc[classes == j].mean())


def test_fig1_same_seed_same_output(fig1, digits):
    again = fig1_study("digits", num_samples=24, per_class=PER_CLASS, train_overrides=FAST, splits=digits)
    for key in ("classes", "masses", "accuracy", "tau", "tsne", "train_per_class"):
        assert again[key] == fig1[key], key


def test_fig1_rejects_bad_arguments(digits):
    with pytest.raises(ValueError, match="per_class"):
        fig1_study("digits", num_samples=4, per_class=(1, 2), splits=digits, train_overrides=FAST)
    with pytest.raises(ValueError, match="per_class\\[3\\]"):
        fig1_study("digits", num_samples=4, per_class=(1, 1, 1, 10_000, 1, 1, 1, 1, 1, 1), splits=digits,
                   train_overrides=FAST)
    with pytest.raises(ValueError, match="num_samples"):
        fig1_study("digits", num_samples=1, splits=digits, train_overrides=FAST)
    with pytest.raises(ValueError, match="class_weighted"):
        fig1_study("digits", num_samples=4, per_class=PER_CLASS, splits=digits,
                   train_overrides={**FAST, "class_weighted": False})


def test_dispersion_shapes_and_invariants(dispersion):
    assert dispersion["pool_points"] == 60 and dispersion["holdout_points"] == 80
    assert len(dispersion["edges_cut"]) == 3 and all(0 <= e <= 8 for e in dispersion["edges_cut"])
    assert dispersion["tau"] == pytest.approx(dispersion["val_error"] / dispersion["divisor"])
    bins = len(dispersion["bin_edges"]) - 1
    for m in ("balance", "bald"):
        s = dispersion["methods"][m]
        cv = [c for c in s["cv"] if c is not None]
        assert len(s["cv"]) == len(s["mean_score"]) == 60
        assert all(c >= 0 for c in cv) and all(v >= 0 for v in s["mean_score"])
        assert s["zero_mean"] == 60 - len(cv)
        # Points without a CV are exactly those whose estimates are all 0.
        assert all((c is None) == (v == 0) for c, v in zip(s["cv"], s["mean_score"]))
        assert len(s["histogram"]) == bins
        assert sum(s["histogram"]) + s["above_range"] == len(cv)
        q = list(s["quantiles"].values())
        assert q == sorted(q)


def test_dispersion_same_seed_same_output(dispersion, digits):
    again = dispersion_study("digits", num_pairs=8, repeats=3, pool_points=60, holdout_points=80,
                             train_overrides=FAST, splits=digits)
    assert again["methods"] == dispersion["methods"] and again["edges_cut"] == dispersion["edges_cut"]


def test_dispersion_rejects_bad_arguments(digits):
    for kwargs, name in (({"repeats": 1}, "repeats"), ({"num_pairs": 0}, "num_pairs"),
                         ({"pool_points": 10**6}, "pool_points"), ({"holdout_points": 0}, "holdout_points")):
        with pytest.raises(ValueError, match=name):
            dispersion_study("digits", splits=digits, train_overrides=FAST, **kwargs)


@settings(deadline=None, max_examples=30)
@given(r=st.integers(2, 6), n=st.integers(1, 8), seed=st.integers(0, 2**16), zero=st.booleans())
def test_coefficient_of_variation_matches_numpy(r, n, seed, zero):
    x = np.random.default_rng(seed).exponential(size=(r, n))
    if zero:
        x[:, 0] = 0.0
    cv = coefficient_of_variation(torch.from_numpy(x)).numpy()
    mean = x.mean(0)
    expected = np.where(mean > 0, x.std(0, ddof=1) / np.where(mean > 0, mean, 1.0), np.nan)
    np.testing.assert_allclose(cv, expected, rtol=1e-12)
    assert (cv[np.isfinite(cv)] >= 0).all()
    assert np.isnan(cv[0]) == zero
    # Scale-free: multiplying every estimate by a positive constant keeps the CV.
    np.testing.assert_allclose(coefficient_of_variation(torch.from_numpy(3.7 * x)).numpy(), cv, rtol=1e-10)


def test_coefficient_of_variation_rejects_bad_input():
    with pytest.raises(ValueError, match="estimates"):
        coefficient_of_variation(torch.ones(1, 4))
    with pytest.raises(ValueError, match="non-negative"):
        coefficient_of_variation(torch.tensor([[1.0], [-1.0]]))


def test_dispersion_scores_are_in_range(digits):
    # BALD lies in [0, log C]; a BALanCe score in [0, fraction of pairs cut] <= 1.
    study = dispersion_study("digits", num_pairs=4, repeats=2, pool_points=10, holdout_points=20,
                             train_overrides=FAST, splits=digits)
    bald = np.array(study["methods"]["bald"]["mean_score"])
    assert bald.shape == (10,) and (bald <= math.log(10) + 1e-9).all()
    balance = np.array(study["methods"]["balance"]["mean_score"])
    assert (balance <= 1.0 + 1e-12).all()  # each pair contributes at most 1/K


def test_write_study_round_trips_and_rounds(tmp_path, dispersion):
    path = write_study(dispersion, tmp_path / "sub" / "d.json", digits=4)
    back = json.loads(path.read_text())
    assert back["study"] == "dispersion" and back["pool_points"] == 60
    assert back["tau"] == pytest.approx(dispersion["tau"], rel=1e-3)
    cvs = [v for v in back["methods"]["bald"]["cv"] if v is not None]
    assert cvs and all(float(f"{v:.4g}") == v for v in cvs)  # 4 significant digits
    with pytest.raises(ValueError, match="study"):
        write_study({"no": 1}, tmp_path / "x.json")
    with pytest.raises(ValueError, match="digits"):
        write_study(dispersion, tmp_path / "x.json", digits=0)


def test_write_study_turns_nan_into_null(tmp_path):
    path = write_study({"study": "x", "values": [1.23456789, float("nan"), float("inf")]}, tmp_path / "n.json",
                       digits=3)
    assert json.loads(path.read_text())["values"] == [1.23, None, None]


def test_pairwise_hamming_of_the_target_is_one_minus_accuracy(digits):
    preds = torch.stack([digits.holdout.y, torch.zeros_like(digits.holdout.y)])
    d = pairwise_hamming(torch.cat([preds, digits.holdout.y[None]]))
    assert float(d[0, 2]) == 0.0
    assert float(d[1, 2]) == pytest.approx(float((digits.holdout.y != 0).double().mean()))
    assert acquisition.annealed_tau(0.2, 2) == pytest.approx(0.1)


def test_command_line_writes_json(tmp_path, monkeypatch):
    import balance_lite.experiments.studies as studies

    calls = {}

    def fake(preset, **kwargs):
        calls["preset"], calls["kwargs"] = preset, kwargs
        return {"study": "dispersion", "seconds": {}, "values": [0.5]}

    monkeypatch.setattr(studies, "dispersion_study", fake)
    out = tmp_path / "d.json"
    assert main(["dispersion", "--preset", "digits", "--num-pairs", "3", "--pool-points", "5", "--out", str(out)]) == 0
    assert calls["preset"] == "digits" and calls["kwargs"]["num_pairs"] == 3 and calls["kwargs"]["pool_points"] == 5
    back = json.loads(out.read_text())
    assert back["values"] == [0.5] and back["command"][-1] == str(out)
