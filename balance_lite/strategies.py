r"""Acquisition strategies by name: what the loop calls to choose the next batch.

Chapter: *The active learning loop in 30 lines*.

A strategy turns a trained MC-dropout network and the unlabeled pool into a batch of pool
positions, in two timed steps with one signature for every method:

1. :meth:`Strategy.predict` samples the typed predictions its method needs from the network
   (:class:`~balance_lite.acquisition.PoolSize`, :class:`~balance_lite.acquisition.SamplePredictions`,
   :class:`~balance_lite.acquisition.PairPredictions`, :class:`~balance_lite.acquisition.TargetPredictions`,
   :class:`~balance_lite.acquisition.EmbeddingPredictions`): only the pool size N for random,
   ``[N, S, C]`` log-probabilities for BALD-like scores, for the BALanCe family two independent sets
   of K consistent masks, i.e. ``[N, K, C]`` twice on the pool plus the two sets' hard predictions on
   D̄pool ``[K, U]``, for EPIG ``[N, S, C]`` on the pool and ``[T, S, C]`` on T target inputs from
   D̄pool under the same S masks, and for BADGE and Core-Set the dropout-off network's penultimate
   embedding, Core-Set also that of the labeled points, which the loop passes as ``labeled_x`` to a
   strategy whose ``uses_labeled`` is True;
2. :meth:`Strategy.select` resolves the method's parameters (tau, annealed from the dropout-off
   validation error, or fixed) and calls one ``select_*`` function of :mod:`balance_lite.acquisition`,
   which returns the :class:`~balance_lite.acquisition.Selection` unchanged.

Every method is declared once, in :data:`STRATEGIES`: its name, how to build it and which preset
fields (S = ``num_samples``, K = ``num_pairs``, M = ``num_configurations``, ``divisor``) it takes,
so a preset builds any strategy from the registry. :func:`get_strategy` builds one from its name
and parameters, e.g. ``get_strategy("batch-balance", num_pairs=100, divisor=4)``.

Example:
    >>> strategy = get_strategy("random")
    >>> g = torch.Generator().manual_seed(0)
    >>> chosen = strategy(None, torch.zeros(10, 3), None, batch_size=3, val_error=0.5, generator=g)
    >>> len(chosen.indices), chosen.tau
    (3, None)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, ClassVar

import torch
from torch import Tensor

from . import acquisition
from .acquisition import (EmbeddingPredictions, PairPredictions, PoolSize, SamplePredictions, Selection,
                          TargetPredictions)
from .checks import check_choice, check_positive_int, check_positive_real

__all__ = [
    "BadgeStrategy",
    "BalanceStrategy",
    "BatchBALDStrategy",
    "BatchBalanceStrategy",
    "CoresetStrategy",
    "EPIGStrategy",
    "Method",
    "PartitionStrategy",
    "PowerBalanceStrategy",
    "PowerEPIGStrategy",
    "PowerScoreStrategy",
    "RandomStrategy",
    "STRATEGIES",
    "ScoreStrategy",
    "Strategy",
    "available",
    "get_strategy",
]

Predictions = PoolSize | SamplePredictions | PairPredictions | TargetPredictions | EmbeddingPredictions


class Strategy:
    """One acquisition method: ``predict`` then ``select``; ``strategy(...)`` does both.

    Subclasses implement both steps; their constructor arguments are the method's parameters
    (see :meth:`params`).
    """

    name: ClassVar[str] = ""
    #: Whether :meth:`predict` needs D̄pool (the held-out inputs).
    uses_holdout: ClassVar[bool] = False
    #: Whether :meth:`predict` needs the labeled inputs: then it takes a keyword ``labeled_x``
    #: ``[L, ...]`` (L may be 0), which the loop and ``strategy(...)`` pass only to such strategies.
    uses_labeled: ClassVar[bool] = False

    def predict(self, model, pool_x: Tensor, holdout_x: Tensor | None, *, generator: torch.Generator) -> Predictions:
        """Sample what :meth:`select` needs from the trained ``model`` on ``pool_x`` ``[N, ...]``."""
        raise NotImplementedError

    def select(self, predictions: Predictions, batch_size: int, *, val_error: float,
               generator: torch.Generator) -> Selection:
        """Choose ``batch_size`` positions of the pool given :meth:`Strategy.predict`'s output."""
        raise NotImplementedError

    def __call__(self, model, pool_x: Tensor, holdout_x: Tensor | None, *, batch_size: int, val_error: float,
                 generator: torch.Generator, labeled_x: Tensor | None = None) -> Selection:
        extra = {"labeled_x": labeled_x} if self.uses_labeled else {}
        predictions = self.predict(model, pool_x, holdout_x, generator=generator, **extra)
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


