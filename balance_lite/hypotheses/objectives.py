r"""EC², ECED and BALD on a finite hypothesis space, computed exactly.

Chapters: *EC²: cutting edges between equivalence classes* (EC², App. A.1 of the paper),
*ECED: discounting edges when labels are noisy* (ECED, Eq. 1 of the paper, Sec. 2.2) and
*When information is not what you need* (BALD against both).

Conventions. ``probs`` is ``[n, N, C]``, the likelihood :math:`p(y \mid h, x)` of n hypotheses
on N candidate points with C labels (symbols as on the book's Notation page). ``weights`` is ``[n]``, the unnormalised posterior
:math:`w(h) = p(h, D) = p(h) \prod_{(x, y) \in D} p(y \mid h, x)`: the prior before any
observation, updated by :func:`posterior_update`. In the noise-free case it is the prior times
the indicator that h is consistent with D. ``classes`` is ``[n]`` long equivalence-class ids.
The edge objectives are quadratic in ``weights`` (they scale by :math:`s^2` when ``weights``
scale by s), so the policies they define do not depend on the normalisation; the information
scores use the normalised posterior and are in nats. Everything is computed in float64 on
``probs``' device.
"""

from __future__ import annotations

import torch
from torch import Tensor

from balance_lite.acquisition.balance import likelihood_ratios

__all__ = [
    "likelihood_ratios",
    "predictive",
    "posterior_update",
    "edge_weight",
    "cut_edges",
    "ec2_objective",
    "ec2_scores",
    "eced_edge_discount",
    "eced_offset",
    "eced_scores",
    "hypothesis_bald_scores",
    "class_bald_scores",
]


def _check(probs: Tensor, weights: Tensor, classes: Tensor | None = None) -> None:
    if probs.dim() != 3 or probs.shape[2] < 2:
        raise ValueError(f"probs must have shape [n, N, C] with C >= 2, got {tuple(probs.shape)}")
    n = probs.shape[0]
    if weights.shape != (n,):
        raise ValueError(f"weights must have shape [{n}] (one per hypothesis of probs), got {tuple(weights.shape)}")
    if bool((weights < 0).any()) or not float(weights.sum()) > 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {weights.tolist()}")
    if classes is not None and (classes.shape != (n,) or classes.dtype != torch.long or bool((classes < 0).any())):
        raise ValueError(f"classes must be a non-negative long tensor of shape [{n}], got {classes.dtype} {tuple(classes.shape)}")


def _class_sums(masses: Tensor, classes: Tensor) -> Tensor:
    """``[n, ...]`` masses summed within each class: ``[..., K]`` with K = max(classes) + 1."""
    one_hot = torch.nn.functional.one_hot(classes, int(classes.max()) + 1).to(masses.dtype)  # [n, K]
    return torch.einsum("h...,hk->...k", masses, one_hot)


def _edge_weight_of(masses: Tensor, classes: Tensor) -> Tensor:
    r"""Sum over pairs in different classes of the product of masses, for every trailing index.

    :math:`\sum_{\{h, h'\}: r(h) \ne r(h')} m(h) m(h') = \frac{1}{2}\big((\sum_k M_k)^2 - \sum_k M_k^2\big)`
    with :math:`M_k` the mass of class k: O(n) instead of O(n^2).
    """
    M = _class_sums(masses, classes)
    return (M.sum(-1).square() - M.square().sum(-1)).clamp_min(0.0) / 2


def _entropy(p: Tensor) -> Tensor:
    return -torch.xlogy(p, p).sum(-1)


def predictive(probs: Tensor, weights: Tensor) -> Tensor:
    r"""The posterior predictive :math:`p(y \mid x, D) = \sum_h w(h) p(y \mid h, x) / \sum_h w(h)`.

    Args:
        probs: ``[n, N, C]`` likelihoods.
        weights: ``[n]`` unnormalised posterior.

    Returns:
        ``[N, C]`` float64 label distributions.

    Raises:
        ValueError: shapes disagree or ``weights`` are negative or all zero.

    Example:
        >>> predictive(torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]]), torch.tensor([3.0, 1.0]))
        tensor([[0.7500, 0.2500]], dtype=torch.float64)
    """
    _check(probs, weights)
    w = weights.double()
    return torch.einsum("hnc,h->nc", probs.double(), w) / w.sum()


