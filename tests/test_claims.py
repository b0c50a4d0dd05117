"""Tests for balance_lite.experiments.claims: the paper's claims file, AUBC, paired verdicts, the CLI."""

import json
from pathlib import Path

import numpy as np
import pytest

from balance_lite import cli
from balance_lite.experiments import PRESETS, get_preset
from balance_lite.experiments.claims import Claim, aubc, claim_evidence, format_claims, load_claims, paired_aubc
from balance_lite.experiments.results import append_record, unit_filename
from balance_lite.strategies import available

PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper" / "000_cbe39a03ecf88b15.txt"


def test_every_claim_names_a_preset_methods_and_batch_sizes_that_exist():
    claims = load_claims()
    assert len({c.id for c in claims}) == len(claims) >= 15
    for c in claims:
        preset = get_preset(c.preset)
        assert c.preset in PRESETS and set(c.batch_sizes) <= set(preset.batch_sizes), c.id
        methods = {c.method, *c.others, *c.values}
        assert methods <= set(available()) | set(preset.variants), c.id
        assert c.quote and c.section and c.line > 0


@pytest.mark.skipif(not PAPER.exists(), reason="the paper's text is not beside this checkout")
def test_every_quote_is_the_papers_text_at_its_line():
    lines = PAPER.read_text(encoding="utf-8").splitlines()
    squash = lambda s: "".join(s.split())  # noqa: E731 - the text wraps lines and spaces digits ("10, 000")
    text = squash(" ".join(lines))
    for c in load_claims():
        assert squash(c.quote) in text, c.id
        window = squash(" ".join(lines[c.line - 3: c.line + 3]))
        assert any(squash(w) in window for w in c.quote.split(".")[0].split(",")[:1]), c.id


def test_aubc_is_the_mean_accuracy_over_the_budget():
    flat = [{"labels": n, "accuracy": 0.8} for n in (20, 30, 60)]
    assert aubc(flat) == pytest.approx(0.8)
    ramp = [{"labels": 0, "accuracy": 0.0}, {"labels": 10, "accuracy": 1.0}]
    assert aubc(ramp) == pytest.approx(0.5)
    assert aubc(ramp + [{"labels": 20, "accuracy": 1.0}], upto=10) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least two"):
        aubc(flat[:1])


def test_paired_aubc_uses_the_trials_both_ran_up_to_a_common_label_count():
    a = {0: [{"labels": 10, "accuracy": 0.5}, {"labels": 20, "accuracy": 0.7}, {"labels": 30, "accuracy": 0.0}],
         1: [{"labels": 10, "accuracy": 0.5}, {"labels": 20, "accuracy": 0.9}]}
    b = {0: [{"labels": 10, "accuracy": 0.5}, {"labels": 20, "accuracy": 0.6}], 2: []}
    mine, theirs = paired_aubc(a, b)
    assert mine.tolist() == pytest.approx([0.6]) and theirs.tolist() == pytest.approx([0.55])


def write_folder(folder, preset, curves):
    """A results folder: ``curves[(method, B)] = [accuracy list per trial]`` from 20 labels in steps of B."""
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"preset": get_preset(preset).to_dict()}))
    for (method, b), trials in curves.items():
        for t, accs in enumerate(trials):
            for i, acc in enumerate(accs):
                append_record(folder / unit_filename(method, b, t),
                              {"labels": 20 + i * b, "accuracy": acc, "macro_auc": 0.9, "macro_f1": 0.5, "nll": 1.0,
                               "selected": list(range(i * b, (i + 1) * b)) if i + 1 < len(accs) else []})
    return folder


def claim(**kw):
    base = dict(id="x", preset="dry-bean", section="S", line=1, quote="q", kind="better", method="batch-balance",
                others=("random",), batch_sizes=(10,), at=(30,))
    return Claim(**{**base, **kw})