@dataclass(repr=False)
class RandomStrategy(Strategy):
    """Uniformly random batches: the baseline every curve is compared with."""

    name: ClassVar[str] = "random"

    def predict(self, model, pool_x, holdout_x, *, generator) -> PoolSize:
        return PoolSize(pool_x.shape[0])

    def select(self, predictions, batch_size, *, val_error, generator) -> Selection:
        return acquisition.select_random(predictions, batch_size, generator=generator)


def _sample_log_probs(model, pool_x: Tensor, num_samples: int, chunk_size, generator) -> SamplePredictions:
    return SamplePredictions(model.sample_log_probs(pool_x, num_samples, chunk_size=chunk_size, generator=generator))


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
        check_positive_int(self.num_samples, "num_samples")

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.label

    def predict(self, model, pool_x, holdout_x, *, generator) -> SamplePredictions:
        return _sample_log_probs(model, pool_x, self.num_samples, self.chunk_size, generator)

    def select(self, predictions, batch_size, *, val_error, generator) -> Selection:
        return acquisition.select_top_scores(predictions, batch_size, score_fn=self.score_fn, generator=generator)


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
        check_positive_int(self.num_samples, "num_samples")
        check_positive_int(self.num_configurations, "num_configurations")

    def predict(self, model, pool_x, holdout_x, *, generator) -> SamplePredictions:
        return _sample_log_probs(model, pool_x, self.num_samples, self.chunk_size, generator)

    def select(self, predictions, batch_size, *, val_error, generator) -> Selection:
        return acquisition.select_batchbald(predictions, batch_size, num_configurations=self.num_configurations,
                                            generator=generator)


@dataclass(repr=False)
class _PairStrategy(Strategy):
    """Shared by the BALanCe family: K pairs of hypotheses and the tau rule."""

    num_pairs: int = 100
    tau: float | str = "anneal"
    divisor: float = 4.0
    chunk_size: int | None = None
    uses_holdout: ClassVar[bool] = True

    def __post_init__(self):
        check_positive_int(self.num_pairs, "num_pairs")
        check_positive_real(self.divisor, "divisor")
        acquisition.resolve_tau(self.tau, self.divisor, 0.0)  # raises on a bad fixed tau

    def predict(self, model, pool_x, holdout_x, *, generator) -> PairPredictions:
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

    def resolve_tau(self, val_error: float) -> float:
        """This acquisition's tau (see :func:`balance_lite.acquisition.resolve_tau`)."""
        return acquisition.resolve_tau(self.tau, self.divisor, val_error)


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

    def select(self, predictions, batch_size, *, val_error, generator) -> Selection:
        return acquisition.select_balance(predictions, batch_size, tau=self.resolve_tau(val_error),
                                          generator=generator)


@dataclass(repr=False)
class BatchBalanceStrategy(_PairStrategy):
    """Batch-BALanCe (Eq. 4, Alg. 2): greedy batch of maximal joint BALanCe value.

    Args:
        num_pairs: K, hypothesis pairs (2K masks).
        tau: ``"anneal"`` or a fixed threshold.
        divisor: the annealing divisor.
        route: how :func:`~balance_lite.acquisition.batch_balance` computes: ``"factorized"``
            (exact at any batch size), ``"importance"`` (Eq. 5) or ``"enumerate"``.
        num_configurations: M, label configurations for ``route="importance"``.
        chunk_size: points per forward pass.
    """

    route: str = "factorized"
    num_configurations: int = 10_000

    @property
    def name(self) -> str:  # type: ignore[override]
        """``"batch-balance"``, or ``"batch-balance-importance"`` / ``"batch-balance-enumerate"``."""
        return "batch-balance" if self.route == "factorized" else f"batch-balance-{self.route}"

    def __post_init__(self):
        super().__post_init__()
        check_choice(self.route, "route", acquisition.ROUTES)
        check_positive_int(self.num_configurations, "num_configurations")

    def select(self, predictions, batch_size, *, val_error, generator) -> Selection:
        return acquisition.select_batch_balance(predictions, batch_size, tau=self.resolve_tau(val_error),
                                                route=self.route, num_configurations=self.num_configurations,
                                                generator=generator)


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

    def select(self, predictions, batch_size, *, val_error, generator) -> Selection:
        return acquisition.select_partition(predictions, batch_size, tau=self.resolve_tau(val_error),
                                            generator=generator)


