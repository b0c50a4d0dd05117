r"""Presets: the settings of each of the paper's experiments, and their quick variants.

A :class:`Preset` names the dataset, the batch sizes B, the label budget, the acquisition
parameters (S MC samples, K hypothesis pairs, M label configurations, the tau rule) and the
training settings. Its :meth:`Preset.quick_variant` runs the same code path on a small pool
subset with few iterations and small K, in well under a minute per method on two CPU cores (CI and
the book build use it).

Where the paper's value is given in the issue that specified this module (MNIST: B = 1, 3, 10,
K = 100, 260 labels; EMNIST: B = 5, K = 10, starting from no labels), the preset uses it; every
other value is our choice and says so in the preset's ``notes``: check it against App. B of the
paper before quoting a comparison.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data import ArrayDataset, Splits
from ..strategies import Strategy, get_strategy
from ..train import TrainConfig, train_config_for

__all__ = ["PRESETS", "Preset", "available", "get_preset", "shrink"]

#: Methods run when the command line does not say (the issue's example).
DEFAULT_METHODS = ("batch-balance", "batchbald", "random")


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
            (random subsets; the initial set stays in the pool). Empty: the full splits.
        quick: the fields the quick variant changes.
        notes: where the values come from.
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

    def quick_variant(self) -> "Preset":
        """The same experiment, small: the preset's ``quick`` fields replace its own."""
        if self.is_quick:
            return self
        return dataclasses.replace(self, **self.quick, is_quick=True, name=self.name)

    def unit_budget(self, batch_size: int, num_initial: int) -> int:
        """The label budget of one run: ``budget``, or fewer if ``iterations`` caps the acquisitions."""
        if self.iterations is None:
            return self.budget
        return min(self.budget, num_initial + self.iterations * batch_size)

    def train_config(self) -> TrainConfig:
        """The training settings: the paper's for the dataset, with this preset's overrides."""
        return train_config_for(self.dataset, **self.train)

    def strategy(self, method: str) -> Strategy:
        """The acquisition strategy ``method`` with this preset's S, K, M and tau rule.

        Raises:
            ValueError: an unknown method name.
        """
        params: dict = {}
        if method in ("bald", "entropy", "mean-std", "variation-ratio"):
            params = {"num_samples": self.num_samples}
        elif method == "batchbald":
            params = {"num_samples": self.num_samples, "num_configurations": self.num_configurations}
        elif method in ("balance", "batch-balance", "balance-partition"):
            params = {"num_pairs": self.num_pairs, "divisor": self.divisor}
        elif method == "batch-balance-importance":
            params = {"num_pairs": self.num_pairs, "divisor": self.divisor,
                      "num_configurations": self.num_configurations}
        return get_strategy(method, **params)

    def to_dict(self) -> dict:
        """Every field, JSON-ready (for the run manifest)."""
        d = dataclasses.asdict(self)
        d["batch_sizes"] = list(self.batch_sizes)
        return d


def shrink(splits: Splits, sizes: dict, seed: int) -> Splits:
    """Random subsets of the splits' parts, the initial set kept in the pool (for quick variants).

    Args:
        splits: the full splits.
        sizes: the most points to keep per part, e.g. ``{"pool": 2000, "test": 1000}``; a part not
            named, or with fewer points, is kept whole.
        seed: seeds the subsets.

    Returns:
        New :class:`~balance_lite.data.Splits`; ``initial`` holds the same examples at their new
        positions.

    Raises:
        ValueError: an unknown part, or a pool size smaller than the initial set.
    """
    unknown = set(sizes) - {"pool", "holdout", "val", "test"}
    if unknown:
        raise ValueError(f"sizes must name parts among pool, holdout, val, test, got {sorted(unknown)}")
    rng = np.random.default_rng([seed, 7])
    parts = {}
    initial = list(splits.initial)
    for part in ("pool", "holdout", "val", "test"):
        ds: ArrayDataset = getattr(splits, part)
        n, keep = len(ds), sizes.get(part)
        if keep is None or keep >= n:
            parts[part] = ds
            continue
        if part == "pool":
            if keep < len(initial):
                raise ValueError(f"sizes['pool'] must be at least the initial set's size {len(initial)}, got {keep}")
            others = np.setdiff1d(np.arange(n), initial)
            chosen = np.concatenate([initial, rng.choice(others, keep - len(initial), replace=False)]).astype(np.int64)
            chosen.sort()
            initial = np.searchsorted(chosen, initial).tolist()
        else:
            chosen = np.sort(rng.choice(n, keep, replace=False))
        idx = torch.from_numpy(chosen)
        parts[part] = ArrayDataset(ds.x[idx], ds.y[idx])
    kept = ", ".join(f"{p} {len(parts[p])}" for p in ("pool", "holdout", "val", "test"))
    return dataclasses.replace(splits, **parts, initial=initial,
                               description=f"{splits.description} Subset (seed {seed}): {kept}.")


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
_OURS = "Values not fixed by the issue (budget, B, S, M, divisor, the quick variant) are our choices."