def test_verdicts_follow_the_paired_rule(tmp_path):
    good, bad = [0.5, 0.7, 0.8], [0.5, 0.6, 0.7]
    folder = write_folder(tmp_path / "r", "dry-bean", {
        ("batch-balance", 10): [good, good, bad],  # wins trials 0 and 1, loses trial 2
        ("random", 10): [bad, bad, good],
        ("bald", 10): [good, good, good],
    })
    from balance_lite.experiments import load_results, read_manifest

    results, manifest = load_results(folder), read_manifest(folder)
    ev = claim_evidence(claim(), results, manifest)
    assert ev["verdict"] == "confirmed"
    row = next(r for r in ev["rows"] if r["method"] == "random")
    assert row["wins"] == (pytest.approx(2 / 3), 3)
    assert claim_evidence(claim(others=("random", "bald")), results, manifest)["verdict"] == "not confirmed"
    assert claim_evidence(claim(kind="worse", method="random", others=("batch-balance",)), results,
                          manifest)["verdict"] == "confirmed"
    assert claim_evidence(claim(others=("batchbald",)), results, manifest)["verdict"] == "not run here"
    assert claim_evidence(claim(preset="mnist"), results, manifest)["verdict"] == "not run here"
    acc = next(r for r in ev["rows"] if r["method"] == "batch-balance")["acc@30"]
    assert acc[0][0] == pytest.approx(0.7) and acc[1] == 3 and acc[2] == pytest.approx(np.mean([0.7, 0.7, 0.6]))
    # a label count beyond every trial's budget has no accuracy (not the last one's)
    far = claim_evidence(claim(at=(35, 100)), results, manifest)["rows"][0]
    assert far["acc@100"] is None and far["acc@35"][0][0] == pytest.approx(0.7)


def test_only_finished_units_count_and_a_verdict_needs_three_paired_trials(tmp_path):
    from balance_lite.experiments import load_results, read_manifest
    from balance_lite.experiments.results import read_records

    good, bad = [0.5, 0.7, 0.8, 0.9], [0.5, 0.6, 0.7, 0.7]
    folder = write_folder(tmp_path / "r", "dry-bean", {("batch-balance", 10): [good] * 3, ("random", 10): [bad] * 3,
                                                       ("bald", 10): [bad] * 2})
    manifest = read_manifest(folder)
    ev = claim_evidence(claim(), load_results(folder), manifest)
    assert ev["verdict"] == "confirmed"
    assert claim_evidence(claim(others=("random", "bald")), load_results(folder), manifest)["verdict"] == "not run here"
    # a unit still running (its last record acquired something) is left out, and does not cut the curves short
    path = folder / unit_filename("random", 10, 2)
    records = read_records(path)
    path.write_text("".join(json.dumps(r) + "\n" for r in records[:2]))
    ev = claim_evidence(claim(), load_results(folder), manifest)
    assert ev["verdict"] == "not run here" and "fewer than 3" in ev["why"]
    row = next(r for r in ev["rows"] if r["method"] == "batch-balance")
    assert row["trials"] == 3 and row["aubc"][0] == pytest.approx(aubc([{"labels": 20 + 10 * i, "accuracy": a}
                                                                         for i, a in enumerate(good)]))