def posterior_update(weights: Tensor, probs: Tensor, point: int, label: int) -> Tensor:
    r"""Bayes' rule after observing label ``label`` at point ``point``: :math:`w(h) \leftarrow w(h)\, p(y \mid h, x)`.

    Every edge weight :math:`w(h) w(h')` becomes :math:`w(h) w(h')\, p(y \mid h, x)\, p(y \mid h', x)`.
    Noise-free, this zeroes the hypotheses that predicted another label.

    Args:
        weights: ``[n]`` unnormalised posterior.
        probs: ``[n, N, C]`` likelihoods.
        point: the queried point's index in ``0..N-1``.
        label: the observed label in ``0..C-1``.

    Returns:
        ``[n]`` float64 updated (unnormalised) weights.

    Raises:
        ValueError: shapes disagree, or ``point`` or ``label`` is out of range.

    Example:
        >>> posterior_update(torch.tensor([0.5, 0.5]), torch.tensor([[[0.9, 0.1]], [[0.2, 0.8]]]), 0, 1)
        tensor([0.0500, 0.4000], dtype=torch.float64)
    """
    _check(probs, weights)
    _, N, C = probs.shape
    if not 0 <= point < N:
        raise ValueError(f"point must be in [0, {N}), got {point}")
    if not 0 <= label < C:
        raise ValueError(f"label must be in [0, {C}), got {label}")
    return weights.double() * probs[:, point, label].double()


def edge_weight(weights: Tensor, classes: Tensor) -> Tensor:
    r"""Total weight of the EC² edges: :math:`W(w) = \sum_{\{h, h'\}: r(h) \ne r(h')} w(h) w(h')`.

    One edge per unordered pair of hypotheses in different equivalence classes (App. A.1).

    Args:
        weights: ``[n]`` non-negative weights (the prior, or an unnormalised posterior).
        classes: ``[n]`` long class ids.

    Returns:
        A float64 scalar tensor.

    Raises:
        ValueError: shapes disagree or ``weights`` are negative.

    Example:
        >>> edge_weight(torch.tensor([0.5, 0.25, 0.25]), torch.tensor([0, 0, 1]))  # (0.5 + 0.25) * 0.25
        tensor(0.1875, dtype=torch.float64)
    """
    if weights.dim() != 1 or classes.shape != weights.shape or classes.dtype != torch.long:
        raise ValueError(f"weights and classes must both have shape [n] (classes long), got {tuple(weights.shape)} and {classes.dtype} {tuple(classes.shape)}")
    if bool((weights < 0).any()):
        raise ValueError("weights must be non-negative")
    return _edge_weight_of(weights.double(), classes)


def cut_edges(probs: Tensor, classes: Tensor, point: int, label: int) -> Tensor:
    r"""The EC² edges cut by observing ``(x, y)``: those touching a hypothesis inconsistent with y.

    A hypothesis is inconsistent when :math:`p(y \mid h, x) = 0`; with noisy likelihoods that
    never happens and nothing is cut (which is why ECED discounts instead).

    Args:
        probs: ``[n, N, C]`` likelihoods.
        classes: ``[n]`` long class ids.
        point: the queried point, in ``0..N-1``.
        label: the observed label, in ``0..C-1``.

    Returns:
        ``[n, n]`` symmetric bool matrix, True for each cut edge {h, h'} (both directions).

    Raises:
        ValueError: shapes disagree, or ``point`` or ``label`` is out of range.

    Example:
        >>> probs = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[0.0, 1.0]]])
        >>> cut_edges(probs, torch.tensor([0, 1, 1]), 0, 1).int()
        tensor([[0, 1, 1],
                [1, 0, 0],
                [1, 0, 0]], dtype=torch.int32)
    """
    _check(probs, torch.ones(probs.shape[0], dtype=torch.float64, device=probs.device), classes)
    _, N, C = probs.shape
    if not 0 <= point < N:
        raise ValueError(f"point must be in [0, {N}), got {point}")
    if not 0 <= label < C:
        raise ValueError(f"label must be in [0, {C}), got {label}")
    inconsistent = probs[:, point, label] == 0
    edges = classes[:, None] != classes[None, :]
    return edges & (inconsistent[:, None] | inconsistent[None, :])


def ec2_objective(prior: Tensor, weights: Tensor, classes: Tensor) -> Tensor:
    r"""EC²'s objective :math:`f_{EC^2}(D)`: the prior weight of the edges cut so far (App. A.1).

    With noise-free observations ``weights`` is the prior times the indicator of consistency
    with D, an edge is uncut exactly when both its ends are consistent, and
    :math:`f_{EC^2}(D) = W(p) - W(w)` with :math:`W` the :func:`edge_weight`.

    Args:
        prior: ``[n]`` prior p(h).
        weights: ``[n]`` the prior restricted to the hypotheses consistent with D.
        classes: ``[n]`` long class ids.

    Returns:
        A float64 scalar tensor in :math:`[0, W(p)]`.

    Raises:
        ValueError: shapes disagree.

    Example:
        >>> prior = torch.full((3,), 1 / 3)
        >>> ec2_objective(prior, prior * torch.tensor([1.0, 1.0, 0.0]), torch.tensor([0, 1, 1]))  # 2/9 - 1/9
        tensor(0.1111, dtype=torch.float64)
    """
    if prior.shape != weights.shape:
        raise ValueError(f"prior and weights must have the same shape [n], got {tuple(prior.shape)} and {tuple(weights.shape)}")
    return edge_weight(prior, classes) - edge_weight(weights, classes)