def _preset(name, dataset, batch_sizes, budget, quick, notes, **kw) -> Preset:
    return Preset(name=name, dataset=dataset, batch_sizes=batch_sizes, budget=budget,
                  quick={**quick, "iterations": 3}, notes=notes, **kw)


#: Every preset by name.
PRESETS: dict[str, Preset] = {p.name: p for p in [
    _preset("digits", "digits", (10,), 120,
            dict(num_samples=10, num_pairs=10, num_configurations=1000, eval_samples=5, train={"max_epochs": 10}),
            "The embedded 8x8 digits (not in the paper): seconds per run on a CPU. " + _OURS,
            num_samples=20, num_pairs=20, num_configurations=2000, eval_samples=10),
    _preset("repeated-digits", "repeated-digits", (10,), 120,
            dict(num_samples=10, num_pairs=10, num_configurations=1000, eval_samples=5, train={"max_epochs": 10}),
            "The digits pool repeated with noise (see balance_lite.data), the small analogue of Repeated-MNIST. "
            + _OURS, num_samples=20, num_pairs=20, num_configurations=2000, eval_samples=10),
    _preset("mnist", "mnist", (1, 3, 10), 260, _QUICK_IMAGES,
            "Paper Sec. 4.3: B = 1, 3, 10; K = 100; 20 initial labels (2 per class) to 260. " + _OURS),
    _preset("repeated-mnist", "repeated-mnist", (10,), 260, _QUICK_IMAGES,
            "Repeated-MNIST (x3, Gaussian noise std 0.1 after normalising), K = 100 as for MNIST. " + _OURS),
    _preset("imbalanced-mnist", "imbalanced-mnist", (10,), 260, _QUICK_IMAGES,
            "MNIST with classes 0-4 rare in the pool (see balance_lite.data); K = 100. " + _OURS),
    _preset("fashion-mnist", "fashion-mnist", (5,), 300, _QUICK_IMAGES,
            "Fashion-MNIST with the EMNIST settings B = 5, K = 10. " + _OURS,
            num_samples=20, num_pairs=10),
    *[_preset(f"emnist-{split}", f"emnist-{split}", (5,), 300, _QUICK_IMAGES,
              "Paper: B = 5, K = 10, no initial labels (the first batch comes from the untrained network). "
              + _OURS, num_samples=20, num_pairs=10)
      for split in ("balanced", "bymerge", "byclass")],
    *[_preset(name, name, (10,), 200, _QUICK_TABULAR,
              "Tabular data, MLP of App. B.1, Adam lr 1e-2. " + _OURS)
      for name in ("har", "drift", "dry-bean")],
]}


def available() -> list[str]:
    """Every preset name."""
    return list(PRESETS)


def get_preset(name: str, *, quick: bool = False) -> Preset:
    """The preset ``name``, or its quick variant.

    Raises:
        ValueError: unknown ``name``.
    """
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {available()}, got {name!r}")
    preset = PRESETS[name]
    return preset.quick_variant() if quick else preset
