r"""A finite hypothesis space: predictions, prior, equivalence classes and a data distribution.

Chapters: *The cost of labels* and *EC²: cutting edges between equivalence classes*.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import torch
from torch import Tensor

from balance_lite.clustering import farthest_first_classes, pairwise_hamming

__all__ = ["HypothesisSpace", "weighted_hamming", "threshold_space", "stylized_example"]

_ATOL = 1e-6


def weighted_hamming(preds: Tensor, point_weights: Tensor | None = None) -> Tensor:
    r"""Hamming distance between prediction vectors under a distribution over points.

    :math:`d_H(h, h') = \sum_x q(x) \mathbb{1}[h(x) \ne h'(x)]`, the probability that ``h`` and
    ``h'`` disagree on a point drawn from q (``point_weights``). With ``point_weights=None`` (or all weights equal)
    this is :func:`balance_lite.clustering.pairwise_hamming`, which it calls.

    Args:
        preds: ``[n, N]`` integer labels that n hypotheses predict on N points.
        point_weights: ``[N]`` non-negative weights summing to 1, or None for uniform weights.

    Returns:
        ``[n, n]`` float64 distances in [0, 1] on ``preds``' device.

    Raises:
        ValueError: ``preds`` is not ``[n, N]`` or ``point_weights`` is not a distribution over N points.

    Example:
        >>> preds = torch.tensor([[0, 0, 1], [0, 1, 1]])
        >>> weighted_hamming(preds, torch.tensor([0.25, 0.5, 0.25]))
        tensor([[0.0000, 0.5000],
                [0.5000, 0.0000]], dtype=torch.float64)
    """
    if preds.dim() != 2 or preds.shape[1] == 0:
        raise ValueError(f"preds must have shape [n, N] with N >= 1, got {tuple(preds.shape)}")
    if point_weights is not None:
        _check_distribution("point_weights", point_weights, preds.shape[1])
    if point_weights is None or bool((point_weights == point_weights[0]).all()):
        return pairwise_hamming(preds).double()
    if int(preds.min()) < 0:
        raise ValueError("preds must hold non-negative integer class labels")
    one_hot = torch.nn.functional.one_hot(preds.long(), int(preds.max()) + 1).double()  # [n, N, C]
    agree = torch.einsum("anc,bnc,n->ab", one_hot, one_hot, point_weights.double())
    return (1.0 - agree).clamp_min(0.0).fill_diagonal_(0.0)


def _check_distribution(name: str, p: Tensor, size: int) -> None:
    if p.dim() != 1 or p.shape[0] != size:
        raise ValueError(f"{name} must have shape [{size}], got {tuple(p.shape)}")
    if bool((p < 0).any()) or abs(float(p.sum()) - 1.0) > _ATOL:
        raise ValueError(f"{name} must be non-negative and sum to 1, got sum {float(p.sum()):.6g}")


@dataclass(frozen=True)
class HypothesisSpace:
    r"""n hypotheses, each a label distribution on each of N candidate points.

    Everything the hypothesis-space chapters compute exactly: the likelihoods ``p(y | h, x)``, a
    prior ``p(h)``, a partition of the hypotheses into equivalence classes (the "decisions" of
    EC² and ECED, App. A.1 of the paper) and a data distribution ``point_weights`` over the
    candidate points, which defines the error of a hypothesis against the target,
    :math:`\mathrm{err}(h; h^*) = d_H(h, h^*)` (:func:`weighted_hamming` of the most likely labels).

    Build one with :meth:`from_predictions`, :func:`threshold_space` or :func:`stylized_example`.

    Attributes:
        probs: ``[n, N, C]`` float64 ``p(y | h, x)``; noise-free hypotheses are one-hot.
        prior: ``[n]`` float64 prior ``p(h)``, summing to 1.
        classes: ``[n]`` long non-negative equivalence-class ids.
        point_weights: ``[N]`` float64 distribution of the points, summing to 1.

    Raises:
        ValueError: a shape disagrees, ``probs`` rows or ``prior`` or ``point_weights`` are not
            distributions, or ``classes`` holds a negative id.

    Example:
        >>> space = HypothesisSpace.from_predictions(torch.tensor([[0, 0], [0, 1], [1, 1]]))
        >>> space.probs.shape, space.num_eq_classes, space.noise_free
        (torch.Size([3, 2, 2]), 3, True)
    """

    probs: Tensor
    prior: Tensor
    classes: Tensor
    point_weights: Tensor

    def __post_init__(self) -> None:
        probs = self.probs
        if probs.dim() != 3 or probs.shape[0] == 0 or probs.shape[1] == 0 or probs.shape[2] < 2:
            raise ValueError(f"probs must have shape [n, N, C] with n, N >= 1 and C >= 2, got {tuple(probs.shape)}")
        n, N, _ = probs.shape
        if bool((probs < 0).any()) or not torch.allclose(probs.sum(-1), torch.ones_like(probs[..., 0]), atol=_ATOL):
            raise ValueError("probs must be non-negative and sum to 1 over the last (label) dimension")
        _check_distribution("prior", self.prior, n)
        _check_distribution("point_weights", self.point_weights, N)
        if self.classes.shape != (n,) or self.classes.dtype != torch.long:
            raise ValueError(f"classes must be a long tensor of shape [{n}], got {self.classes.dtype} {tuple(self.classes.shape)}")
        if bool((self.classes < 0).any()):
            raise ValueError(f"classes must hold non-negative ids, got {self.classes.tolist()}")

    @classmethod
    def from_predictions(
        cls,
        preds: Tensor,
        *,
        num_labels: int | None = None,
        prior: Tensor | None = None,
        classes: Tensor | None = None,
        point_weights: Tensor | None = None,
        noise: float = 0.0,
    ) -> HypothesisSpace:
        r"""A space from hard predictions, optionally with symmetric label noise.

        With noise rate :math:`\eta` (``noise``), :math:`p(y \mid h, x) = 1 - \eta` for the predicted
        label and :math:`\eta / (C - 1)` for each other label.

        Args:
            preds: ``[n, N]`` integer labels in ``0..C-1``.
            num_labels: C; default ``max(preds) + 1`` (at least 2).
            prior: ``[n]`` prior; default uniform.
            classes: ``[n]`` class ids; default every hypothesis its own class.
            point_weights: ``[N]`` data distribution; default uniform.
            noise: the label-noise rate :math:`\eta`, in ``[0, (C-1)/C)``.

        Returns:
            The :class:`HypothesisSpace` (float64, on ``preds``' device).

        Raises:
            ValueError: ``preds`` is not ``[n, N]`` non-negative integers below ``num_labels``, or
                ``noise`` is out of range.

        Example:
            >>> HypothesisSpace.from_predictions(torch.tensor([[0, 1]]), noise=0.1).probs
            tensor([[[0.9000, 0.1000],
                     [0.1000, 0.9000]]], dtype=torch.float64)
        """
        if preds.dim() != 2 or preds.shape[0] == 0 or preds.shape[1] == 0:
            raise ValueError(f"preds must have shape [n, N] with n, N >= 1, got {tuple(preds.shape)}")
        if preds.is_floating_point() or preds.is_complex():
            raise TypeError(f"preds must be an integer tensor, got {preds.dtype}")
        C = max(int(preds.max()) + 1, 2) if num_labels is None else num_labels
        if int(preds.min()) < 0 or int(preds.max()) >= C:
            raise ValueError(f"preds must hold labels in 0..{C - 1}, got range [{int(preds.min())}, {int(preds.max())}]")
        if not 0.0 <= noise < (C - 1) / C:
            raise ValueError(f"noise must be in [0, {(C - 1) / C:.4g}) for C = {C} labels, got {noise}")
        n, N = preds.shape
        one_hot = torch.nn.functional.one_hot(preds.long(), C).double()
        probs = one_hot * (1.0 - noise) + (1.0 - one_hot) * (noise / (C - 1))
        dev = preds.device
        prior = torch.full((n,), 1.0 / n, dtype=torch.float64, device=dev) if prior is None else prior.double()
        classes = torch.arange(n, device=dev) if classes is None else classes
        point_weights = (
            torch.full((N,), 1.0 / N, dtype=torch.float64, device=dev) if point_weights is None else point_weights.double()
        )
        return cls(probs, prior, classes, point_weights)

    @property
    def num_hypotheses(self) -> int:
        """n, the number of hypotheses."""
        return self.probs.shape[0]

    @property
    def num_points(self) -> int:
        """N, the number of candidate points."""
        return self.probs.shape[1]

    @property
    def num_labels(self) -> int:
        """C, the number of labels."""
        return self.probs.shape[2]

    @property
    def num_eq_classes(self) -> int:
        """The number of distinct equivalence classes."""
        return int(torch.unique(self.classes).numel())

    @cached_property
    def predictions(self) -> Tensor:
        """``[n, N]`` the most likely label of every hypothesis on every point (lowest label on ties)."""
        return self.probs.argmax(-1)

    @cached_property
    def noise_free(self) -> bool:
        """True when every ``p(y | h, x)`` is 0 or 1."""
        return bool(((self.probs == 0) | (self.probs == 1)).all())

    def distances(self) -> Tensor:
        """``[n, n]`` :func:`weighted_hamming` distances of the predictions under ``point_weights``."""
        return weighted_hamming(self.predictions, self.point_weights)

    def error(self, h: int, target: int) -> float:
        """The error of hypothesis ``h`` when ``target`` is the truth: their distance ``d_H(h, target)``."""
        pred = self.predictions
        return float(((pred[h] != pred[target]).double() * self.point_weights).sum())

    def with_classes(self, classes: Tensor) -> HypothesisSpace:
        """The same space with another partition ``classes`` (``[n]`` long)."""
        return replace(self, classes=classes)

    def with_metric_classes(self, radius: float) -> HypothesisSpace:
        r"""The same space, partitioned by farthest-first traversal of :meth:`distances`.

        Each class has radius at most ``radius`` around its center, so diameter at most
        ``2 * radius``: any hypothesis of the target's class has error at most ``2 * radius``.
        See :func:`balance_lite.clustering.farthest_first_classes`.
        """
        labels, _ = farthest_first_classes(self.distances(), radius)
        return replace(self, classes=labels)

    def with_noise(self, noise: float) -> HypothesisSpace:
        """The same hypotheses' :attr:`predictions` with symmetric label noise ``noise`` (see :meth:`from_predictions`)."""
        return HypothesisSpace.from_predictions(
            self.predictions,
            num_labels=self.num_labels,
            prior=self.prior,
            classes=self.classes,
            point_weights=self.point_weights,
            noise=noise,
        )


def threshold_space(points: Tensor, cuts: Tensor, *, point_weights: Tensor | None = None) -> HypothesisSpace:
    r"""Threshold classifiers on the real line, :math:`h_t(x) = \mathbb{1}[x \ge t]`.

    Every hypothesis starts in its own class and the prior is uniform.

    Args:
        points: ``[N]`` candidate points.
        cuts: ``[n]`` thresholds, one per hypothesis.
        point_weights: ``[N]`` data distribution; default uniform.

    Returns:
        A noise-free :class:`HypothesisSpace` with C = 2 labels.

    Raises:
        ValueError: ``points`` or ``cuts`` is not a non-empty 1-d tensor.

    Example:
        >>> threshold_space(torch.tensor([0.1, 0.5, 0.9]), torch.tensor([0.0, 0.3, 0.7])).predictions
        tensor([[1, 1, 1],
                [0, 1, 1],
                [0, 0, 1]])
    """
    if points.dim() != 1 or points.numel() == 0:
        raise ValueError(f"points must be a non-empty 1-d tensor, got shape {tuple(points.shape)}")
    if cuts.dim() != 1 or cuts.numel() == 0:
        raise ValueError(f"cuts must be a non-empty 1-d tensor, got shape {tuple(cuts.shape)}")
    preds = (points[None, :] >= cuts[:, None]).long()
    return HypothesisSpace.from_predictions(preds, num_labels=2, point_weights=point_weights)


def stylized_example(n: int, sigma: float, *, grid: bool = False) -> HypothesisSpace:
    r"""The stylized example of Sec. 2.1 / Fig. 2 of the paper, built as threshold classifiers.

    Hypothesis :math:`h_i` (index ``i - 1``) is the threshold :math:`t_i = 2^{1-i}` on
    :math:`x \sim \mathrm{Uniform}[0, 1]`, so two hypotheses disagree exactly on the interval
    between their thresholds and :math:`d_H(h_i, h_j) = |2^{1-i} - 2^{1-j}|`, as in the paper.
    The prior is uniform. All points of one interval :math:`[t_{k+1}, t_k)` get the same label
    from every hypothesis, so by default the candidate set holds one point per interval (its
    midpoint) weighted by the interval's length :math:`2^{-k}`, plus the midpoint of
    :math:`[0, t_n)` (weight :math:`2^{1-n}`), where all hypotheses agree: N = n points whose
    weights sum to 1. With ``grid=True`` the candidates are instead the :math:`2^{n-1}` points
    :math:`(u + 1/2) / 2^{n-1}` with equal weights, which give the same distances (every
    threshold is a multiple of :math:`2^{1-n}`); use it for small n to check the distances
    with :func:`balance_lite.clustering.pairwise_hamming`.

    The equivalence classes come from farthest-first traversal with radius ``sigma / 2``
    (:meth:`HypothesisSpace.with_metric_classes`), so every class has diameter at most
    ``sigma``: once the consistent hypotheses lie in one class, each of them has error at most
    ``sigma``.

    Args:
        n: the number of hypotheses, 2 to 512 (2 to 16 with ``grid=True``).
        sigma: the target error, in (0, 1).
        grid: use the equally weighted grid of :math:`2^{n-1}` points.

    Returns:
        A noise-free :class:`HypothesisSpace` with C = 2 labels.

    Raises:
        ValueError: ``n`` or ``sigma`` is out of range.

    Example:
        >>> space = stylized_example(4, 0.3)
        >>> space.distances()[0].tolist(), space.point_weights.tolist()
        ([0.0, 0.5, 0.75, 0.875], [0.125, 0.125, 0.25, 0.5])
    """
    if not 2 <= n <= (16 if grid else 512):
        raise ValueError(f"n must be between 2 and {16 if grid else 512}{' with grid=True' if grid else ''}, got {n}")
    if not 0.0 < sigma < 1.0:
        raise ValueError(f"sigma must be in (0, 1), got {sigma}")
    cuts = torch.tensor([2.0 ** (1 - i) for i in range(1, n + 1)], dtype=torch.float64)
    if grid:
        U = 2 ** (n - 1)
        points = (torch.arange(U, dtype=torch.float64) + 0.5) / U
        weights = None
    else:
        edges = torch.cat([torch.zeros(1, dtype=torch.float64), cuts.flip(0)])  # 0, t_n, ..., t_1 = 1
        points = (edges[:-1] + edges[1:]) / 2
        weights = edges[1:] - edges[:-1]  # 2^{1-n}, 2^{1-n}, 2^{2-n}, ..., 1/2: sums to 1 exactly
    return threshold_space(points, cuts, point_weights=weights).with_metric_classes(sigma / 2)