def ec2_scores(probs: Tensor, weights: Tensor, classes: Tensor) -> Tensor:
    r"""EC²'s expected gain :math:`\Delta_{EC^2}(x \mid D)` of every candidate point (App. A.1).

    :math:`\Delta_{EC^2}(x \mid D) = \sum_y p(y \mid x, D)\,\big[W(w) - W(w \cdot \mathbb{1}[h(x) = y])\big]`:
    the expected weight of the edges that observing x cuts, where :math:`W` is :func:`edge_weight`
    and the consistent hypotheses keep their weight.

    Args:
        probs: ``[n, N, C]`` noise-free (0/1) likelihoods.
        weights: ``[n]`` prior restricted to the hypotheses consistent with D.
        classes: ``[n]`` long class ids.

    Returns:
        ``[N]`` float64 non-negative gains, in the units of ``weights`` squared.

    Raises:
        ValueError: shapes disagree, ``weights`` are negative or all zero, or ``probs`` is not 0/1
            (use :func:`eced_scores` for noisy likelihoods).

    Example:
        >>> probs = torch.nn.functional.one_hot(torch.tensor([[0, 0], [0, 1], [1, 1]]), 2).double()
        >>> # x0: y=0 (2/3) cuts 1/9, y=1 (1/3) cuts 2/9 -> 4/27; x1: either label cuts 2/9
        >>> ec2_scores(probs, torch.full((3,), 1 / 3), torch.tensor([0, 1, 1]))
        tensor([0.1481, 0.2222], dtype=torch.float64)
    """
    _check(probs, weights, classes)
    if not bool(((probs == 0) | (probs == 1)).all()):
        raise ValueError("probs must be noise-free (every p(y|h,x) 0 or 1) for EC2; use eced_scores for noisy likelihoods")
    w = weights.double()
    masses = w[:, None, None] * probs.double()  # [n, N, C] weight kept after observing (x, y)
    after = _edge_weight_of(masses, classes)  # [N, C]
    p_y = masses.sum(0) / w.sum()  # [N, C] p(y | x, D)
    return (p_y * (_edge_weight_of(w, classes) - after)).sum(-1)


def eced_edge_discount(probs: Tensor, weights: Tensor, classes: Tensor) -> Tensor:
    r"""ECED's edge discount :math:`\delta(x, y \mid D)` for every point and label (Eq. 1).

    :math:`\delta(x, y \mid D) = \sum_{\{h, h'\}: r(h) \ne r(h')} w(h) w(h') (1 - \lambda_{h,y} \lambda_{h',y})
    = W(w) - W(w \cdot \lambda_{\cdot, y})`, with :math:`\lambda` the :func:`likelihood_ratios`
    at x: the edge weight removed when every edge is multiplied by the likelihood ratios of its
    two ends. Noise-free, :math:`\lambda_{h,y} = \mathbb{1}[h(x) = y]` and this is the weight of
    the edges that EC² cuts.

    Args:
        probs: ``[n, N, C]`` likelihoods.
        weights: ``[n]`` unnormalised posterior.
        classes: ``[n]`` long class ids.

    Returns:
        ``[N, C]`` float64 non-negative discounts.

    Raises:
        ValueError: shapes disagree, or ``weights`` are negative or all zero.

    Example:
        >>> probs = torch.tensor([[[0.8, 0.2]], [[0.2, 0.8]]])
        >>> eced_edge_discount(probs, torch.tensor([0.5, 0.5]), torch.tensor([0, 1]))  # 0.25 * (1 - 0.25)
        tensor([[0.1875, 0.1875]], dtype=torch.float64)
    """
    _check(probs, weights, classes)
    w = weights.double()
    lam = likelihood_ratios(probs.double().log())
    return (_edge_weight_of(w, classes) - _edge_weight_of(w[:, None, None] * lam, classes)).clamp_min(0.0)


def _support_max_ratio(lam: Tensor, weights: Tensor) -> Tensor:
    r"""``[N, C]`` :math:`\max_h \lambda_{h,y}` over the hypotheses with positive weight (the posterior's support)."""
    alive = weights > 0
    return lam[alive].amax(0)