# ---- beyond the paper: stochastic batches (Kirsch et al., TMLR 2023) and EPIG (Bickford Smith et al., 2023) ----


@dataclass(repr=False)
class _Sampling:
    """The stochastic-batch parameters ``mode`` and ``beta``, mixed into a strategy before its base class."""

    mode: str = "power"
    beta: float = 1.0

    def __post_init__(self):
        super().__post_init__()  # the strategy base class's checks
        check_choice(self.mode, "mode", acquisition.SAMPLING_MODES)
        check_positive_real(self.beta, "beta")


@dataclass(repr=False)
class PowerScoreStrategy(_Sampling, ScoreStrategy):
    """A stochastic batch of a one-point score (Kirsch et al., TMLR 2023); with BALD and ``"power"``, PowerBALD.

    Args:
        score_fn: ``[N, S, C] -> [N]``, higher is better, >= 0 for ``mode="power"``.
        num_samples: S, consistent MC-dropout masks.
        chunk_size: points per forward pass.
        label: the name recorded for this strategy.
        mode: ``"power"``, ``"softmax"`` or ``"softrank"`` (:func:`~balance_lite.acquisition.stochastic_batch`).
        beta: the coldness (1 in the paper).
    """

    def select(self, predictions, batch_size, *, val_error, generator) -> Selection:
        return acquisition.select_power_scores(predictions, batch_size, score_fn=self.score_fn, mode=self.mode,
                                               beta=self.beta, generator=generator)


@dataclass(repr=False)
class PowerBalanceStrategy(_Sampling, _PairStrategy):
    """PowerBALanCe: a stochastic batch of BALanCe scores (Eq. 3), tau as for :class:`BalanceStrategy`.

    Kirsch et al. (TMLR 2023) sampling applied to BALanCe; with no edge left every score is 0 and
    the batch is random (``random_fallback``), as for BALanCe.

    Args:
        num_pairs: K, hypothesis pairs (2K masks).
        tau: ``"anneal"`` (``val_error / divisor``) or a fixed threshold.
        divisor: the annealing divisor.
        chunk_size: points per forward pass.
        mode: ``"power"``, ``"softmax"`` or ``"softrank"``.
        beta: the coldness (1 in the paper).
    """

    name: ClassVar[str] = "power-balance"
    def select(self, predictions, batch_size, *, val_error, generator) -> Selection:
        return acquisition.select_power_balance(predictions, batch_size, tau=self.resolve_tau(val_error),
                                                mode=self.mode, beta=self.beta, generator=generator)


@dataclass(repr=False)
class EPIGStrategy(Strategy):
    r"""EPIG (Bickford Smith et al., AISTATS 2023): top-B expected predictive information gain about D̄pool.

    The targets :math:`x_* \sim p_*` are a random subset of ``num_targets`` held-out inputs
    (D̄pool, drawn with the acquisition generator); pool and targets are predicted under the same
    S masks.

    Args:
        num_samples: S, consistent MC-dropout masks shared by pool and targets.
        num_targets: T, the most target inputs used (all of D̄pool when it has fewer).
        chunk_size: points per forward pass.
    """

    name: ClassVar[str] = "epig"
    uses_holdout: ClassVar[bool] = True
    num_samples: int = 100
    num_targets: int = 100
    chunk_size: int | None = None

    def __post_init__(self):
        check_positive_int(self.num_samples, "num_samples")
        check_positive_int(self.num_targets, "num_targets")

    def predict(self, model, pool_x, holdout_x, *, generator) -> TargetPredictions:
        if holdout_x is None or holdout_x.shape[0] == 0:
            raise ValueError(f"{self.name} needs held-out inputs (D̄pool) as targets, got none")
        if holdout_x.shape[0] > self.num_targets:
            subset = torch.randperm(holdout_x.shape[0], generator=generator)[: self.num_targets].sort().values
            holdout_x = holdout_x[subset]
        masks = model.draw_masks(self.num_samples, generator=generator)
        return TargetPredictions(
            log_probs=model.sample_log_probs(pool_x, masks=masks, chunk_size=self.chunk_size),
            target_log_probs=model.sample_log_probs(holdout_x, masks=masks, chunk_size=self.chunk_size),
        )

    def select(self, predictions, batch_size, *, val_error, generator) -> Selection:
        return acquisition.select_epig(predictions, batch_size, generator=generator)


