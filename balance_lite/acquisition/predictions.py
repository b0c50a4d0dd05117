r"""Typed predictions, one container per method family: what a strategy samples, what a selector takes.

Chapter: *The active learning loop in 30 lines* (predict, then select).

The glossary of the whole library (and of the book's notation):

=====  ========================  ==========================================================
 N     pool points               the unlabeled candidates
 S     ``num_samples``           MC-dropout samples (hypotheses) for BALD-like scores
 K     ``num_pairs``             hypothesis pairs :math:`(\omega_k, \omega'_k)` of the BALanCe family
 M     ``num_configurations``    label configurations sampled by BatchBALD / Eq. 5
 B     ``batch_size``            points acquired per iteration
 C     classes
 U     points of D̄pool           the held-out inputs on which Hamming distances are measured
 T     ``num_targets``           target inputs of EPIG (a random subset of D̄pool)
 D     embedding width           the penultimate layer's width (BADGE, Core-Set)
 L     labeled points            the labeled set (Core-Set's initial centres)
=====  ========================  ==========================================================

- :class:`PoolSize`: the random baseline needs nothing but N.
- :class:`SamplePredictions`: ``[N, S, C]`` log-probabilities under S consistent masks (BALD,
  entropy, mean-std, variation ratio, BatchBALD).
- :class:`PairPredictions`: the BALanCe family's K pairs: ``[N, K, C]`` twice on the pool and the
  two sets' hard predictions ``[K, U]`` on D̄pool.
- :class:`TargetPredictions`: EPIG's ``[N, S, C]`` pool and ``[T, S, C]`` target log-probabilities
  under the same S masks.
- :class:`EmbeddingPredictions`: the dropout-off network's penultimate embedding ``[N, D]`` of the
  pool, with its ``[N, C]`` log-probabilities (BADGE) or the labeled points' ``[L, D]`` (Core-Set).

Example:
    >>> pairs = PairPredictions(torch.zeros(6, 4, 3), torch.zeros(6, 4, 3),
    ...                         torch.zeros(4, 9, dtype=torch.long), torch.zeros(4, 9, dtype=torch.long))
    >>> pairs.num_points, pairs.num_pairs
    (6, 4)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from ..checks import check_int

__all__ = ["EmbeddingPredictions", "PairPredictions", "PoolSize", "SamplePredictions", "TargetPredictions"]


def _check_tensor(value, name: str, shape: str, dim: int) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape}, got {type(value).__name__}")
    if value.dim() != dim:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")


@dataclass(frozen=True)
class PoolSize:
    """What the random baseline needs: the number N of pool points."""

    num_points: int

    def __post_init__(self):
        n = check_int(self.num_points, "num_points", expected="a non-negative integer")
        if n < 0:
            raise ValueError(f"num_points must be a non-negative integer, got {n}")


class _OnThePool:
    """What both log-probability containers share: the field ``_pool_field`` is ``[N, *, C]`` on the pool."""

    _pool_field: ClassVar[str]

    @property
    def num_points(self) -> int:
        """N."""
        return int(getattr(self, self._pool_field).shape[0])


@dataclass(frozen=True)
class SamplePredictions(_OnThePool):
    """``[N, S, C]`` pool log-probabilities under S consistent MC-dropout masks.

    Attributes:
        log_probs: the log-probabilities (values are checked by the function that uses them).
    """

    log_probs: Tensor
    _pool_field: ClassVar[str] = "log_probs"

    def __post_init__(self):
        _check_tensor(self.log_probs, "log_probs", "[N, S, C]", 3)

    @property
    def num_samples(self) -> int:
        """S."""
        return int(self.log_probs.shape[1])


@dataclass(frozen=True)
class PairPredictions(_OnThePool):
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
    _pool_field: ClassVar[str] = "log_probs_a"

    def __post_init__(self):
        _check_tensor(self.log_probs_a, "log_probs_a", "[N, K, C]", 3)
        _check_tensor(self.log_probs_b, "log_probs_b", "[N, K, C]", 3)
        _check_tensor(self.preds_a, "preds_a", "[K, U]", 2)
        _check_tensor(self.preds_b, "preds_b", "[K, U]", 2)

    @property
    def num_pairs(self) -> int:
        """K."""
        return int(self.log_probs_a.shape[1])


@dataclass(frozen=True)
class TargetPredictions(_OnThePool):
    """What EPIG samples: pool and target log-probabilities under the same S MC-dropout masks.

    Attributes:
        log_probs: ``[N, S, C]`` pool log-probabilities.
        target_log_probs: ``[T, S, C]`` log-probabilities of T target inputs (drawn from D̄pool);
            sample s uses the same mask as sample s of ``log_probs``.

    Example:
        >>> TargetPredictions(torch.zeros(6, 4, 3), torch.zeros(5, 4, 3)).num_targets
        5
    """

    log_probs: Tensor
    target_log_probs: Tensor
    _pool_field: ClassVar[str] = "log_probs"

    def __post_init__(self):
        _check_tensor(self.log_probs, "log_probs", "[N, S, C]", 3)
        _check_tensor(self.target_log_probs, "target_log_probs", "[T, S, C]", 3)
        if self.target_log_probs.shape[1:] != self.log_probs.shape[1:]:
            raise ValueError(f"target_log_probs must have shape [T, S, C] with the S and C of log_probs "
                             f"{tuple(self.log_probs.shape)}, got {tuple(self.target_log_probs.shape)}")

    @property
    def num_samples(self) -> int:
        """S."""
        return int(self.log_probs.shape[1])

    @property
    def num_targets(self) -> int:
        """T."""
        return int(self.target_log_probs.shape[0])


@dataclass(frozen=True)
class EmbeddingPredictions(_OnThePool):
    """What BADGE and Core-Set take: the dropout-off network's embedding of the pool (no MC samples).

    Attributes:
        features: ``[N, D]`` penultimate-layer embeddings φ(x) of the pool
            (:meth:`balance_lite.models.MCDropoutNet.embed`).
        log_probs: ``[N, C]`` dropout-off log-probabilities of the pool (BADGE), or None.
        labeled_features: ``[L, D]`` embeddings of the labeled points (Core-Set; L may be 0), or None.

    Example:
        >>> EmbeddingPredictions(torch.zeros(5, 3), labeled_features=torch.zeros(0, 3)).num_points
        5
    """

    features: Tensor
    log_probs: Tensor | None = None
    labeled_features: Tensor | None = None
    _pool_field: ClassVar[str] = "features"

    def __post_init__(self):
        _check_tensor(self.features, "features", "[N, D]", 2)
        if self.log_probs is not None:
            _check_tensor(self.log_probs, "log_probs", "[N, C]", 2)
        if self.labeled_features is not None:
            _check_tensor(self.labeled_features, "labeled_features", "[L, D]", 2)