def test_similar_claims_compare_the_median_paired_difference_with_the_tolerance(tmp_path):
    from balance_lite.experiments import load_results, read_manifest

    base = [0.5, 0.7, 0.8]
    folder = write_folder(tmp_path / "r", "dry-bean", {
        ("batch-balance", 10): [base] * 3,
        ("random", 10): [[a - 0.004 for a in base], [a + 0.002 for a in base], [a - 0.03 for a in base]],
        ("bald", 10): [[a - 0.02 for a in base]] * 3,
    })
    results, manifest = load_results(folder), read_manifest(folder)
    close = claim(kind="similar", tolerance=0.005)
    ev = claim_evidence(close, results, manifest)
    assert ev["verdict"] == "confirmed"  # differences +0.004, -0.002, +0.03: median 0.004
    row = next(r for r in ev["rows"] if r["method"] == "random")
    assert row["difference"] == pytest.approx((0.004, -0.002, 0.03))
    assert claim_evidence(claim(kind="similar", tolerance=0.003), results, manifest)["verdict"] == "not confirmed"
    assert claim_evidence(claim(kind="similar", tolerance=0.005, others=("random", "bald")), results,
                          manifest)["verdict"] == "not confirmed"
    assert "minus this" in format_claims(folder, [Claim(**{**close.__dict__, "id": "s"})])
    with pytest.raises(ValueError, match="tolerance"):
        claim(kind="similar")


def test_fallback_claims_count_acquisitions_without_edges_above_the_accuracy_threshold(tmp_path):
    from balance_lite.experiments import load_results, read_manifest

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"preset": get_preset("dry-bean").to_dict()}))
    # accuracy per iteration and the edges its acquisition found (the last record acquires nothing)
    trials = {0: [(0.80, 5), (0.87, 2), (0.89, 0), (0.90, 0), (0.91, None)],
              1: [(0.82, 4), (0.88, 0), (0.89, 1), (0.90, 0), (0.92, None)],
              2: [(0.70, 0), (0.86, 3), (0.89, 0), (0.91, 0), (0.93, None)]}
    for t, rows in trials.items():
        for i, (acc, edges) in enumerate(rows):
            append_record(folder / unit_filename("batch-balance", 10, t),
                          {"labels": 20 + 10 * i, "accuracy": acc, "num_edges": edges, "macro_auc": 0.9, "macro_f1": 0.5, "nll": 1.0,
                           "selected": [] if edges is None else list(range(10 * i, 10 * i + 10))})
    results, manifest = load_results(folder), read_manifest(folder)
    fb = claim(kind="fallback", others=(), threshold=0.88)
    ev = claim_evidence(fb, results, manifest)
    row = ev["rows"][0]
    assert row["above"] == (6, 7) and row["below"] == (1, 5) and row["first_no_edge"] == [40, 30, 20]
    assert ev["verdict"] == "confirmed"
    assert claim_evidence(claim(kind="fallback", others=(), threshold=0.95), results,
                          manifest)["verdict"] == "not run here"  # no acquisition at that accuracy
    assert claim_evidence(claim(kind="fallback", others=(), threshold=0.75), results,
                          manifest)["verdict"] == "not confirmed"  # 6 of 11 above, but 1 of 1 below
    assert claim_evidence(claim(kind="fallback", others=(), threshold=0.69), results,
                          manifest)["verdict"] == "confirmed"  # 7 of 12 above; nothing below
    assert claim_evidence(claim(kind="fallback", others=(), threshold=0.85, method="random"), results,
                          manifest)["verdict"] == "not run here"
    assert "first label count with no edge" in format_claims(folder, [fb])
    with pytest.raises(ValueError, match="threshold"):
        claim(kind="fallback", threshold=1.5)


def test_claims_report_from_the_cli(tmp_path, capsys):
    folder = write_folder(tmp_path / "r", "dry-bean", {(m, 10): [[0.5, 0.6, 0.7]] * 3 for m in
                                                        ("random", "bald", "batchbald", "mean-std", "variation-ratio")})
    assert cli.main(["claims", str(folder), "--output", str(tmp_path / "claims.md")]) == 0
    out = capsys.readouterr().out
    assert "dry-bean-best: not run here" in out and "no finished results for batch-balance B=10" in out
    assert "dry-bean-baselines-below-random: not confirmed" in out  # ties are not wins
    assert (tmp_path / "claims.md").read_text() == out
    (tmp_path / "empty").mkdir()
    assert cli.main(["claims", str(tmp_path / "empty")]) == 2
    assert "no manifest.json" in capsys.readouterr().err