@dataclass(repr=False)
class PowerEPIGStrategy(_Sampling, EPIGStrategy):
    """PowerEPIG: a stochastic batch of EPIG scores (Kirsch et al., TMLR 2023; Bickford Smith et al., 2023).

    Args:
        num_samples: S, masks shared by pool and targets.
        num_targets: T, the most target inputs used.
        chunk_size: points per forward pass.
        mode: ``"power"``, ``"softmax"`` or ``"softrank"``.
        beta: the coldness (1 in the paper).
    """

    name: ClassVar[str] = "power-epig"
    def select(self, predictions, batch_size, *, val_error, generator) -> Selection:
        return acquisition.select_power_epig(predictions, batch_size, mode=self.mode, beta=self.beta,
                                             generator=generator)


# ---- beyond the paper: diversity in the dropout-off embedding, BADGE (Ash et al., ICLR 2020) and Core-Set ----


@dataclass(repr=False)
class BadgeStrategy(Strategy):
    """BADGE (Ash et al., ICLR 2020): k-means++ seeding on the gradient embeddings of the dropout-off network.

    No MC-dropout samples: :meth:`predict` embeds the pool once with dropout off
    (:meth:`~balance_lite.models.MCDropoutNet.embed`), :func:`~balance_lite.acquisition.badge` selects.

    Args:
        chunk_size: points per forward pass (None: the network's default).
    """

    name: ClassVar[str] = "badge"
    chunk_size: int | None = None

    def __post_init__(self):
        if self.chunk_size is not None:
            check_positive_int(self.chunk_size, "chunk_size")

    def predict(self, model, pool_x, holdout_x, *, generator) -> EmbeddingPredictions:
        features, logits = model.embed(pool_x, chunk_size=self.chunk_size)
        return EmbeddingPredictions(features, log_probs=logits.log_softmax(-1))

    def select(self, predictions, batch_size, *, val_error, generator) -> Selection:
        return acquisition.select_badge(predictions, batch_size, generator=generator)


@dataclass(repr=False)
class CoresetStrategy(Strategy):
    """Core-Set (Sener and Savarese, ICLR 2018): greedy k-centre in the dropout-off network's embedding.

    :meth:`predict` embeds the pool and the labeled inputs ``labeled_x`` (the initial centres) with
    dropout off; :func:`~balance_lite.acquisition.coreset` selects.

    Args:
        chunk_size: points per forward pass (None: the network's default).
    """

    name: ClassVar[str] = "coreset"
    uses_labeled: ClassVar[bool] = True
    chunk_size: int | None = None

    def __post_init__(self):
        if self.chunk_size is not None:
            check_positive_int(self.chunk_size, "chunk_size")

    def predict(self, model, pool_x, holdout_x, *, generator, labeled_x: Tensor | None = None) -> EmbeddingPredictions:
        if labeled_x is None:
            raise ValueError(f"{self.name} needs labeled_x, the labeled inputs [L, ...] (L may be 0), got None")
        return EmbeddingPredictions(model.embed(pool_x, chunk_size=self.chunk_size).features,
                                    labeled_features=model.embed(labeled_x, chunk_size=self.chunk_size).features)

    def select(self, predictions, batch_size, *, val_error, generator) -> Selection:
        return acquisition.select_coreset(predictions, batch_size, generator=generator)


@dataclass(frozen=True)
class Method:
    """An acquisition method, declared once: its name, how to build it, the preset fields it takes.

    Attributes:
        name: the registered name (``balance-lite run --methods NAME``, results file names).
        build: the constructor; takes the method's parameters as keywords.
        preset_fields: the :class:`~balance_lite.experiments.presets.Preset` fields passed to ``build``
            (their names are the constructor's parameter names).
        doc: one line for listings.
    """

    name: str
    build: Callable[..., Strategy]
    preset_fields: tuple[str, ...] = ()
    doc: str = ""

    def __call__(self, **params) -> Strategy:
        return self.build(**params)


