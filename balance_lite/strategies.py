r"""Acquisition strategies by name: what the loop calls to choose the next batch.

Chapter: *The active learning loop in 30 lines*.

A strategy turns a trained MC-dropout network and the unlabeled pool into a batch of pool
positions, in two timed steps with one signature for every method:

1. :meth:`Strategy.predict` samples what the method needs from the network: nothing for random,
   ``[N, S, C]`` log-probabilities for BALD-like scores, and for BALanCe two independent sets of K
   consistent masks, i.e. ``[N, K, C]`` twice on the pool plus the two sets' hard predictions on
   D̄pool ``[K, U]``;
2. :meth:`Strategy.select` scores and picks the batch, using the acquisition functions of
   :mod:`balance_lite.acquisition`; BALanCe methods also compute tau (annealed from the
   dropout-off validation error, or fixed) and the edges of the K hypothesis pairs.

:func:`get_strategy` builds one from its name and parameters, e.g.
``get_strategy("batch-balance", num_pairs=100, divisor=4)``.

Example:
    >>> strategy = get_strategy("random")
    >>> g = torch.Generator().manual_seed(0)
    >>> chosen = strategy(None, torch.zeros(10, 3), None, batch_size=3, val_error=0.5, generator=g)
    >>> len(chosen.indices), chosen.tau
    (3, None)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import torch
from torch import Tensor

__all__ = [
    "Acquired",
    "BalanceStrategy",
    "BatchBALDStrategy",
    "BatchBalanceStrategy",
    "PartitionStrategy",
    "RandomStrategy",
    "STRATEGIES",
    "ScoreStrategy",
    "Strategy",
    "available",
    "get_strategy",
    "resolve_tau",
]


@dataclass
class Acquired:
    """The batch a strategy chose.

    Attributes:
        indices: positions in the candidate pool passed to the strategy, in pick order.
        scores: the acquisition value after each pick (the method's own scale).
        tau: the Hamming threshold used (BALanCe methods), else None.
        num_edges: how many of the K hypothesis pairs were cut (d_H > tau), else None (also for
            BALanCe-Partition, whose edges join hypotheses of different classes).
        random_fallback: True when the method had nothing to go on (no edge left) and picked at random.
    """

    indices: list[int]
    scores: list[float] = field(default_factory=list)
    tau: float | None = None
    num_edges: int | None = None
    random_fallback: bool = False


class Strategy:
    """One acquisition method: ``predict`` then ``select``; ``strategy(...)`` does both.

    Subclasses set ``name`` and implement both steps; their constructor arguments are the
    method's parameters (see :meth:`params`).
    """

    name: ClassVar[str] = ""
    #: Whether :meth:`predict` needs D̄pool (the held-out inputs).
    uses_holdout: ClassVar[bool] = False

    def predict(self, model, pool_x: Tensor, holdout_x: Tensor | None, *, generator: torch.Generator) -> Any:
        """Sample what :meth:`select` needs from the trained ``model`` on ``pool_x`` ``[N, ...]``."""
        raise NotImplementedError

    def select(self, predictions: Any, batch_size: int, *, val_error: float,
               generator: torch.Generator) -> Acquired:
        """Choose ``batch_size`` positions of the pool given :meth:`Strategy.predict`'s output."""
        raise NotImplementedError

    def __call__(self, model, pool_x: Tensor, holdout_x: Tensor | None, *, batch_size: int, val_error: float,
                 generator: torch.Generator) -> Acquired:
        predictions = self.predict(model, pool_x, holdout_x, generator=generator)
        return self.select(predictions, batch_size, val_error=val_error, generator=generator)

    def params(self) -> dict:
        """The method's parameters (for manifests and records)."""
        if dataclasses.is_dataclass(self):
            return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                    if not callable(getattr(self, f.name))}
        return {}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({self.name!r}{', ' if inner else ''}{inner})"