def eced_offset(probs: Tensor, weights: Tensor, classes: Tensor) -> Tensor:
    r"""ECED's offset :math:`\nu(x, y \mid D) = \sum_{\{h, h'\} \in E} w(h) w(h') (1 - \max_h \lambda_{h,y}^2)` (Eq. 1).

    The total edge weight :math:`W_E = \sum_{\{h, h'\} \in E} w(h) w(h')` times
    :math:`1 - \max_h \lambda_{h,y}^2`: the discount that label y would apply to every edge if
    every hypothesis were as surprised by it as the least surprised one. Subtracting it makes a
    non-informative test (every hypothesis with the same :math:`\lambda_{h,y}` for every y) score
    exactly 0 (Sec. 2.2 of the paper: "such that the value of a non-informative test is 0").
    The maximum runs over the hypotheses with positive weight, the support of the posterior: a
    hypothesis already ruled out is no longer a candidate (this only matters for labels that
    have predictive probability 0, so the scores do not depend on it).
    Noise-free, :math:`\max_h \lambda_{h,y} = 1` for every label some live hypothesis predicts,
    so :math:`\nu = 0` wherever :math:`p(y \mid x, D) > 0`.

    Args:
        probs: ``[n, N, C]`` likelihoods.
        weights: ``[n]`` unnormalised posterior.
        classes: ``[n]`` long class ids.

    Returns:
        ``[N, C]`` float64 non-negative offsets.

    Raises:
        ValueError: shapes disagree, or ``weights`` are negative or all zero.

    Example:
        >>> probs = torch.tensor([[[0.8, 0.2]], [[0.2, 0.8]]])  # each label: max lambda = 1
        >>> eced_offset(probs, torch.tensor([0.5, 0.5]), torch.tensor([0, 1]))
        tensor([[0., 0.]], dtype=torch.float64)
        >>> probs = torch.tensor([[[0.8, 0.2]], [[0.8, 0.2]]])  # label 1: max lambda = 0.25
        >>> eced_offset(probs, torch.tensor([0.5, 0.5]), torch.tensor([0, 1]))  # 0.25 * (1 - 0.25**2)
        tensor([[0.0000, 0.2344]], dtype=torch.float64)
    """
    _check(probs, weights, classes)
    w = weights.double()
    top = _support_max_ratio(likelihood_ratios(probs.double().log()), w)  # [N, C]
    return _edge_weight_of(w, classes) * (1.0 - top.square())


def eced_scores(probs: Tensor, weights: Tensor, classes: Tensor, *, offset: bool = True) -> Tensor:
    r"""ECED's acquisition :math:`\Delta_{ECED}(x \mid D) = \mathbb{E}_{y}[\delta(x, y \mid D) - \nu(x, y \mid D)]` (Eq. 1).

    The expectation is over the posterior predictive :math:`p(y \mid x, D)` (:func:`predictive`);
    :math:`\delta` is :func:`eced_edge_discount` and :math:`\nu` is :func:`eced_offset`. Edge by
    edge the bracket is :math:`w(h) w(h') (a_y^2 - \lambda_{h,y} \lambda_{h',y})` with
    :math:`a_y = \max_h \lambda_{h,y}`, which is never negative; we compute it in that form,
    writing :math:`\lambda_{h,y} = a_y + d_{h,y}` (:math:`d \le 0`), so that a non-informative
    test (all :math:`d = 0`) scores exactly 0, with no rounding.

    Noise-free (derived in ``book/eced.ipynb`` and tested): :math:`\lambda_{h,y} = \mathbb{1}[h(x) = y]`,
    :math:`\delta` is the weight EC² cuts and :math:`\nu(x, y) = 0` for every label of positive
    probability, so :math:`\Delta_{ECED} = \Delta_{EC^2}` (App. A.1).

    ``offset=False`` returns :math:`\mathbb{E}_y[\delta(x, y \mid D)]` alone: the quantity that
    BALanCe estimates after dropping the offset (Sec. 3.1 and App. A.2 of the paper). It is
    not ECED's objective: it scores noise-only discounting above 0.

    Args:
        probs: ``[n, N, C]`` likelihoods.
        weights: ``[n]`` unnormalised posterior.
        classes: ``[n]`` long class ids.
        offset: subtract the offset :math:`\nu` (ECED, Eq. 1); False keeps the discount only.

    Returns:
        ``[N]`` float64 non-negative scores.

    Raises:
        ValueError: shapes disagree, or ``weights`` are negative or all zero.

    Example:
        >>> probs = torch.tensor([[[0.8, 0.2], [0.8, 0.2]], [[0.2, 0.8], [0.8, 0.2]]])  # x0 informative, x1 not
        >>> eced_scores(probs, torch.tensor([0.5, 0.5]), torch.tensor([0, 1]))
        tensor([0.1875, 0.0000], dtype=torch.float64)
        >>> eced_scores(probs, torch.tensor([0.5, 0.5]), torch.tensor([0, 1]), offset=False)
        tensor([0.1875, 0.0469], dtype=torch.float64)
    """
    _check(probs, weights, classes)
    if not offset:
        return (predictive(probs, weights) * eced_edge_discount(probs, weights, classes)).sum(-1)
    w = weights.double()
    lam = likelihood_ratios(probs.double().log())  # [n, N, C]
    top = _support_max_ratio(lam, w)  # [N, C]
    d = lam - top  # [n, N, C], <= 0 on the support; exactly 0 where lambda is the maximum
    masses = w[:, None, None] * d  # [n, N, C]
    # sum over edges of w w' (a^2 - (a + d)(a + d')) = -a * sum_edges w w' (d + d') - sum_edges w w' d d'
    M = _class_sums(w, classes)  # [K] class masses
    outside = M.sum() - M[classes]  # [n] weight outside each hypothesis' class
    linear = torch.einsum("hnc,h->nc", masses, outside)  # sum over edges of w w' (d + d')
    gain = (-top * linear - _edge_weight_of(masses, classes)).clamp_min(0.0)
    return (predictive(probs, weights) * gain).sum(-1) + 0.0