def _scores(name: str, score_fn: Callable[[Tensor], Tensor]) -> Method:
    def build(num_samples: int = 100, chunk_size: int | None = None) -> ScoreStrategy:
        return ScoreStrategy(score_fn, num_samples=num_samples, chunk_size=chunk_size, label=name)

    doc = f"top-B of balance_lite.acquisition.{score_fn.__name__}"
    return Method(name, build, ("num_samples",), doc)


def _power_scores(name: str, score_fn: Callable[[Tensor], Tensor]) -> Method:
    def build(num_samples: int = 100, chunk_size: int | None = None, mode: str = "power",
              beta: float = 1.0) -> PowerScoreStrategy:
        return PowerScoreStrategy(score_fn, num_samples=num_samples, chunk_size=chunk_size, label=name, mode=mode,
                                  beta=beta)

    doc = f"stochastic batch (power, softmax or softrank sampling) of balance_lite.acquisition.{score_fn.__name__}"
    return Method(name, build, ("num_samples",), doc)


def _batch_balance_importance(**params) -> BatchBalanceStrategy:
    return BatchBalanceStrategy(route="importance", **params)


#: Every registered method by name.
STRATEGIES: dict[str, Method] = {m.name: m for m in [
    Method("random", RandomStrategy, (), "uniformly random batches"),
    _scores("bald", acquisition.bald_scores),
    _scores("mean-std", acquisition.mean_std_scores),
    _scores("variation-ratio", acquisition.variation_ratio_scores),
    _scores("entropy", acquisition.predictive_entropy_scores),
    Method("batchbald", BatchBALDStrategy, ("num_samples", "num_configurations"), "BatchBALD, greedy joint MI"),
    Method("balance", BalanceStrategy, ("num_pairs", "divisor"), "BALanCe (Eq. 3), top-B"),
    Method("batch-balance", BatchBalanceStrategy, ("num_pairs", "divisor"), "Batch-BALanCe (Eq. 4), exact"),
    Method("batch-balance-importance", _batch_balance_importance, ("num_pairs", "divisor", "num_configurations"),
           "Batch-BALanCe estimated by importance sampling (Eq. 5)"),
    Method("balance-partition", PartitionStrategy, ("num_pairs", "divisor"), "BALanCe-Partition (App. B.3)"),
    # beyond the paper: stochastic batches (Kirsch et al., TMLR 2023) and EPIG (Bickford Smith et al., 2023)
    _power_scores("power-bald", acquisition.bald_scores),
    Method("power-balance", PowerBalanceStrategy, ("num_pairs", "divisor"),
           "PowerBALanCe: stochastic batch of BALanCe scores (Eq. 3)"),
    Method("epig", EPIGStrategy, ("num_samples",), "EPIG about D̄pool targets, top-B"),
    Method("power-epig", PowerEPIGStrategy, ("num_samples",), "PowerEPIG: stochastic batch of EPIG scores"),
    # beyond the paper: diversity in the dropout-off network's embedding
    Method("badge", BadgeStrategy, (), "BADGE (Ash et al. 2020): k-means++ seeding on gradient embeddings"),
    Method("coreset", CoresetStrategy, (), "Core-Set (Sener and Savarese 2018): greedy k-centre on embeddings"),
]}


def available() -> list[str]:
    """The names :func:`get_strategy` accepts."""
    return list(STRATEGIES)


def get_strategy(name: str, **params) -> Strategy:
    """Build the strategy registered as ``name`` with its parameters.

    Args:
        name: one of :func:`available`.
        params: the method's parameters, e.g. ``num_samples`` (S) for BALD-like scores, ``num_pairs`` (K),
            ``tau``, ``divisor`` and ``num_configurations`` (M) for the BALanCe family, ``mode`` and
            ``beta`` for the stochastic ``power-*`` methods, ``num_targets`` (T) for EPIG.

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
        if "unexpected keyword" not in str(err):
            raise
        raise TypeError(f"strategy {name!r} does not take these parameters {sorted(params)}: {err}") from None