def _check_positive(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass(repr=False)
class RandomStrategy(Strategy):
    """Uniformly random batches: the baseline every curve is compared with."""

    name: ClassVar[str] = "random"

    def predict(self, model, pool_x, holdout_x, *, generator):
        return pool_x.shape[0]

    def select(self, predictions, batch_size, *, val_error, generator):
        N = int(predictions)
        if not 1 <= batch_size <= N:
            raise ValueError(f"batch_size must be between 1 and the pool size {N}, got {batch_size}")
        picked = torch.randperm(N, generator=generator)[:batch_size].tolist()
        return Acquired(indices=picked, scores=[0.0] * batch_size)


@dataclass(repr=False)
class ScoreStrategy(Strategy):
    """Top-B of a one-point score computed from ``[N, S, C]`` MC-dropout log-probabilities.

    Args:
        score_fn: ``[N, S, C] -> [N]``, higher is better (e.g. BALD's mutual information).
        num_samples: S, the number of consistent MC-dropout masks.
        chunk_size: points per forward pass (see :meth:`~balance_lite.models.MCDropoutNet.sample_log_probs`).
        label: the name recorded for this strategy.
    """

    score_fn: Callable[[Tensor], Tensor]
    num_samples: int = 100
    chunk_size: int | None = None
    label: str = "scores"

    def __post_init__(self):
        _check_positive("num_samples", self.num_samples)

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.label

    def predict(self, model, pool_x, holdout_x, *, generator):
        return model.sample_log_probs(pool_x, self.num_samples, chunk_size=self.chunk_size, generator=generator)

    def select(self, predictions, batch_size, *, val_error, generator):
        from .acquisition import top_b

        sel = top_b(self.score_fn(predictions), batch_size, generator=generator)
        return Acquired(indices=list(sel.indices), scores=list(sel.scores))


@dataclass(repr=False)
class BatchBALDStrategy(Strategy):
    """BatchBALD (Kirsch et al. 2019): greedy joint mutual information of the batch.

    Args:
        num_samples: S, consistent MC-dropout masks.
        num_configurations: M, sampled label configurations once exact enumeration is too large.
        chunk_size: points per forward pass.
    """

    name: ClassVar[str] = "batchbald"
    num_samples: int = 100
    num_configurations: int = 10_000
    chunk_size: int | None = None

    def __post_init__(self):
        _check_positive("num_samples", self.num_samples)
        _check_positive("num_configurations", self.num_configurations)

    def predict(self, model, pool_x, holdout_x, *, generator):
        return model.sample_log_probs(pool_x, self.num_samples, chunk_size=self.chunk_size, generator=generator)

    def select(self, predictions, batch_size, *, val_error, generator):
        from . import acquisition

        sel = acquisition.batchbald(predictions, batch_size, num_samples=self.num_configurations,
                                    generator=generator)
        return Acquired(indices=list(sel.indices), scores=list(sel.scores))


def resolve_tau(tau: float | str, divisor: float, val_error: float) -> float:
    """The Hamming threshold: ``tau`` itself if a number, else ``val_error / divisor`` ("anneal").

    Args:
        tau: a fixed threshold in [0, 1], or ``"anneal"``.
        divisor: the annealing divisor (2, 4 or 8 in the paper).
        val_error: the dropout-off validation error epsilon of the trained network.
    """
    if tau == "anneal":
        from . import acquisition

        return float(acquisition.annealed_tau(val_error, divisor))
    if isinstance(tau, (int, float)) and not isinstance(tau, bool) and 0.0 <= tau <= 1.0:
        return float(tau)
    raise ValueError(f"tau must be 'anneal' or a number in [0, 1], got {tau!r}")


@dataclass
class PairPredictions:
    """What the BALanCe methods sample: K hypothesis pairs ``(ω_k, ω'_k)`` from two mask sets.

    Attributes:
        log_probs_a: ``[N, K, C]`` pool log-probabilities under the first mask set.
        log_probs_b: ``[N, K, C]`` under the second, independent set.
        preds_a: ``[K, U]`` hard predictions of the first set on D̄pool.
        preds_b: ``[K, U]`` of the second set.
    """

    log_probs_a: Tensor
    log_probs_b: Tensor
    preds_a: Tensor
    preds_b: Tensor


@dataclass(repr=False)
class _PairStrategy(Strategy):
    """Shared by the BALanCe family: K pairs of hypotheses, tau and the edges."""

    num_pairs: int = 100
    tau: float | str = "anneal"
    divisor: float = 4.0
    chunk_size: int | None = None
    uses_holdout: ClassVar[bool] = True

    def __post_init__(self):
        _check_positive("num_pairs", self.num_pairs)
        if not (isinstance(self.divisor, (int, float)) and self.divisor > 0):
            raise ValueError(f"divisor must be a positive number, got {self.divisor!r}")
        if self.tau != "anneal":
            resolve_tau(self.tau, self.divisor, 0.0)  # raises on a bad fixed tau

    def predict(self, model, pool_x, holdout_x, *, generator):
        if holdout_x is None or holdout_x.shape[0] == 0:
            raise ValueError(f"{self.name} needs held-out inputs (D̄pool), got none")
        masks_a = model.draw_masks(self.num_pairs, generator=generator)
        masks_b = model.draw_masks(self.num_pairs, generator=generator)
        preds = []
        for masks in (masks_a, masks_b):
            preds.append(model.sample_log_probs(holdout_x, masks=masks, chunk_size=self.chunk_size).argmax(-1).T)
        return PairPredictions(
            log_probs_a=model.sample_log_probs(pool_x, masks=masks_a, chunk_size=self.chunk_size),
            log_probs_b=model.sample_log_probs(pool_x, masks=masks_b, chunk_size=self.chunk_size),
            preds_a=preds[0].contiguous(),
            preds_b=preds[1].contiguous(),
        )

    def edges(self, predictions: PairPredictions, val_error: float) -> tuple[float, Tensor]:
        """tau and the ``[K]`` bool edges ``d_H(ω_k, ω'_k) > tau``."""
        from . import acquisition

        tau = resolve_tau(self.tau, self.divisor, val_error)
        return tau, acquisition.hamming_edges(predictions.preds_a, predictions.preds_b, tau)


@dataclass(repr=False)
class BalanceStrategy(_PairStrategy):
    """BALanCe (Eq. 2, estimated by Eq. 3; Alg. 1): the ``batch_size`` points with the highest BALanCe score.

    Meant for B = 1 (the paper's sequential setting); for B > 1 it is the naive top-B batch. With no
    edge left every score is 0 and the batch is random (``random_fallback``).

    Args:
        num_pairs: K, hypothesis pairs (2K masks).
        tau: ``"anneal"`` (``val_error / divisor``) or a fixed threshold.
        divisor: the annealing divisor.
        chunk_size: points per forward pass.
    """

    name: ClassVar[str] = "balance"

    def select(self, predictions, batch_size, *, val_error, generator):
        from . import acquisition

        tau, edges = self.edges(predictions, val_error)
        num_edges = int(edges.sum())
        if num_edges == 0:
            picked = RandomStrategy().select(predictions.log_probs_a.shape[0], batch_size, val_error=val_error,
                                             generator=generator)
            return Acquired(picked.indices, picked.scores, tau, 0, random_fallback=True)
        scores = acquisition.balance_scores(predictions.log_probs_a, predictions.log_probs_b, edges)
        sel = acquisition.top_b(scores, batch_size, generator=generator)
        return Acquired(list(sel.indices), list(sel.scores), tau, num_edges)


@dataclass(repr=False)
class BatchBalanceStrategy(_PairStrategy):
    """Batch-BALanCe (Eq. 4, Alg. 2): greedy batch of maximal joint BALanCe value.

    Args:
        num_pairs: K, hypothesis pairs (2K masks).
        tau: ``"anneal"`` or a fixed threshold.
        divisor: the annealing divisor.
        method: ``"factorized"`` (exact at any batch size), ``"importance"`` (Eq. 5) or ``"enumerate"``.
        num_configurations: M, label configurations for ``"importance"``.
        chunk_size: points per forward pass.
    """

    method: str = "factorized"
    num_configurations: int = 10_000

    @property
    def name(self) -> str:  # type: ignore[override]
        """``"batch-balance"``, or ``"batch-balance-importance"`` / ``"batch-balance-enumerate"``."""
        return "batch-balance" if self.method == "factorized" else f"batch-balance-{self.method}"

    def __post_init__(self):
        super().__post_init__()
        if self.method not in ("factorized", "importance", "enumerate"):
            raise ValueError(f"method must be 'factorized', 'importance' or 'enumerate', got {self.method!r}")
        _check_positive("num_configurations", self.num_configurations)

    def select(self, predictions, batch_size, *, val_error, generator):
        from . import acquisition

        tau, edges = self.edges(predictions, val_error)
        sel = acquisition.batch_balance(predictions.log_probs_a, predictions.log_probs_b, edges, batch_size,
                                        method=self.method, num_samples=self.num_configurations,
                                        generator=generator)
        return Acquired(list(sel.indices), list(sel.scores), tau, int(edges.sum()),
                        random_fallback=sel.fallback_random)


@dataclass(repr=False)
class PartitionStrategy(_PairStrategy):
    """BALanCe-Partition (App. B.3): equivalence classes of all 2K hypotheses by farthest-first
    traversal with radius tau, then the edge discount over pairs in different classes; top-B.

    Args:
        num_pairs: K (2K hypotheses).
        tau: ``"anneal"`` or a fixed radius.
        divisor: the annealing divisor.
        chunk_size: points per forward pass.
    """

    name: ClassVar[str] = "balance-partition"

    def select(self, predictions, batch_size, *, val_error, generator):
        from . import acquisition

        tau = resolve_tau(self.tau, self.divisor, val_error)
        classes = acquisition.partition_classes(predictions.preds_a, predictions.preds_b, tau)  # [2K]
        scores = acquisition.partition_scores(predictions.log_probs_a, predictions.log_probs_b, classes)
        if int(classes.max()) == 0:  # one class: nothing to tell apart, every score is 0
            picked = RandomStrategy().select(scores.shape[0], batch_size, val_error=val_error, generator=generator)
            return Acquired(picked.indices, picked.scores, tau, None, random_fallback=True)
        sel = acquisition.top_b(scores, batch_size, generator=generator)
        return Acquired(list(sel.indices), list(sel.scores), tau, None)


def _score_strategy(score_name: str, label: str) -> Callable[..., ScoreStrategy]:
    def build(num_samples: int = 100, chunk_size: int | None = None) -> ScoreStrategy:
        from . import acquisition

        return ScoreStrategy(getattr(acquisition, score_name), num_samples=num_samples, chunk_size=chunk_size,
                             label=label)

    build.__doc__ = f"Top-B of ``balance_lite.acquisition.{score_name}`` (``{label}``)."
    return build


def _importance(**params) -> BatchBalanceStrategy:
    return BatchBalanceStrategy(method="importance", **params)


#: The registered strategies, each name mapped to a constructor that takes the method's parameters.
STRATEGIES: dict[str, Callable[..., Strategy]] = {
    "random": RandomStrategy,
    "bald": _score_strategy("bald_scores", "bald"),
    "mean-std": _score_strategy("mean_std_scores", "mean-std"),
    "variation-ratio": _score_strategy("variation_ratio_scores", "variation-ratio"),
    "entropy": _score_strategy("predictive_entropy_scores", "entropy"),
    "batchbald": BatchBALDStrategy,
    "balance": BalanceStrategy,
    "batch-balance": BatchBalanceStrategy,
    "batch-balance-importance": _importance,
    "balance-partition": PartitionStrategy,
}


def available() -> list[str]:
    """The names :func:`get_strategy` accepts."""
    return list(STRATEGIES)


def get_strategy(name: str, **params) -> Strategy:
    """Build the strategy registered as ``name`` with its parameters.

    Args:
        name: one of :func:`available`.
        params: the method's parameters, e.g. ``num_samples`` (S) for BALD-like scores, ``num_pairs`` (K),
            ``tau``, ``divisor`` and ``num_configurations`` (M) for the BALanCe family.

    Raises:
        ValueError: unknown ``name``.
        TypeError: a parameter the method does not take.

    Example:
        >>> get_strategy("batch-balance", num_pairs=10).params()["num_pairs"]
        10
    """
    if name not in STRATEGIES:
        raise ValueError(f"name must be one of {available()}, got {name!r}")
    try:
        return STRATEGIES[name](**params)
    except TypeError as err:
        raise TypeError(f"strategy {name!r} does not take these parameters {sorted(params)}: {err}") from None