def hypothesis_bald_scores(probs: Tensor, weights: Tensor) -> Tensor:
    r"""BALD: the mutual information :math:`I(y; h \mid x, D)` between the label and the hypothesis.

    :math:`I(y; h \mid x, D) = H[p(y \mid x, D)] - \sum_h p(h \mid D)\, H[p(y \mid h, x)]`, in nats.
    Noise-free it is the entropy of the predictive: greedy BALD is then generalized binary search.

    Args:
        probs: ``[n, N, C]`` likelihoods.
        weights: ``[n]`` unnormalised posterior.

    Returns:
        ``[N]`` float64 non-negative scores.

    Raises:
        ValueError: shapes disagree, or ``weights`` are negative or all zero.

    Example:
        >>> probs = torch.nn.functional.one_hot(torch.tensor([[0, 0], [0, 1]]), 2).double()
        >>> hypothesis_bald_scores(probs, torch.tensor([0.5, 0.5]))  # log 2 on the point that splits them
        tensor([0.0000, 0.6931], dtype=torch.float64)
    """
    _check(probs, weights)
    p_h = weights.double() / weights.double().sum()
    probs = probs.double()
    mi = _entropy(predictive(probs, weights)) - torch.einsum("h,hn->n", p_h, _entropy(probs))
    return mi.clamp_min(0.0) + 0.0  # + 0.0 turns -0.0 into 0.0


def class_bald_scores(probs: Tensor, weights: Tensor, classes: Tensor) -> Tensor:
    r"""The mutual information :math:`I(y; r(h) \mid x, D)` between the label and the equivalence class.

    :math:`I(y; r(h)) = H(y) + H(r(h)) - H(y, r(h))` with
    :math:`p(y, r(h) = i \mid x, D) = \sum_{h: r(h) = i} p(h \mid D)\, p(y \mid h, x)`, in nats
    (defined on the book's Notation page; a comparison of the book's, not in the paper).

    Args:
        probs: ``[n, N, C]`` likelihoods.
        weights: ``[n]`` unnormalised posterior.
        classes: ``[n]`` long class ids.

    Returns:
        ``[N]`` float64 non-negative scores.

    Raises:
        ValueError: shapes disagree, or ``weights`` are negative or all zero.

    Example:
        >>> probs = torch.nn.functional.one_hot(torch.tensor([[0, 0], [0, 1]]), 2).double()
        >>> class_bald_scores(probs, torch.tensor([0.5, 0.5]), torch.tensor([0, 0]))  # one class: nothing to learn
        tensor([0., 0.], dtype=torch.float64)
    """
    _check(probs, weights, classes)
    p_h = weights.double() / weights.double().sum()
    joint = _class_sums(p_h[:, None, None] * probs.double(), classes)  # [N, C, K] p(y, c | x, D)
    p_c = _class_sums(p_h, classes)  # [K]
    h_y = _entropy(joint.sum(-1))
    h_yc = _entropy(joint.flatten(1))
    return (h_y + _entropy(p_c) - h_yc).clamp_min(0.0) + 0.0
