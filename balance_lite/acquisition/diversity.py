r"""Diversity in an embedding space: BADGE's k-means++ seeding and Core-Set's greedy k-centre.

Chapters: *BALD and BatchBALD* (the batch-diversity problem these two newer baselines address) and
*Beyond the paper: newer batch methods, and how to compare them honestly* (the paper does not compare
with them).

Both methods embed the pool with the *deterministic* trained network (dropout off, as both papers
use it; see :meth:`balance_lite.models.MCDropoutNet.embed`): φ(x) ``[N, D]`` is the input of the
last linear layer, p(x) ``[N, C]`` the softmax of its output. Neither uses MC-dropout samples.

**BADGE** (Ash, Zhang, Krishnamurthy, Langford and Agarwal, ICLR 2020, "Deep Batch Active Learning
by Diverse, Uncertain Gradient Lower Bounds") embeds each point by the gradient of the
cross-entropy with respect to the last layer's weights, at the label the network itself predicts,
:math:`\hat y(x) = \arg\max_c p_c(x)`:

.. math::

    g_x = \big(p(x) - e_{\hat y(x)}\big) \otimes \phi(x) \in \mathbb{R}^{C \cdot D},
    \qquad (g_x)_{c,d} = \big(p_c(x) - [c = \hat y(x)]\big)\, \phi_d(x),

and chooses the batch by k-means++ seeding on the :math:`g_x`: each next centre is drawn with
probability proportional to :math:`d^2(x)`, the squared distance to the nearest centre so far
("D² sampling").
Points the network is unsure of have large :math:`\|g_x\|`, and D² sampling spreads the batch out.
We never form the ``[N, C*D]`` embeddings: with :math:`a_x = p(x) - e_{\hat y(x)}`,

.. math::

    \langle g_x, g_y \rangle = \langle a_x, a_y \rangle \langle \phi_x, \phi_y \rangle, \qquad
    \|g_x - g_y\|^2 = \|a_x\|^2\|\phi_x\|^2 + \|a_y\|^2\|\phi_y\|^2 - 2\langle a_x, a_y\rangle\langle \phi_x, \phi_y\rangle,

so each new centre costs ``O(N (C + D))`` time and ``O(N)`` memory.

**Core-Set** (Sener and Savarese, ICLR 2018, "Active Learning for Convolutional Neural Networks:
A Core-Set Approach"), in its greedy k-centre form (their Alg. 1): choose B points one at a time,
each maximising the minimum Euclidean distance in embedding space to the labeled set and the points
chosen so far,

.. math::

    x_{b} = \arg\max_{x \in \mathcal{D}_{\mathrm{pool}}} \; \min_{c \in \mathcal{D} \cup \{x_1..x_{b-1}\}} \|\phi(x) - \phi(c)\|_2,

which is a 2-approximation of the k-centre problem (the optimal covering radius is at least half
the greedy one). We do not run the paper's mixed-integer refinement.

Example:
    >>> g = torch.Generator().manual_seed(0)
    >>> features = torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [0.1, 0.0]])
    >>> coreset(features, features[:1], 2, generator=g).indices  # farthest from [0, 0], then from both
    [2, 1]
    >>> log_probs = torch.tensor([[0.5, 0.5], [0.9, 0.1], [0.6, 0.4], [0.99, 0.01]]).log()
    >>> badge(features, log_probs, 1).indices  # the largest gradient embedding comes first
    [2]
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._checks import check_batch_size, check_generator, check_log_probs
from ._chunks import chunks
from .selection import Selection, pick_best, rand_device, random_selection, tie_rtol

__all__ = [
    "ZERO_GRADIENTS",
    "badge",
    "coreset",
    "gradient_embeddings",
    "gradient_sq_distances",
]

#: Why BADGE fell back to a random batch: every gradient embedding is 0.
ZERO_GRADIENTS = ("every gradient embedding is 0 (p(x) is one-hot or φ(x) = 0 for every point): "
                  "nothing tells the points apart")


def check_features(features: Tensor, name: str = "features", *, allow_empty: bool = False) -> tuple[int, int]:
    """Check a ``[N, D]`` floating-point, finite embedding and return ``(N, D)``.

    Raises:
        TypeError: not a floating-point tensor.
        ValueError: wrong rank, an empty axis (N = 0 allowed with ``allow_empty``), NaN or inf.
    """
    if not isinstance(features, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [N, D], got {type(features).__name__}")
    if not features.is_floating_point():
        raise TypeError(f"{name} must hold floating-point embeddings, got dtype {features.dtype}")
    if features.dim() != 2:
        raise ValueError(f"{name} must have shape [N, D], got {tuple(features.shape)}")
    N, D = features.shape
    if (N == 0 and not allow_empty) or D == 0:
        raise ValueError(f"{name} must have shape [N, D] with {'' if allow_empty else 'N >= 1 and '}D >= 1, "
                         f"got {tuple(features.shape)}")
    if N and not bool(torch.isfinite(features).all()):
        what = "NaN" if bool(torch.isnan(features).any()) else "inf"
        raise ValueError(f"{name} must be finite, got {what}")
    return N, D


def _check_badge_inputs(features: Tensor, log_probs: Tensor) -> tuple[int, int, int]:
    N, D = check_features(features)
    if not isinstance(log_probs, Tensor) or log_probs.dim() != 2 or log_probs.shape[0] != N:
        got = tuple(log_probs.shape) if isinstance(log_probs, Tensor) else type(log_probs).__name__
        raise ValueError(f"log_probs must have shape [N, C] with N = {N} (the rows of features), got {got}")
    if log_probs.device != features.device:
        raise ValueError(f"log_probs must be on the device of features ({features.device}), got {log_probs.device}")
    _, _, C = check_log_probs(log_probs[:, None, :], "log_probs")
    return N, D, C


def _factors(features: Tensor, log_probs: Tensor) -> tuple[Tensor, Tensor]:
    """``a = p - onehot(argmax p)`` ``[N, C]`` and ``h`` ``[N, D]``, both float64."""
    p = log_probs.double().exp()
    a = p.scatter_add(1, p.argmax(1, keepdim=True), -torch.ones(p.shape[0], 1, dtype=p.dtype, device=p.device))
    return a, features.double()


def gradient_embeddings(features: Tensor, log_probs: Tensor) -> Tensor:
    r"""BADGE's gradient embeddings written out: ``[N, C * D]``, row x = ``(p(x) - e_ŷ(x)) ⊗ φ(x)``.

    The gradient of the cross-entropy :math:`-\log p_{\hat y}(x)` with respect to the last layer's
    weight matrix ``W`` ``[C, D]`` (flattened row-major: entry ``c * D + d``), at the predicted label
    :math:`\hat y(x) = \arg\max_c p_c(x)` (the first maximum on a tie). The bias is left out, as
    in the BADGE paper (the gradient "with respect to the parameters of the final layer" is taken
    as the weights, an ``embDim * nLab`` vector in the authors' code); including it would append
    :math:`a_x` itself, i.e. amount to appending a constant 1 to φ(x). :func:`badge` never forms
    this tensor; it is the reference for the factorised distances, and ``O(N C D)`` in memory.

    Args:
        features: ``[N, D]`` penultimate embeddings φ(x).
        log_probs: ``[N, C]`` dropout-off log-probabilities.

    Returns:
        ``[N, C * D]`` float64.

    Example:
        >>> gradient_embeddings(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.75, 0.25]]).log())
        tensor([[-0.2500, -0.5000,  0.2500,  0.5000]], dtype=torch.float64)
    """
    _check_badge_inputs(features, log_probs)
    a, h = _factors(features, log_probs)
    return (a[:, :, None] * h[:, None, :]).reshape(a.shape[0], -1)


def _sq_norms(a: Tensor, h: Tensor) -> Tensor:
    return (a * a).sum(1) * (h * h).sum(1)


def _sq_distances_to(a: Tensor, h: Tensor, sq_norms: Tensor, centre: int) -> Tensor:
    """``||g_x - g_centre||^2`` for every x ``[N]``, from the factors (clamped at 0 against rounding)."""
    cross = (a @ a[centre]) * (h @ h[centre])
    return (sq_norms + sq_norms[centre] - 2.0 * cross).clamp_min_(0.0)


def gradient_sq_distances(features: Tensor, log_probs: Tensor, centre: int) -> Tensor:
    r"""Squared distances ``||g_x - g_c||^2`` ``[N]`` of every gradient embedding to that of point ``centre``.

    Computed from the factorised form (module docstring) in ``O(N (C + D))``, without the
    ``[N, C * D]`` embeddings: what :func:`badge` does for every new centre.

    Args:
        features: ``[N, D]`` penultimate embeddings.
        log_probs: ``[N, C]`` dropout-off log-probabilities.
        centre: a row of ``features``.

    Returns:
        ``[N]`` float64.

    Example:
        >>> h, lp = torch.eye(2), torch.tensor([[0.75, 0.25], [0.5, 0.5]]).log()
        >>> gradient_sq_distances(h, lp, 0)  # (2 * 0.25**2) + (2 * 0.5**2) - 0, orthogonal h
        tensor([0.0000, 0.6250], dtype=torch.float64)
    """
    N, _, _ = _check_badge_inputs(features, log_probs)
    if isinstance(centre, bool) or not isinstance(centre, int) or not 0 <= centre < N:
        raise ValueError(f"centre must be a row of features, an int in [0, {N}), got {centre!r}")
    a, h = _factors(features, log_probs)
    d2 = _sq_distances_to(a, h, _sq_norms(a, h), centre)
    d2[centre] = 0.0
    return d2


def badge(features: Tensor, log_probs: Tensor, batch_size: int, *,
          generator: torch.Generator | None = None) -> Selection:
    r"""BADGE (Ash et al., ICLR 2020): k-means++ seeding on the gradient embeddings.

    The first centre is the point of largest gradient norm :math:`\|g_x\|`, as in the authors'
    code (``init_centers``: the argmax of the norms; ties drawn at random), rather than a uniform
    draw as in plain k-means++: it is the most uncertain point, weighted by its embedding's norm, and
    it makes the first pick independent of chance. Each next centre is drawn with probability
    :math:`d^2(x) / \sum_{x'} d^2(x')`, :math:`d^2(x)` the squared distance of :math:`g_x` to the
    nearest centre so far (0 for the centres themselves, so the B points are distinct). If every
    remaining point is at distance 0 (duplicates of centres), the next one is drawn uniformly
    among them (``num_tied`` says how many). Distances come from the factorised form in float64.
    The embedding is the weight gradient only, without the bias, as in the paper and the authors'
    code (see :func:`gradient_embeddings`).

    Args:
        features: ``[N, D]`` penultimate embeddings φ(x) of the dropout-off network.
        log_probs: ``[N, C]`` its log-probabilities (``log_softmax`` of the logits).
        batch_size: B, between 1 and N.
        generator: draws the D² samples and breaks ties; ``None`` uses torch's global generator.

    Returns:
        :class:`Selection`: ``scores[0]`` is :math:`\|g\|^2` of the first pick, ``scores[i]`` the
        :math:`d^2` of pick i when it was drawn; ``num_tied`` is the number of points tied for the
        largest norm at the first pick, 1 for a D² draw. If every :math:`g_x` is 0 the batch is
        uniformly random and flagged (``ZERO_GRADIENTS``).

    Raises:
        TypeError: a tensor of the wrong type, a non-integer ``batch_size``, a bad ``generator``.
        ValueError: bad shapes, NaN or inf in ``features``, ``log_probs`` that do not normalise,
            ``batch_size`` out of range.

    Example:
        >>> h = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
        >>> lp = torch.tensor([[0.6, 0.4], [0.6, 0.4], [0.55, 0.45]]).log()
        >>> sel = badge(h, lp, 3, generator=torch.Generator().manual_seed(0))
        >>> sorted(sel.indices), sel.indices[0]  # the largest ||g||: ||a||^2 ||h||^2 = 0.405 * 1.01
        ([0, 1, 2], 2)
    """
    N, _, _ = _check_badge_inputs(features, log_probs)
    B = check_batch_size(batch_size, N)
    check_generator(generator)
    a, h = _factors(features, log_probs)
    sq_norms = _sq_norms(a, h)  # [N]
    available = torch.ones(N, dtype=torch.bool, device=features.device)
    first, n_tied = pick_best(sq_norms, available, largest=True, rtol=tie_rtol(torch.float64), generator=generator)
    if float(sq_norms[first]) == 0.0:
        return random_selection(N, B, generator, reason=ZERO_GRADIENTS)
    indices, scores, num_tied = [first], [float(sq_norms[first])], [n_tied]
    min_d2 = torch.full((N,), math.inf, dtype=torch.float64, device=features.device)
    centre = first
    for _ in range(1, B):
        torch.minimum(min_d2, _sq_distances_to(a, h, sq_norms, centre), out=min_d2)
        available[centre] = False
        weights = min_d2.masked_fill(~available, 0.0)
        if float(weights.sum()) > 0.0:
            draw = torch.multinomial(weights.to(rand_device(generator)), 1, generator=generator)
            centre, tied = int(draw), 1
        else:  # every remaining point coincides with a centre
            remaining = torch.nonzero(available).flatten()
            r = int(torch.randint(remaining.numel(), (1,), generator=generator, device=rand_device(generator)))
            centre, tied = int(remaining[r]), int(remaining.numel())
        indices.append(centre)
        scores.append(float(min_d2[centre]))
        num_tied.append(tied)
    return Selection(indices=indices, scores=scores, num_tied=num_tied)


def _min_distances(features: Tensor, centres: Tensor) -> Tensor:
    """``min_c ||x - c||`` ``[N]`` (float64) over the rows of ``centres`` ``[L, D]``, chunked over N."""
    N, L = features.shape[0], centres.shape[0]
    out = torch.empty(N, dtype=torch.float64, device=features.device)
    sq_c = (centres * centres).sum(1)
    for s, e in chunks(N, L):
        x = features[s:e]
        d2 = (x @ centres.T).mul_(-2.0).add_(sq_c[None, :]).add_((x * x).sum(1, keepdim=True))  # [n, L]
        out[s:e] = d2.amin(1).clamp_min_(0.0).sqrt_()
    return out


def coreset(features: Tensor, labeled_features: Tensor, batch_size: int, *,
            generator: torch.Generator | None = None) -> Selection:
    r"""Core-Set (Sener and Savarese, ICLR 2018), greedy k-centre: each pick maximises the distance to
    its nearest centre among the labeled points and the earlier picks.

    Distances are Euclidean in embedding space, in float64. Ties (within 32 ulps) are drawn at
    random with ``generator``. With an empty labeled set the first point is drawn uniformly at
    random (every point is infinitely far from an empty set); each later pick is the greedy one.

    Args:
        features: ``[N, D]`` embeddings of the pool candidates.
        labeled_features: ``[L, D]`` embeddings of the labeled points (L = 0 allowed).
        batch_size: B, between 1 and N.
        generator: breaks ties and draws the first point when L = 0.

    Returns:
        :class:`Selection`: ``scores[i]`` is the distance of pick i to its nearest centre (the
        labeled points and picks 0..i-1), i.e. the covering radius of those centres over the pool,
        which this pick attains (``inf`` for a first pick with L = 0); ``num_tied`` counts the points
        tied for that distance (N for the random first pick).

    Raises:
        TypeError: a tensor of the wrong type, a non-integer ``batch_size``, a bad ``generator``.
        ValueError: bad shapes (``labeled_features`` must be ``[L, D]`` with the same D), NaN or inf,
            ``batch_size`` out of range.

    Example:
        >>> x = torch.tensor([[0.0], [1.0], [2.0], [10.0]])
        >>> sel = coreset(x, torch.tensor([[0.0]]), 2)
        >>> sel.indices, sel.scores
        ([3, 2], [10.0, 2.0])
    """
    N, D = check_features(features)
    L, D_l = check_features(labeled_features, "labeled_features", allow_empty=True)
    if D_l != D:
        raise ValueError(f"labeled_features must have shape [L, D] with D = {D} (as features), "
                         f"got {tuple(labeled_features.shape)}")
    if labeled_features.device != features.device:
        raise ValueError(f"labeled_features must be on the device of features ({features.device}), "
                         f"got {labeled_features.device}")
    B = check_batch_size(batch_size, N)
    check_generator(generator)
    x = features.double()
    available = torch.ones(N, dtype=torch.bool, device=features.device)
    rtol = tie_rtol(torch.float64)
    indices: list[int] = []
    scores: list[float] = []
    num_tied: list[int] = []
    if L == 0:
        first = int(torch.randint(N, (1,), generator=generator, device=rand_device(generator)))
        indices, scores, num_tied = [first], [math.inf], [N]
        min_d = (x - x[first]).norm(dim=1)
        available[first] = False
    else:
        min_d = _min_distances(x, labeled_features.double())
    while len(indices) < B:
        pick, tied = pick_best(min_d, available, largest=True, rtol=rtol, generator=generator)
        indices.append(pick)
        scores.append(float(min_d[pick]))
        num_tied.append(tied)
        available[pick] = False
        torch.minimum(min_d, (x - x[pick]).norm(dim=1), out=min_d)
    return Selection(indices=indices, scores=scores, num_tied=num_tied)
