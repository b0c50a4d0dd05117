r"""The paper's claims as data, and the evidence a results folder gives for each.

Chapter: *Running the experiments*.

``claims.json`` beside this module lists each claim of Sec. 4 and App. B that a run can test, quoted
with its section and line in the paper's text. A claim compares methods on one preset:

- ``better``: ``method`` does better than each of ``others``;
- ``worse``: ``method`` does worse than each of ``others``;
- ``values``: the paper's numbers (Table 2), set beside ours at the label counts ``at``;
- ``similar``: ``method`` and each of ``others`` do about equally well ("robust to tau"): the median
  over paired trials of the AUBC difference is within ``tolerance`` of zero for every other method;
- ``fallback``: ``method`` stops cutting edges once the test accuracy reaches ``threshold`` (Sec. 4.2's
  explanation of tau = 0.3: every pair of hypotheses falls in one class, every score is zero, and
  BALanCe picks at random): among the acquisitions made at accuracy ``>= threshold``, more than half
  found no edge (``num_edges == 0``), and a larger share than below the threshold.

The evidence for a comparison is computed per trial, paired by seed (trial t of every method uses
the same split, initial set and seeds): the normalised area under the learning curve (AUBC: the
trapezoid area of accuracy over the label counts, divided by the label range, so it is the mean
accuracy over the budget), and the fraction of trials in which ``method``'s AUBC beats the other's (for ``similar``, the median of
the paired differences).
Only finished units count, and every AUBC of a claim runs up to the label count that all of its
finished trials reached. The verdict is **confirmed** when ``method`` wins (for ``worse``: loses) in
more than half of the paired trials against every other method, **not confirmed** otherwise, and
**not run here** when the folder lacks a method or a batch size, holds fewer than
:data:`MIN_PAIRED_TRIALS` finished paired trials, or holds another preset (for ``fallback``: when no
acquisition was made at accuracy ``>= threshold``). It is a plain, stated rule, not a
significance test: with 3 to 6 trials no test would have much power, and the numbers are printed
beside every verdict.

Example:
    >>> claims = load_claims()
    >>> sorted({c.kind for c in claims})
    ['better', 'fallback', 'similar', 'values', 'worse']
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .results import finished_only, load_results, read_manifest

__all__ = ["CLAIMS_FILE", "MIN_PAIRED_TRIALS", "Claim", "aubc", "claim_evidence", "format_claims", "load_claims",
           "paired_aubc"]

#: The claims file, ``claims.json`` beside this module (one JSON object per claim).
CLAIMS_FILE = Path(__file__).with_name("claims.json")

_KINDS = ("better", "worse", "values", "similar", "fallback")

#: A comparison needs at least this many finished trials of both methods, paired by seed.
MIN_PAIRED_TRIALS = 3


@dataclass(frozen=True)
class Claim:
    """One testable claim of the paper.

    Attributes:
        id: a short name.
        preset: the preset whose runs test it (see :func:`~balance_lite.experiments.presets.get_preset`).
        section: the paper's section, figure or table.
        line: the line of the claim in the paper's text (``shared/paper/000_cbe39a03ecf88b15.txt``).
        quote: the paper's own words.
        kind: ``"better"``, ``"worse"``, ``"values"``, ``"similar"`` or ``"fallback"``.
        method: the method the claim is about.
        others: the methods it is compared with.
        batch_sizes: the batch sizes it is about.
        at: label counts at which to print the medians (and, for ``values``, the paper's numbers).
        values: for ``values``: ``{method: [[mean, std] per label count of at]}`` as the paper prints them.
        tolerance: for ``similar``: the largest median AUBC difference (accuracy units) called equal.
        threshold: for ``fallback``: the test accuracy from which the claim says no edge is left.
    """

    id: str
    preset: str
    section: str
    line: int
    quote: str
    kind: str
    method: str
    others: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    at: tuple[int, ...] = ()
    values: dict = field(default_factory=dict)
    tolerance: float | None = None
    threshold: float | None = None

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"claim {self.id!r}: kind must be one of {_KINDS}, got {self.kind!r}")
        if self.kind == "similar" and not (self.tolerance is not None and self.tolerance > 0):
            raise ValueError(f"claim {self.id!r}: a 'similar' claim needs a positive tolerance, got {self.tolerance!r}")
        if self.kind == "fallback" and not (self.threshold is not None and 0 < self.threshold < 1):
            raise ValueError(f"claim {self.id!r}: a 'fallback' claim needs a threshold in (0, 1), got {self.threshold!r}")


def load_claims(path: str | os.PathLike | None = None) -> list[Claim]:
    """The claims of ``path`` (default :data:`CLAIMS_FILE`)."""
    rows = json.loads(Path(path or CLAIMS_FILE).read_text(encoding="utf-8"))
    return [Claim(**{**row, "others": tuple(row.get("others", ())), "batch_sizes": tuple(row["batch_sizes"]),
                     "at": tuple(row.get("at", ()))}) for row in rows]


def aubc(records: list[dict], *, upto: int | None = None, metric: str = "accuracy") -> float:
    """Normalised area under one trial's learning curve: the mean of ``metric`` over the budget.

    Args:
        records: one trial's records (``labels`` and ``metric`` keys), in any order.
        upto: stop at this label count (default: the trial's last); the area is divided by the label
            range, so a curve at constant value v has AUBC v.
        metric: the record field.

    Raises:
        ValueError: fewer than two label counts up to ``upto``.

    Example:
        >>> aubc([{"labels": 10, "accuracy": 0.5}, {"labels": 20, "accuracy": 0.7}, {"labels": 30, "accuracy": 0.7}])
        0.65
    """
    points = sorted((int(r["labels"]), float(r[metric])) for r in records if upto is None or int(r["labels"]) <= upto)
    if len(points) < 2:
        raise ValueError(f"records must reach at least two label counts up to {upto}, got {len(points)}")
    x, y = np.array(points).T
    return round(float(np.trapezoid(y, x) / (x[-1] - x[0])), 12)


def paired_aubc(trials_a: dict[int, list[dict]], trials_b: dict[int, list[dict]], *,
                upto: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """AUBCs of two methods over the trials both ran, up to a common label count.

    Args:
        trials_a, trials_b: ``{trial: records}`` of two methods.
        upto: the last label count (default: the largest that every one of these trials reached).

    Returns:
        ``(aubc_a [T], aubc_b [T])``, paired by trial (the same seed).
    """
    common = sorted(set(trials_a) & set(trials_b))
    if upto is None:
        upto = min(max(int(r["labels"]) for r in t[k]) for t in (trials_a, trials_b) for k in common) if common else 0
    a = np.array([aubc(trials_a[k], upto=upto) for k in common])
    b = np.array([aubc(trials_b[k], upto=upto) for k in common])
    return a, b


def _at(records: list[dict], labels: int) -> float | None:
    """Accuracy of the record with the most labels ``<= labels`` (as ``balance-lite table`` reads it), or
    None when the trial never reached ``labels`` (a shorter budget says nothing about that label count)."""
    upto = [r for r in records if int(r["labels"]) <= labels]
    if not upto or max(int(r["labels"]) for r in records) < labels:
        return None
    return float(max(upto, key=lambda r: int(r["labels"]))["accuracy"])


def claim_evidence(claim: Claim, results: dict, manifest: dict | None) -> dict:
    """The numbers a results folder gives for one claim, and the verdict.

    Args:
        claim: the claim.
        results: :func:`~balance_lite.experiments.results.load_results`'s output for the folder.
        manifest: the folder's manifest (its ``preset`` must be the claim's).

    Returns:
        ``{"verdict", "why", "rows"}``: ``rows`` has one dict per (method, B) with the median and
        quartiles of accuracy at each label count of ``claim.at`` and of the AUBC, and, for the
        compared methods, the fraction of paired trials the claim's method wins.
    """
    preset = (manifest or {}).get("preset", {})
    if preset.get("name") != claim.preset:
        return {"verdict": "not run here", "why": f"the folder holds {preset.get('name')!r}, not {claim.preset!r}",
                "rows": []}
    methods = (claim.method, *claim.others) if claim.kind != "values" else tuple(claim.values)
    # Only finished units are evidence: a unit still running would cut every curve short.
    results = finished_only(results)
    if claim.kind == "fallback":
        return _fallback_evidence(claim, results)
    missing = [(m, b) for m in methods for b in claim.batch_sizes if (m, b) not in results]
    rows, wins, pairs = [], [], []
    for b in claim.batch_sizes:
        present = [m for m in methods if (m, b) in results]
        reached = [max(int(r["labels"]) for r in t) for m in present for t in results[(m, b)].values()]
        upto = min(reached) if reached else None
        for m in present:
            trials = results[(m, b)]
            row = {"method": m, "batch_size": b, "trials": len(trials)}
            for labels in claim.at:
                v = np.array([x for t in trials.values() if (x := _at(t, labels)) is not None])
                row[f"acc@{labels}"] = (tuple(np.percentile(v, [50, 25, 75]).tolist()), len(v),
                                        float(v.mean()) if len(v) else float("nan"),
                                        float(v.std(ddof=1)) if len(v) > 1 else float("nan")) if len(v) else None
            if claim.kind != "values":
                row["aubc"] = tuple(np.percentile([aubc(t, upto=upto) for t in trials.values()], [50, 25, 75]).tolist())
            if m != claim.method and claim.kind != "values" and (claim.method, b) in results:
                mine, theirs = paired_aubc(results[(claim.method, b)], trials, upto=upto)
                if claim.kind == "similar":
                    d = mine - theirs
                    row["difference"] = (float(np.median(d)), float(d.min()), float(d.max())) if len(d) else None
                    won = float(abs(np.median(d)) <= claim.tolerance) if len(d) else 0.0
                else:
                    won = float(np.mean(mine > theirs)) if claim.kind == "better" else float(np.mean(mine < theirs))
                    row["wins"] = (won, len(mine))
                wins.append(won)
                pairs.append(len(mine))
            rows.append(row)
    if missing:
        named = ", ".join(f"{m} B={b}" for m, b in missing)
        return {"verdict": "not run here", "why": f"no finished results for {named}", "rows": rows}
    if claim.kind == "values":
        return {"verdict": "compared", "why": "the paper's numbers beside ours", "rows": rows}
    if min(pairs) < MIN_PAIRED_TRIALS:
        return {"verdict": "not run here", "why": f"fewer than {MIN_PAIRED_TRIALS} finished paired trials "
                f"(least: {min(pairs)})", "rows": rows}
    if claim.kind == "similar":
        ok = all(w == 1.0 for w in wins)
        return {"verdict": "confirmed" if ok else "not confirmed",
                "why": f"median paired AUBC difference within {claim.tolerance:g} of every other method"
                + ("" if ok else ": not for every one"), "rows": rows}
    verb = "beats" if claim.kind == "better" else "loses to"
    ok = all(w > 0.5 for w in wins)
    return {"verdict": "confirmed" if ok else "not confirmed",
            "why": f"{claim.method} {verb} each other method in more than half of the paired trials"
            + ("" if ok else ": not against every one"), "rows": rows}


def _fallback_evidence(claim: Claim, results: dict) -> dict:
    """``fallback`` claims: how often an acquisition found no edge, at accuracy above and below the threshold."""
    rows, missing = [], []
    for b in claim.batch_sizes:
        trials = results.get((claim.method, b))
        if not trials:
            missing.append(f"{claim.method} B={b}")
            continue
        # The last record of a finished unit acquires nothing; every other record made one acquisition.
        made = [r for t in trials.values() for r in t if r.get("selected")]
        above = [r for r in made if float(r["accuracy"]) >= claim.threshold]
        below = [r for r in made if float(r["accuracy"]) < claim.threshold]
        no_edge = lambda rs: sum(1 for r in rs if r.get("num_edges") == 0)  # noqa: E731
        first = [min((int(r["labels"]) for r in t if r.get("num_edges") == 0), default=None) for t in trials.values()]
        rows.append({"method": claim.method, "batch_size": b, "trials": len(trials),
                     "above": (no_edge(above), len(above)), "below": (no_edge(below), len(below)),
                     "first_no_edge": first})
    if missing:
        return {"verdict": "not run here", "why": f"no finished results for {', '.join(missing)}", "rows": rows}
    if min(r["trials"] for r in rows) < MIN_PAIRED_TRIALS:
        return {"verdict": "not run here", "why": f"fewer than {MIN_PAIRED_TRIALS} finished trials", "rows": rows}
    if any(r["above"][1] == 0 for r in rows):
        return {"verdict": "not run here", "why": f"no acquisition was made at accuracy >= {claim.threshold:g}",
                "rows": rows}
    share = lambda k, n: k / n if n else 0.0  # noqa: E731
    ok = all(share(*r["above"]) > 0.5 and share(*r["above"]) > share(*r["below"]) for r in rows)
    return {"verdict": "confirmed" if ok else "not confirmed",
            "why": f"acquisitions with no edge: more than half of those at accuracy >= {claim.threshold:g}, and a larger "
            "share than below it" + ("" if ok else ": not so"), "rows": rows}


def _q(t) -> str:
    return f"{t[0]:.3f} [{t[1]:.3f}, {t[2]:.3f}]"


def format_claims(folder: str | os.PathLike, claims: list[Claim] | None = None) -> str:
    """Markdown: each claim about the folder's preset, quoted, with our evidence and verdict.

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        ValueError: the folder has no manifest.
    """
    results = load_results(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise ValueError(f"folder {str(folder)!r} has no manifest.json: not a results folder of balance-lite run")
    name = manifest.get("preset", {}).get("name")
    mine = [c for c in (claims if claims is not None else load_claims()) if c.preset == name]
    protocol = manifest.get("preset", {}).get("protocol", "paper")
    lines = [f"# Claims about {name} ({protocol} protocol): {len(mine)}", ""]
    for c in mine:
        ev = claim_evidence(c, results, manifest)
        lines += [f"## {c.id}: {ev['verdict']}", "", f"> {c.quote}", "",
                  f"{c.section}, line {c.line}. Verdict: **{ev['verdict']}** ({ev['why']}).", ""]
        if not ev["rows"]:
            continue
        if c.kind == "fallback":
            lines += ["| method | B | trials | no edge, accuracy >= threshold | no edge, below | first label count "
                      "with no edge, per trial |", "|---|---|---|---|---|---|"]
            lines += [f"| {r['method']} | {r['batch_size']} | {r['trials']} | {r['above'][0]} of {r['above'][1]} | "
                      f"{r['below'][0]} of {r['below'][1]} | {', '.join(str(f) if f is not None else 'never' for f in r['first_no_edge'])} |"
                      for r in ev["rows"]]
            lines.append("")
            continue
        head = ["method", "B", "trials", *(f"accuracy at {n}" for n in c.at)]
        if c.kind == "values":
            head += [f"paper at {n}" for n in c.at]
        elif c.kind == "similar":
            head += ["AUBC median [q25, q75]", f"AUBC of {c.method} minus this: median [min, max]"]
        else:
            head += ["AUBC median [q25, q75]", f"{c.method} wins"]
        lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        for row in ev["rows"]:
            cells = [row["method"], str(row["batch_size"]), str(row["trials"])]
            for n in c.at:
                got = row[f"acc@{n}"]
                cells.append("-" if got is None else f"{_q(got[0])}; mean {got[2]:.3f} ± {got[3]:.3f} (n={got[1]})")
            if c.kind == "values":
                cells += [f"{m:.3f} ± {s:.3f}" for m, s in c.values.get(row["method"], [])]
            else:
                cells.append(_q(row["aubc"]) if "aubc" in row else "-")
                if c.kind == "similar":
                    cells.append(f"{row['difference'][0]:+.4f} [{row['difference'][1]:+.4f}, {row['difference'][2]:+.4f}]"
                                 if row.get("difference") else "")
                else:
                    cells.append(f"{row['wins'][0]:.0%} of {row['wins'][1]}" if "wins" in row else "")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
