r"""Presets: the settings of each of the paper's experiments, and their quick variants.

Chapter: *The active learning loop in 30 lines* (the last section: the paper's experiments as presets).

A :class:`Preset` names the dataset, the batch sizes B, the label budget, the acquisition
parameters (S MC samples, K hypothesis pairs, M label configurations, the tau rule) and the
training settings. Its :meth:`Preset.quick_variant` runs the same code path on a small pool
subset with few iterations and small K, in well under a minute per method on two CPU cores (CI and
the book build use it).

Every value of a preset is the paper's (Sec. 4 and App. B.1); where the text is silent (budgets,
minibatch sizes, K for some sets) it is the authors' released code's, and where it departs from
both, the preset's ``notes`` say why. The table ``paper_settings.csv`` beside this module lists each
value with its source, and a test checks every preset against it.

Two protocols per experiment, never mixed within a comparison: ``paper`` (the paper's settings)
and ``cpu`` (the same experiment reduced to fit about two hours on two CPU cores: fewer trials,
smaller K for every method alike, a random candidate subset of the pool scored each iteration, a
shorter budget; each preset's ``cpu_notes`` states its reductions). The ``quick`` variant is a
third, tiny one for tests and the book build.
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data import ArrayDataset, Splits, dataset_spec, images, load, uci
from ..data.splits import balanced_initial
from ..models import build_model
from ..strategies import STRATEGIES, Strategy, get_strategy
from ..train import TrainConfig, train_config_for

__all__ = ["PAPER_SETTINGS_FILE", "PRESETS", "PROTOCOLS", "Preset", "available", "get_preset", "paper_settings",
           "setting_value", "shrink"]

#: Methods run when the command line does not say (the issue's example).
DEFAULT_METHODS = ("batch-balance", "batchbald", "random")

#: The protocols of every preset, the paper's settings or their stated reduction for a CPU.
PROTOCOLS = ("paper", "cpu")


@dataclass(frozen=True)
class Preset:
    """One experiment of the paper.

    Attributes:
        name: the preset's name (``balance-lite run NAME``).
        dataset: the :func:`balance_lite.data.load` name; it also picks the network.
        batch_sizes: the batch sizes B compared (one curve per method and B).
        budget: labels at the end of a run (initial set included).
        iterations: if set, a run also stops after this many acquisitions (the quick variants: the
            same number of iterations for every batch size).
        num_samples: S, MC-dropout samples for BALD, BatchBALD, entropy, mean-std, variation ratio.
        num_pairs: K, hypothesis pairs for the BALanCe family (2K masks).
        num_configurations: M, label configurations for BatchBALD's sampling and importance sampling.
        divisor: tau = validation error / divisor (annealing).
        eval_samples: S for the test-set metrics.
        train: overrides of :func:`balance_lite.train.train_config_for`.
        sizes: keep at most this many points of ``pool`` / ``holdout`` / ``val`` / ``test``
            (random subsets; the initial set stays in the pool), or of original ``images`` of a
            repeated pool with all their copies (see :func:`shrink`). Empty: the full splits.
        quick: the fields the quick variant changes.
        notes: where the values come from.
        trials: trials run when the command line does not say (6 in the paper, Sec. 4.1).
        candidates: if set, each iteration scores a random subset of this many unlabeled pool
            points (the ``cpu`` protocol), or for a repeated pool every unlabeled copy of this many
            original images (see :func:`balance_lite.loop.candidate_subset`); None scores the whole
            pool, as the paper does.
        protocol: ``"paper"`` or ``"cpu"`` (see :data:`PROTOCOLS`).
        cpu: the fields the ``cpu`` protocol changes.
        cpu_notes: the ``cpu`` protocol's reductions, in words.
        variants: named variants of a method, ``{name: (method, {parameter: value})}``, e.g. BALanCe
            with a fixed tau (Fig. 3b) or K = 50 (Fig. 3a); run them like any method (``--methods``).
        initial_per_class: if set, the initial labeled set is this many random pool examples of each
            class (drawn from the trial's seed) instead of the data set's own (the starting-budget
            sweep of the chapter *Beyond the paper*).
    """

    name: str
    dataset: str
    batch_sizes: tuple[int, ...]
    budget: int
    num_samples: int = 100
    num_pairs: int = 100
    num_configurations: int = 10_000
    divisor: float = 4.0
    eval_samples: int = 20
    train: dict = field(default_factory=dict)
    sizes: dict = field(default_factory=dict)
    quick: dict = field(default_factory=dict)
    notes: str = ""
    is_quick: bool = False
    iterations: int | None = None
    trials: int = 6
    candidates: int | None = None
    protocol: str = "paper"
    cpu: dict = field(default_factory=dict)
    cpu_notes: str = ""
    variants: dict = field(default_factory=dict)
    initial_per_class: int | None = None

    def with_initial(self, splits: Splits, seed: int) -> Splits:
        """``splits`` with this preset's initial set (unchanged if :attr:`initial_per_class` is None)."""
        if self.initial_per_class is None:
            return splits
        rng = np.random.default_rng([seed, 1])
        initial = balanced_initial(splits.pool.y.numpy(), self.initial_per_class, rng)
        return dataclasses.replace(splits, initial=initial, description=f"{splits.description} Initial set: "
                                   f"{self.initial_per_class} per class (seed {seed}).")

    def trial_splits(self, seed: int, *, root=None) -> Splits:
        """The splits a run of this preset uses for the trial of ``seed``: loaded, shrunk, initial set.

        :func:`balance_lite.data.load` of :attr:`dataset`, :func:`shrink` to :attr:`sizes`, then
        :meth:`with_initial`: the records' ``selected`` positions index this pool (and its
        ``origin``, for a repeated pool).
        """
        splits = load(self.dataset, root=root, seed=seed)
        if self.sizes:
            splits = shrink(splits, self.sizes, seed)
        return self.with_initial(splits, seed)

    def quick_variant(self) -> "Preset":
        """The same experiment, small: the preset's ``quick`` fields replace its own."""
        if self.is_quick:
            return self
        return dataclasses.replace(self, **self.quick, is_quick=True, name=self.name)

    def protocol_variant(self, protocol: str) -> "Preset":
        """The experiment under ``protocol``: ``"paper"`` (this preset) or ``"cpu"`` (its reductions).

        Raises:
            ValueError: an unknown protocol.
        """
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        if protocol == self.protocol:
            return self
        if self.protocol != "paper":
            raise ValueError(f"the {self.protocol!r} variant of {self.name!r} has no {protocol!r} variant")
        return dataclasses.replace(self, **self.cpu, protocol=protocol)

    def unit_budget(self, batch_size: int, num_initial: int) -> int:
        """The label budget of one run: ``budget``, or fewer if ``iterations`` caps the acquisitions."""
        if self.iterations is None:
            return self.budget
        return min(self.budget, num_initial + self.iterations * batch_size)

    def train_config(self) -> TrainConfig:
        """The training settings: the paper's for the dataset, with this preset's overrides."""
        return train_config_for(self.dataset, **self.train)

    def methods(self) -> list[str]:
        """Every method name this preset runs: the registered strategies and its variants."""
        return [*STRATEGIES, *self.variants]

    def strategy(self, method: str) -> Strategy:
        """The acquisition strategy ``method`` with this preset's S, K, M and tau rule.

        The method takes the preset fields it declares (:attr:`balance_lite.strategies.Method.preset_fields`);
        a variant's parameters override them.

        Raises:
            ValueError: an unknown method name.
        """
        base, overrides = self.variants.get(method, (method, {}))
        if base not in STRATEGIES:
            raise ValueError(f"method must be one of {self.methods()}, got {method!r}")
        params = {f: getattr(self, f) for f in STRATEGIES[base].preset_fields}
        return get_strategy(base, **{**params, **overrides})

    def to_dict(self) -> dict:
        """Every field, JSON-ready (for the run manifest)."""
        d = dataclasses.asdict(self)
        d["batch_sizes"] = list(self.batch_sizes)
        d["variants"] = {name: [base, dict(overrides)] for name, (base, overrides) in self.variants.items()}
        return d


def shrink(splits: Splits, sizes: dict, seed: int) -> Splits:
    """Random subsets of the splits' parts, the initial set kept in the pool (quick variants, cpu protocols).

    Args:
        splits: the full splits.
        sizes: the most points to keep per part, e.g. ``{"pool": 2000, "test": 1000}``; a part not
            named, or with fewer points, is kept whole. ``"images"`` instead of ``"pool"`` keeps
            that many original images of a repeated pool, each with every copy of it (see
            ``origin`` of :class:`~balance_lite.data.Splits`), so the duplicates stay.
        seed: seeds the subsets.

    Returns:
        New :class:`~balance_lite.data.Splits`; ``initial`` holds the same examples at their new
        positions, and ``origin`` (a repeated pool's) the original image of each kept point. Where
        D̄pool is the pool itself (the tabular sets), it stays the (shrunk) pool.

    Raises:
        ValueError: an unknown part, both ``"pool"`` and ``"images"``, or fewer points (images)
            than the initial set has.
    """
    unknown = set(sizes) - {"pool", "images", "holdout", "val", "test"}
    if unknown:
        raise ValueError(f"sizes must name parts among pool, images, holdout, val, test, got {sorted(unknown)}")
    if "pool" in sizes and "images" in sizes:
        raise ValueError("sizes must name at most one of 'pool' (points) and 'images' (original images), got both")
    rng = np.random.default_rng([seed, 7])
    parts = {}
    initial = list(splits.initial)
    origin = splits.origin
    for part in ("pool", "holdout", "val", "test"):
        if part == "holdout" and splits.holdout is splits.pool:
            continue
        ds: ArrayDataset = getattr(splits, part)
        if part == "pool" and "images" in sizes:
            chosen = _whole_images(splits, sizes["images"], rng)
        else:
            n, keep = len(ds), sizes.get(part)
            chosen = None
            if keep is not None and keep < n:
                chosen = _with_initial(np.arange(n), initial, keep, rng, "pool") if part == "pool" else (
                    np.sort(rng.choice(n, keep, replace=False)))
        if chosen is None:
            parts[part] = ds
            continue
        if part == "pool":
            initial = np.searchsorted(chosen, initial).tolist()
            origin = None if origin is None else origin[chosen]
        idx = torch.from_numpy(chosen)
        parts[part] = ArrayDataset(ds.x[idx], ds.y[idx])
    if splits.holdout is splits.pool:
        parts["holdout"] = parts["pool"]
    kept = ", ".join(f"{p} {len(parts[p])}" for p in ("pool", "holdout", "val", "test"))
    if "images" in sizes and parts["pool"] is not splits.pool:
        kept += f" (every copy of {sizes['images']} original images)"
    return dataclasses.replace(splits, **parts, initial=initial, origin=origin,
                               description=f"{splits.description} Subset (seed {seed}): {kept}.")


def _with_initial(items: np.ndarray, initial: list[int], keep: int, rng: np.random.Generator, what: str) -> np.ndarray:
    """``keep`` of ``items`` (ascending int64): those in ``initial`` and random others."""
    if keep < len(initial):
        raise ValueError(f"sizes[{what!r}] must be at least the initial set's size {len(initial)}, got {keep}")
    others = np.setdiff1d(items, initial)
    chosen = np.concatenate([np.asarray(initial, dtype=np.int64),
                             rng.choice(others, keep - len(initial), replace=False)]).astype(np.int64)
    chosen.sort()
    return chosen


def _whole_images(splits: Splits, keep: int, rng: np.random.Generator) -> np.ndarray | None:
    """Pool positions of every copy of ``keep`` original images (those of the initial set among them)."""
    origin = splits.pool_origin()
    images = np.unique(origin)
    if keep >= len(images):
        return None
    initial_images = np.unique(origin[np.asarray(splits.initial, dtype=np.int64)]).tolist()
    chosen_images = _with_initial(images, initial_images, keep, rng, "images")
    return np.flatnonzero(np.isin(origin, chosen_images))


_QUICK_IMAGES = dict(
    sizes={"pool": 1000, "holdout": 200, "val": 300, "test": 500},
    num_samples=10, num_pairs=5, num_configurations=500, eval_samples=5,
    train={"epoch_size": 256, "max_epochs": 3},
)
_QUICK_TABULAR = dict(
    sizes={"pool": 1000, "holdout": 200, "val": 300, "test": 500},
    num_samples=10, num_pairs=5, num_configurations=500, eval_samples=5,
    train={"epoch_size": 512, "max_epochs": 5},
)
_COMMON = ("Sec. 4.1: Adam, patience 3, weighted cross-entropy, the network re-initialised every iteration, "
           "6 trials, M = 10,000. K is the MC-dropout number 'for all the methods' (Sec. 4.3-4.4): S = K for "
           "BALD, BatchBALD, Mean-STD and Variation Ratio, K pairs (2K masks) for the BALanCe family. "
           "Batch-BALanCe computes Eq. 4 exactly at every step (see the chapter 'Exact Batch-BALanCe at any batch "
           "size'); the paper's estimator (enumeration for b < 4, M importance samples after) is the method "
           "batch-balance-importance. The budget follows the released code (the text does not give it).")


def _cpu(candidates: int, num_pairs: int, budget: int, trials: int = 3, **extra) -> dict:
    """The ``cpu`` protocol's reductions: the same for every method of a comparison."""
    return dict(candidates=candidates, num_samples=num_pairs, num_pairs=num_pairs, budget=budget, trials=trials,
                **extra)


def _preset(name, dataset, batch_sizes, budget, quick, notes, cpu=None, cpu_notes="", **kw) -> Preset:
    return Preset(name=name, dataset=dataset, batch_sizes=batch_sizes, budget=budget,
                  quick={**quick, "iterations": 3}, notes=notes, cpu=cpu or {}, cpu_notes=cpu_notes, **kw)


_DIGITS_QUICK = dict(num_samples=10, num_pairs=10, num_configurations=1000, eval_samples=5, train={"max_epochs": 10})
_DIGITS = "The embedded 8x8 digits (not in the paper): seconds per run on a CPU; every value is our choice."
_CPU_IMAGES = ("cpu protocol (ours, to fit about two hours on 2 CPU cores): 3 trials; each iteration scores a "
               "random subset of {candidates:,} pool points (as Gal et al. 2017 did); S = K = {num_pairs} for every "
               "method; budget {budget}.")


def _cpu_note(cpu: dict) -> str:
    return _CPU_IMAGES.format(**cpu)


#: MNIST: besides the common reductions, D̄pool and Dval keep 2,000 random points of their 10,000: the
#: per-epoch validation pass over 10,000 images was a third of an iteration's time on one core. The
#: budget stops at 130 labels, the count of Table 2 and the middle one of the claims' label counts.
_MNIST_CPU = _cpu(2000, 20, 130, sizes={"holdout": 2000, "val": 2000})

#: Fig. 3b, BALanCe with fixed tau = 0.05, 0.15, 0.3 and annealed tau = eps/2, eps/4, eps/8.
_TAU_STUDY = {
    **{f"batch-balance-tau{tau}": ("batch-balance", {"tau": tau}) for tau in (0.05, 0.15, 0.3)},
    **{f"batch-balance-eps{d}": ("batch-balance", {"divisor": float(d)}) for d in (2, 4, 8)},
}
_REPEATED_CPU = _cpu(None, 20, 130)  # duplicates are the point: the pool is not subsampled

#: Table 2 (App. B.1): each iteration scores every copy of 2,000 random original images (the
#: candidate count of the MNIST cpu protocol, counted in images so that the duplicates stay), D̄pool
#: and Dval of 2,000 points as for MNIST, K = 20, 3 trials, budget 130 (the table's label count).
_TABLE2_CPU = _cpu(2000, 20, 130, sizes={"holdout": 2000, "val": 2000})
_TABLE2_QUICK = {**_QUICK_IMAGES, "sizes": {"images": 300, "holdout": 200, "val": 300, "test": 500}}
_TABLE2 = ("App. B.1, Table 2 (l.1400-1407) and Fig. 7: test accuracy at 130 labels of Random, BatchBALD and "
           "Batch-BALanCe on Repeated-MNIST 'with an increasing number of repetitions' (l.1331-1333); this preset is "
           "the column 'repeat {r} time{s}': the MNIST pool in {c} noisy cop{ies} (balance_lite.data.images."
           "repeated_mnist_copies gives the reasoning{same}). As Repeated-MNIST (Sec. 4.1 and 4.3): B = 10 "
           "(l.688), tau = eps/4 (l.689), 20 initial labels, 2 per class, and Dval and D̄pool of 10,000 (l.618-619, "
           "'similar to the settings used on MNIST'); K = 100 and budget 300 (released code, "
           "Misc/BALanCe_RepeatedMNIST; the table reads the curves at 130 labels, Fig. 7 draws them further). "
           "The text does not give Table 2's number of trials: 6 as everywhere (l.599). ")
_TABLE2_CPU_NOTE = ("cpu protocol (ours; the same reductions for all three methods): 3 trials; budget 130 (Table 2's "
                    "label count); S = K = 20 for every method; each iteration scores every unlabeled copy of 2,000 "
                    "random original images (the candidate count of the MNIST cpu protocol, counted in images: a "
                    "subset of points would hold almost no duplicates, and the duplicates are the point); D̄pool and "
                    "Dval: 2,000 random points of each (of 10,000), drawn per trial, as for MNIST. Measured on one core: "
                    "about 5.6 core-hours for the four presets' three methods and three trials, against about 37 on "
                    "the whole pool, three quarters of them BatchBALD's acquisition (5-7 ms per scored point with "
                    "M = 10,000, the same at K = 10 and 20: a smaller K does not shorten it, and below 16 masks the "
                    "MC-dropout pass is slower per mask).")
_FASHION_CPU = _cpu(2000, 20, 160)
_EMNIST_CPU = _cpu(2000, 10, 150)
_IMBALANCED_CPU = _cpu(1000, 20, 60)
_TABULAR_CPU = _cpu(None, 20, 200, trials=6)

#: Every preset by name.
PRESETS: dict[str, Preset] = {p.name: p for p in [
    _preset("digits", "digits", (10,), 120, _DIGITS_QUICK, _DIGITS,
            num_samples=20, num_pairs=20, num_configurations=2000, eval_samples=10, trials=3),
    *[_preset(f"digits-start{k}", "digits", (10,), 120, _DIGITS_QUICK,
              f"The starting-budget sweep on the digits: {k} initial label(s) per class ({10 * k} in all) instead of "
              "2; otherwise the digits preset. " + _DIGITS, num_samples=20, num_pairs=20, num_configurations=2000,
              eval_samples=10, trials=3, initial_per_class=k) for k in (1, 5)],
    _preset("digits-batches", "digits", (5, 20), 120, _DIGITS_QUICK,
            "The batch-size sweep on the digits: B = 5 and 20 (B = 10 is the digits preset). " + _DIGITS,
            num_samples=20, num_pairs=20, num_configurations=2000, eval_samples=10, trials=3),
    _preset("repeated-digits", "repeated-digits", (10,), 120, _DIGITS_QUICK,
            "The digits pool repeated with noise (see balance_lite.data), the small analogue of Repeated-MNIST. "
            + _DIGITS, num_samples=20, num_pairs=20, num_configurations=2000, eval_samples=10, trials=3),
    _preset("mnist", "mnist", (1, 3, 10), 260, _QUICK_IMAGES,
            "Sec. 4.3: B = 1, 3, 10; K = 100 'for all the methods'; tau = eps/2; 20 initial labels (2 per class); "
            "budget 260 (released code). " + _COMMON,
            cpu=_MNIST_CPU, cpu_notes=_cpu_note(_MNIST_CPU) + " D̄pool and Dval: 2,000 random points of each "
            "(of 10,000), drawn per trial.", divisor=2.0, variants=_TAU_STUDY),
    _preset("repeated-mnist", "repeated-mnist", (10,), 300, _QUICK_IMAGES,
            "Sec. 4.1 and 4.3: the pool replicated twice more (3 copies) with Gaussian noise of std 0.1 after "
            "normalising; B = 10; tau = eps/4; K = 100 (released code); budget 300 (released code). " + _COMMON,
            cpu=_REPEATED_CPU,
            cpu_notes="cpu protocol (ours): 3 trials; the whole repeated pool is scored (the duplicates are the "
                      "point); S = K = 20 for every method; budget 130 (Table 2's label count)."),
    *[_preset(f"table2-repeat{r}", f"repeated-mnist-{r}", (10,), 300, _TABLE2_QUICK,
              _TABLE2.format(r=r, s="" if r == 0 else "s", c=r + 1, ies="y" if r == 0 else "ies",
                             same="; the same pool as the preset repeated-mnist" if r == 2 else "") + _COMMON,
              cpu=_TABLE2_CPU, cpu_notes=_TABLE2_CPU_NOTE)
      for r in images.TABLE2_REPEATS],
    _preset("imbalanced-mnist", "imbalanced-mnist", (1,), 260, _QUICK_IMAGES,
            "Sec. 4.2, Fig. 3a: MNIST with a random portion of each class removed from the pool (our portions: "
            "see balance_lite.data.images.IMBALANCED_LOG10_KEEP), B = 1, K = 100 (the figure also runs BALanCe "
            "with K = 50); tau = eps/2 as for MNIST (the text does not say); budget 260 as MNIST (ours). " + _COMMON,
            cpu=_IMBALANCED_CPU, cpu_notes=_cpu_note(_IMBALANCED_CPU), divisor=2.0,
            variants={"batch-balance-k50": ("batch-balance", {"num_pairs": 50})}),
    _preset("fashion-mnist", "fashion-mnist", (10,), 360, _QUICK_IMAGES,
            "Sec. 4.3: B = 10, tau = eps/4, the EMNIST CNN with 10 outputs; K = 100 and budget 360 (released "
            "code). " + _COMMON, cpu=_FASHION_CPU, cpu_notes=_cpu_note(_FASHION_CPU)),
    *[_preset(f"emnist-{split}", f"emnist-{split}", (5,), budget, _QUICK_IMAGES,
              f"Sec. 4.3-4.4: B = 5, K = 10 'for all the methods', tau = eps/4, no initial labels (the first batch "
              f"comes from the untrained network); budget {budget} (released code). " + _COMMON,
              cpu=_EMNIST_CPU, cpu_notes=_cpu_note(_EMNIST_CPU), num_samples=10, num_pairs=10)
      for split, budget in (("balanced", 600), ("bymerge", 450), ("byclass", 450))],
    *[_preset(name, name, (10,), 200, _QUICK_TABULAR,
              "App. B.1, Table 1: K = 20, B = 10, tau = eps/4, lr 0.01, patience 3, the AL pool is also D̄pool; "
              "budget 200 and minibatch 128 (released code). " + _COMMON,
              cpu=_TABULAR_CPU, cpu_notes="cpu protocol: the paper's own settings (the MLP is small).",
              num_samples=20, num_pairs=20, train={"batch_size": 128})
      for name in ("har", "drift", "dry-bean")],
]}


#: The paper's value of each preset setting with its source, ``paper_settings.csv`` beside this module.
PAPER_SETTINGS_FILE = Path(__file__).with_name("paper_settings.csv")


def paper_settings() -> list[dict]:
    """The rows of :data:`PAPER_SETTINGS_FILE`: ``preset, setting, paper, ours, source, why``.

    ``ours`` is empty where the preset uses the paper's value, else the value it uses instead, and
    ``why`` says why.
    """
    with PAPER_SETTINGS_FILE.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def setting_value(preset: Preset, setting: str) -> str:
    """A preset's value of one setting of :func:`paper_settings`, written as the table writes it.

    The training settings come from :meth:`Preset.train_config`, the split sizes, initial labels and
    a repeated pool's copies and noise from the data loaders' constants, the hidden widths and max-pools from a freshly built network.

    Raises:
        ValueError: an unknown setting.
    """

    def num(x) -> str:
        return f"{x:g}" if isinstance(x, float) else str(x)

    tabular = dataset_spec(preset.dataset).kind == "tabular"
    family = "emnist" if preset.dataset.startswith("emnist") else (
        "fashion-mnist" if preset.dataset == "fashion-mnist" else "mnist")
    if setting == "batch_sizes":
        return " ".join(str(b) for b in preset.batch_sizes)
    if setting in ("budget", "num_samples", "num_pairs", "num_configurations", "divisor", "trials"):
        return num(getattr(preset, setting))
    if setting in ("lr", "epoch_size", "batch_size", "patience"):
        return num(getattr(preset.train_config(), setting))
    if setting in ("val", "test"):
        return str(uci.VAL_SIZE if setting == "val" else uci.TEST_SIZE) if tabular else str(images.SPLIT_SIZES[family])
    if setting == "pool_copies":
        return str(images.repeated_mnist_copies(preset.dataset) or 1)
    if setting == "noise_std":
        return num(images.REPEAT_NOISE_STD) if images.repeated_mnist_copies(preset.dataset) else "0"
    if setting == "holdout":
        return "pool" if tabular else str(images.SPLIT_SIZES[family])
    if setting == "initial_per_class":
        return str(uci.INITIAL_PER_CLASS if tabular else images.INITIAL_PER_CLASS[family])
    if setting in ("hidden", "max_pools"):
        shape = (16,) if tabular else (1, 28, 28)
        model = build_model(preset.dataset, shape, 10)
        if setting == "max_pools":
            return str(sum(isinstance(m, torch.nn.MaxPool2d) for m in model.modules()))
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        return " ".join(str(m.out_features) for m in linears[:-1])
    raise ValueError(f"setting must be one of the columns of {PAPER_SETTINGS_FILE.name}, got {setting!r}")


def available() -> list[str]:
    """Every preset name."""
    return list(PRESETS)


def get_preset(name: str, *, quick: bool = False, protocol: str = "paper") -> Preset:
    """The preset ``name`` under ``protocol``, or its quick variant.

    Raises:
        ValueError: unknown ``name`` or ``protocol``.
    """
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {available()}, got {name!r}")
    preset = PRESETS[name].protocol_variant(protocol)
    return preset.quick_variant() if quick else preset
