r"""Batch-BALanCe: greedy selection of a batch by the BALanCe value of the batch (Alg. 2, Eq. 4-5).

Chapters: *Batch-BALanCe (Eq. 4, Alg. 2)*, *Importance sampling (Eq. 5, App. A.3–A.4)* and
*Exact Batch-BALanCe at any batch size (beyond the paper)*.

The value of a batch :math:`x_{1:b}` (Eq. 4 of the paper) is the expected weight of the cut
edges once all b labels are observed:

.. math::

    \Delta(x_{1:b}) = \sum_{y_{1:b}} p(y_{1:b})\, \frac{1}{K}\sum_{j=1}^{K} \text{edge}_j
        \Big(1 - \prod_{i=1}^{b} \lambda_{\omega_j,y_i}\, \lambda_{\omega'_j,y_i}\Big),
    \qquad
    p(y_{1:b}) = \frac{1}{2K}\sum_{k=1}^{K}\Big(\prod_i p(y_i|x_i,\omega_k) + \prod_i p(y_i|x_i,\omega'_k)\Big).

The likelihood ratio of a label vector factorises over the batch,
:math:`\lambda_{\omega,y_{1:b}} = \prod_i p(y_i|x_i,\omega) / \max_{y'_{1:b}} \prod_i p(y'_i|x_i,\omega) = \prod_i \lambda_{\omega,y_i}`,
and the joint label distribution is the uniform mixture of the 2K hypotheses. Greedy
selection (Alg. 2) adds, b times, the pool point that maximises the value of the batch.
:func:`batch_balance` offers three computation routes (``route``; not to be confused with an
acquisition *method*, the name of a strategy such as ``"batch-balance"``) to the same greedy batch:

- ``route="enumerate"``: sums Eq. 4 over all :math:`C^b` label configurations (the paper's
  route for small b). The reference; refuses sizes that would not fit in memory.
- ``route="importance"``: Eq. 5, M Monte-Carlo configurations :math:`y^m_{1:b-1}` of the
  chosen points, each weighted exactly for the candidate's own label (App. A.3-A.4).
- ``route="factorized"`` (default): exact Eq. 4 at any b at the cost of one matrix
  product per step (derivation in :func:`batch_balance`).

Every route ranks candidates by the *uncut weight* :math:`W` with
:math:`\Delta = \text{mean(edges)} - W / (2K^2)` (smaller W is better), which keeps its
relative precision late in a batch where all values of Delta crowd just below mean(edges).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from ._checks import (
    check_batch_size,
    check_choice,
    check_edges,
    check_generator,
    check_indices,
    check_pair,
    check_positive_int,
    compute_dtype,
    normalisation_atol,
)
from ._chunks import chunks
from ._sampling import draw_labels, draw_marginal_labels, mixture_hypotheses
from .balance import likelihood_ratios
from .selection import Selection, no_edge_fallback, pick_best, tie_rtol

__all__ = ["MAX_ENUMERATE_ELEMENTS", "ROUTES", "batch_balance", "batch_balance_value"]

#: ``route="enumerate"`` refuses a batch when ``K * C**batch_size`` exceeds this many
#: elements (its state holds ``3K * C**(b-1)`` float64 numbers, about 1.5 GiB at the limit).
MAX_ENUMERATE_ELEMENTS = 2**26

#: The computation routes of :func:`batch_balance`.
ROUTES = ("factorized", "enumerate", "importance")
PROPOSALS = ("joint", "marginal")


class _Prepared:
    """The per-call tensors every route shares.

    ``probs_NC_H``: ``[N*C, 2K]`` p(c|x_n, ω_h), rows (n, c), hypotheses ω_1..ω_K, ω'_1..ω'_K.
    ``keep_NC_J``: ``[N*C, J]`` lambda_j(c|x_n) lambda'_j(c|x_n) for the J cut pairs only
    (uncut pairs contribute nothing to Eq. 4). Both in the compute dtype, filled chunk by
    chunk; ``first`` is the ``[N]`` uncut weight of every single point,
    sum_c (sum_h p_h(c)) (sum_j keep_j(c)). :meth:`point64` gives float64 rows of one point
    for the exact bookkeeping of the chosen points.
    """

    def __init__(self, log_probs_a: Tensor, log_probs_b: Tensor, edges: Tensor):
        N, K, C = log_probs_a.shape
        self.N, self.K, self.C = N, K, C
        self.dtype = compute_dtype(log_probs_a)
        self.device = log_probs_a.device
        self.lp_a, self.lp_b = log_probs_a, log_probs_b
        self.cut = torch.nonzero(edges).flatten()  # [J]
        self.J = int(self.cut.numel())
        self.mean_edges = self.J / K
        self.H = H = 2 * K
        self.probs_NC_H = torch.empty(N * C, H, dtype=self.dtype, device=self.device)
        self.keep_NC_J = torch.empty(N * C, self.J, dtype=self.dtype, device=self.device)
        self.first = torch.empty(N, dtype=self.dtype, device=self.device)
        # the largest |sum_c p_h(c|x) - 1|, found on the way (NaN if any input is NaN)
        worst = torch.zeros((), dtype=self.dtype, device=self.device)
        for s, e in chunks(N, C * H):
            n = e - s
            probs = self.probs_NC_H[s * C : e * C].view(n, C, H)
            probs[:, :, :K].copy_(log_probs_a[s:e].transpose(1, 2))
            probs[:, :, K:].copy_(log_probs_b[s:e].transpose(1, 2))
            probs.exp_()
            worst = torch.maximum(worst, (probs.sum(1) - 1.0).abs().amax())
            # log(lambda_j lambda'_j) = (log p_j - max log p_j) + (log p'_j - max log p'_j)
            pa = log_probs_a[s:e].index_select(1, self.cut).to(self.dtype)  # [n, J, C]
            pb = log_probs_b[s:e].index_select(1, self.cut).to(self.dtype)
            pa.sub_(pa.amax(-1, keepdim=True)).add_(pb.sub_(pb.amax(-1, keepdim=True)))
            keep = self.keep_NC_J[s * C : e * C].view(n, C, self.J)
            keep.copy_(pa.transpose(1, 2)).exp_()
            self.first[s:e] = torch.linalg.vecdot(probs.sum(2), keep.sum(2))
        #: True when every row normalises to within normalisation_atol (checked in the compute dtype)
        self.normalised = bool(worst <= normalisation_atol(log_probs_a.dtype, C))

    def rows(self, start: int, end: int) -> tuple[Tensor, Tensor]:
        """``[n*C, 2K]`` and ``[n*C, J]`` rows of pool points ``start..end-1``."""
        C = self.C
        return self.probs_NC_H[start * C : end * C], self.keep_NC_J[start * C : end * C]

    def point64(self, x: int) -> tuple[Tensor, Tensor, Tensor]:
        """Float64 ``[C, 2K]`` probabilities, ``[C, 2K]`` log-probabilities, ``[C, J]`` keep of point x."""
        lp = torch.cat([self.lp_a[x], self.lp_b[x]], 0).double()  # [2K, C]
        keep = likelihood_ratios(self.lp_a[x, self.cut].double()) * likelihood_ratios(self.lp_b[x, self.cut].double())
        return lp.exp().T, lp.T, keep.T

    def pair_sums(self, right_H: Tensor, right_J: Tensor) -> Tensor:
        r"""``[N]``: for every candidate n, sum over c and columns y of (P_n right_H) * (keep_n right_J).

        ``right_H`` is ``[2K, Y]``, ``right_J`` is ``[J, Y]`` (both in the compute dtype); pass
        ``right_J=None`` to use ``keep_n`` itself (then ``right_H`` is ``[2K, J]``).
        """
        Y = right_H.shape[1]
        out = torch.empty(self.N, dtype=self.dtype, device=self.device)
        for s, e in chunks(self.N, self.C * max(Y, self.H)):
            probs, keep = self.rows(s, e)
            left = probs @ right_H  # [n*C, Y]
            right = keep if right_J is None else keep @ right_J  # [n*C, Y]
            out[s:e] = torch.linalg.vecdot(left.view(e - s, -1), right.reshape(e - s, -1))
        return out


def batch_balance(
    log_probs_a: Tensor,
    log_probs_b: Tensor,
    edges: Tensor,
    batch_size: int,
    *,
    route: str = "factorized",
    num_configurations: int = 10_000,
    proposal: str = "joint",
    generator: torch.Generator | None = None,
) -> Selection:
    r"""Select a batch by greedily maximising the Batch-BALanCe value (Alg. 2, Eq. 4 of the paper).

    **Factorized route (exact Eq. 4 at any batch size).** Eq. 4 is linear in
    :math:`p(y_{1:b})`, a mixture of 2K product distributions, and the edge term is a product
    over the batch too. Expanding both, with :math:`\sum_{y} p(y|x, \omega) = 1`:

    .. math::

        \Delta(x_{1:b}) = \text{mean(edges)} - \frac{1}{2K^2}\sum_{k=1}^{K}\sum_{j=1}^{K}
            \text{edge}_j \Big(\prod_{i=1}^{b} G_i[k,j] + \prod_{i=1}^{b} G'_i[k,j]\Big),

    .. math::

        G_i[k,j] = \sum_c p(c|x_i,\omega_k)\,\lambda_{\omega_j,c}\,\lambda_{\omega'_j,c},\qquad
        G'_i[k,j] = \sum_c p(c|x_i,\omega'_k)\,\lambda_{\omega_j,c}\,\lambda_{\omega'_j,c},

    because :math:`\sum_{y_{1:b}} \prod_i p(y_i|x_i,\omega_k)\,\lambda_j(y_i)\lambda'_j(y_i)`
    factorises into :math:`\prod_i G_i[k,j]`. The expansion uses that every hypothesis'
    probabilities sum to 1: the exact routes agree to about 1e-10 on float64 inputs, and to
    about 1e-8 on float32 inputs, whose rows sum to 1 only to float32 precision.
    Greedy selection keeps the running products
    :math:`R = \prod_{i \in \text{batch}} [G_i; G'_i]` (a ``[2K, K]`` matrix) and scores a
    candidate x by its uncut weight
    :math:`W(x) = \sum_{k,j} \text{edge}_j\, R[k,j]\, G_x[k,j] = \sum_{c,k} p(c|x,\omega_k) \sum_j R[k,j]\,\text{edge}_j\,\lambda_j(c|x)\lambda'_j(c|x)`,
    one ``[N C, 2K] x [2K, K]`` matrix product for the whole pool (only the cut pairs j
    enter): ``O(N K^2 C)`` per pick instead of ``O(N min(C^b, M) K C)``. The running products
    are kept in float64; the matrix product runs in the inputs' precision (float32 unless
    they are float64), which the ranking by W tolerates (see the module docstring).

    **Enumerate route.** Keeps, for every configuration :math:`y_{1:b-1}` of the chosen points,
    the 2K hypothesis likelihoods and the K products of lambdas, and sums Eq. 4 over the
    :math:`C^{b-1} \times C` configurations of each candidate. The reference; it refuses
    ``K * C**batch_size > MAX_ENUMERATE_ELEMENTS``.

    **Importance route (Eq. 5).** Draws M configurations :math:`y^m_{1:b-1}` of the chosen
    points and weights the candidate's label exactly:
    :math:`\Delta(x_{1:b}) \approx \frac{1}{M}\sum_m \sum_{y_b} \frac{p(y^m_{1:b-1}, y_b)}{p(y^m_{1:b-1})}
    \frac{1}{K}\sum_j \text{edge}_j (1 - \prod_i \lambda_j \lambda'_j)`.
    With ``proposal="joint"`` (default) the configurations are drawn from the joint mixture
    :math:`p(y_{1:b-1})`: each configuration is assigned one of the 2K hypotheses (evenly,
    the remainder of M at random) and its labels are drawn from that hypothesis, so the
    estimate is unbiased. With ``proposal="marginal"`` each chosen point's label is drawn
    independently from its own predictive marginal :math:`p(y_i|x_i)`, as in the authors'
    released code; the weights above then no longer match the proposal and the estimate is
    *biased* (kept to show the bias). The configurations are drawn once per chosen point and
    extended as the batch grows. The first pick is exact in every route.

    Args:
        log_probs_a: ``[N, K, C]`` log-probabilities, first hypothesis of each pair.
        log_probs_b: ``[N, K, C]`` log-probabilities, second hypothesis of each pair.
        edges: ``[K]`` bool, True where pair k is cut (see :func:`hamming_edges`).
        batch_size: B, between 1 and N.
        route: ``"factorized"``, ``"enumerate"`` or ``"importance"``.
        num_configurations: M, label configurations for ``route="importance"``.
        proposal: ``"joint"`` or ``"marginal"``, for ``route="importance"`` only.
        generator: draws the tie-breaks, the importance samples and the random fallback
            batch; any device (draws happen on its device); ``None`` uses torch's global one.

    Returns:
        :class:`Selection`: pool indices in pick order and the value of the batch after each
        pick (Eq. 3 after the first, Eq. 4 after later ones; estimated by Eq. 5 for
        ``route="importance"``), computed in float64. Candidates whose uncut weights agree to
        within 32 units in the last place are tied and drawn at random (counted in ``num_tied``). With no edge at all
        every value is 0: the batch is uniformly random, ``random_fallback`` is True and
        ``fallback_reason`` says why (see :func:`no_edge_fallback`). ``num_edges`` is the
        number of cut pairs; ``tau`` is left ``None`` (the caller chose the edges).

    Raises:
        TypeError: ``edges`` is not bool, ``batch_size`` or ``num_configurations`` is not an int, or
            ``generator`` is not a ``torch.Generator``.
        ValueError: malformed log-probabilities (see :func:`balance_scores`), ``batch_size``
            not in ``1..N``, ``num_configurations < 1``, an unknown ``route`` or ``proposal``,
            ``proposal="marginal"`` without ``route="importance"``, or an enumeration too
            large for memory.

    Example:
        >>> lp_a = torch.randn(6, 4, 3).log_softmax(-1)
        >>> lp_b = torch.randn(6, 4, 3).log_softmax(-1)
        >>> edges = torch.tensor([True, True, False, True])
        >>> sel = batch_balance(lp_a, lp_b, edges, 3)
        >>> len(sel.indices), sel.scores[0] <= sel.scores[1] <= sel.scores[2] <= 0.75
        (3, True)
    """
    # the values are checked while _Prepared exponentiates them: one pass over the pool, not two
    N, K, C = check_pair(log_probs_a, log_probs_b, values=False)
    edges = check_edges(edges, K, log_probs_a.device)
    B = check_batch_size(batch_size, N)
    state_class = _check_route(route, proposal, num_configurations, generator, K, C, B)
    fallback = no_edge_fallback(edges, N, B, generator)
    if fallback is not None:
        check_pair(log_probs_a, log_probs_b)
        return dataclasses.replace(fallback, num_edges=0)

    prep = _Prepared(log_probs_a, log_probs_b, edges)
    if not prep.normalised:
        check_pair(log_probs_a, log_probs_b)  # raises, naming the tensor and the row
    state = state_class(prep, M=int(num_configurations), proposal=proposal, generator=generator)
    available = torch.ones(N, dtype=torch.bool, device=prep.device)
    rtol = tie_rtol(prep.dtype)
    indices, scores, num_tied = [], [], []
    for step in range(B):
        uncut = prep.first if step == 0 else state.uncut()
        x, n_tied = pick_best(uncut, available, largest=False, rtol=rtol, generator=generator)
        available[x] = False
        scores.append(state.add(x))
        indices.append(x)
        num_tied.append(n_tied)
    return Selection(indices=indices, scores=scores, num_tied=num_tied, num_edges=prep.J)


def batch_balance_value(
    log_probs_a: Tensor,
    log_probs_b: Tensor,
    edges: Tensor,
    indices: list[int],
    *,
    route: str = "factorized",
    num_configurations: int = 10_000,
    proposal: str = "joint",
    generator: torch.Generator | None = None,
) -> float:
    r"""Batch-BALanCe value :math:`\Delta(x_{1:b})` (Eq. 4 of the paper) of a given batch.

    With the exact routes (``"factorized"``, the default, or ``"enumerate"``) this is Eq. 4
    in float64. With ``route="importance"`` it is the Eq. 5 estimate that
    :func:`batch_balance` would report after picking ``indices`` in this order: M
    configurations of ``indices[:-1]`` drawn from ``proposal``, the last point's label summed
    exactly. Use it to study the Monte-Carlo error and the bias of ``proposal="marginal"``.

    Args:
        log_probs_a: ``[N, K, C]`` log-probabilities, first hypothesis of each pair.
        log_probs_b: ``[N, K, C]`` log-probabilities, second hypothesis of each pair.
        edges: ``[K]`` bool, True where pair k is cut.
        indices: pool positions of the batch (distinct; may be empty, giving 0).
        route: ``"factorized"``, ``"enumerate"`` or ``"importance"``.
        num_configurations: M, for ``route="importance"``.
        proposal: ``"joint"`` or ``"marginal"``, for ``route="importance"`` only.
        generator: draws the configurations; ``None`` uses torch's global generator.

    Returns:
        The value in ``[0, mean(edges)]`` (an estimate for ``route="importance"``).

    Raises:
        ValueError: malformed inputs (see :func:`batch_balance`), or ``indices`` out of range
            or repeated.

    Example:
        >>> lp_a = torch.tensor([[[1.0, 0.0]]]).log()
        >>> lp_b = torch.tensor([[[0.0, 1.0]]]).log()
        >>> batch_balance_value(lp_a, lp_b, torch.tensor([True]), [0])
        1.0
    """
    N, K, C = check_pair(log_probs_a, log_probs_b)
    edges = check_edges(edges, K, log_probs_a.device)
    idx = check_indices(indices, N)
    state_class = _check_route(route, proposal, num_configurations, generator, K, C, len(idx))
    if not idx or not bool(edges.any()):
        return 0.0
    prep = _Prepared(log_probs_a[idx], log_probs_b[idx], edges)
    state = state_class(prep, M=int(num_configurations), proposal=proposal, generator=generator)
    value = 0.0
    for x in range(len(idx)):
        value = state.add(x)
    return value


def _check_route(route, proposal, num_configurations, generator, K, C, B):
    """Validate the route options shared by :func:`batch_balance` and :func:`batch_balance_value`."""
    check_choice(route, "route", ROUTES)
    check_choice(proposal, "proposal", PROPOSALS)
    if proposal != "joint" and route != "importance":
        raise ValueError(f"proposal={proposal!r} applies only to route='importance', got route={route!r}")
    check_positive_int(num_configurations, "num_configurations")
    check_generator(generator)
    if route == "enumerate" and K * C**B > MAX_ENUMERATE_ELEMENTS:
        raise ValueError(
            f"route='enumerate' needs C**batch_size = {C}**{B} label configurations for K = {K} pairs, "
            f"more than fit in memory (K * C**batch_size must be <= {MAX_ENUMERATE_ELEMENTS}); "
            "use route='factorized', which is exact at any batch size"
        )
    return {"factorized": _Factorized, "enumerate": _Enumerate, "importance": _Importance}[route]


# ---------------------------------------------------------------------------- the routes
def _rescale(t: Tensor) -> Tensor:
    """``t / max(t)`` (``t`` when all zero), so a float32 copy neither underflows nor overflows."""
    top = t.max()
    return t / top if bool(top > 0) else t


# Each route keeps the state of the chosen points, returns the [N] uncut weights of every
# candidate (on any positive scale: only their order matters) and, on add(x), the value of
# the batch with x added, computed in float64.


class _Factorized:
    def __init__(self, prep: _Prepared, **_):
        self.prep = prep
        # prod_i [G_i; G'_i] = scale * R, with max(R) = 1: a long batch of confident, disagreeing
        # hypotheses drives the product below float64's range, and an underflowed R (all zeros)
        # would tie every candidate; only the reported value needs the scale, and it may underflow
        self.R = torch.ones(prep.H, prep.J, dtype=torch.float64, device=prep.device)
        self.scale = 1.0

    def uncut(self) -> Tensor:
        # W(x) = sum_{c,j} keep_j(c|x) sum_h p_h(c|x) R[h,j]: one [N C, 2K] x [2K, J] product.
        # R is rescaled so that float32 never underflows; a positive factor keeps the order.
        return self.prep.pair_sums(_rescale(self.R).to(self.prep.dtype), None)

    def add(self, x: int) -> float:
        probs_C_H, _, keep_C_J = self.prep.point64(x)
        self.R *= probs_C_H.T @ keep_C_J  # G_x: [2K, J]
        top = float(self.R.max())
        if top > 0:
            self.R /= top
            self.scale *= top
        return self.prep.mean_edges - self.scale * float(self.R.sum()) / (2 * self.prep.K**2)


class _Enumerate:
    def __init__(self, prep: _Prepared, **_):
        self.prep = prep
        # one column per label configuration of the chosen points (one empty configuration at first)
        self.lik_H_Y = torch.ones(prep.H, 1, dtype=torch.float64, device=prep.device)  # prod_i p(y_i|x_i,w_h)
        self.keep_J_Y = torch.ones(prep.J, 1, dtype=torch.float64, device=prep.device)  # prod_i lambda lambda'

    def uncut(self) -> Tensor:
        # for every configuration y of the chosen points and label c of the candidate:
        # 2K p(y, c) = sum_h lik[h, y] p_h(c) and sum_j keep_j(y) keep_j(c); W sums their product
        p = self.prep
        return p.pair_sums(_rescale(self.lik_H_Y).to(p.dtype), _rescale(self.keep_J_Y).to(p.dtype))

    def add(self, x: int) -> float:
        probs_C_H, _, keep_C_J = self.prep.point64(x)
        # new configurations: (old configuration, label of x), label fastest
        self.lik_H_Y = (self.lik_H_Y[:, :, None] * probs_C_H.T[:, None, :]).flatten(1)
        self.keep_J_Y = (self.keep_J_Y[:, :, None] * keep_C_J.T[:, None, :]).flatten(1)
        joint_Y = self.lik_H_Y.mean(0)  # p(y_{1:b})
        cut_Y = (1.0 - self.keep_J_Y).sum(0) / self.prep.K
        return float((joint_Y * cut_Y).sum())


class _Importance:
    def __init__(self, prep: _Prepared, *, M: int, proposal: str, generator: torch.Generator | None):
        self.prep, self.M, self.proposal, self.generator = prep, M, proposal, generator
        H = prep.H
        if proposal == "joint":  # the hypothesis each configuration is drawn from
            self.hyp = mixture_hypotheses(M, H, generator, prep.device)
        self.loglik_M_H = torch.zeros(M, H, dtype=torch.float64, device=prep.device)  # log prod_i p(y^m_i|w_h)
        # prod_i lambda lambda' = keep_scale * keep_M_J with max(keep_M_J) = 1 (see _Factorized)
        self.keep_M_J = torch.ones(M, prep.J, dtype=torch.float64, device=prep.device)
        self.keep_scale = 1.0

    def _posterior(self) -> Tensor:
        """``[M, 2K]`` p(ω_h | y^m) under a uniform prior: p(y^m, c) / p(y^m) = sum_h post[m,h] p_h(c)."""
        # a configuration impossible under every hypothesis (only with proposal="marginal") has
        # p(y^m) = 0; its term 0/0 is taken as 0, as the authors' code does
        return torch.softmax(self.loglik_M_H, dim=1).nan_to_num(0.0)

    def uncut(self) -> Tensor:
        # for every configuration m: p(c | y^m) = sum_h post[m, h] p_h(c), times sum_j keep_j(y^m) keep_j(c)
        p = self.prep
        return p.pair_sums(self._posterior().to(p.dtype).T, _rescale(self.keep_M_J).to(p.dtype).T)

    def _estimate(self, probs_C_H: Tensor, keep_C_J: Tensor) -> float:
        """Eq. 5 in float64 for one candidate given by its [C, 2K] probabilities and [C, J] keep."""
        cond_C_M = probs_C_H @ self._posterior().T
        kept_C_M = (keep_C_J @ self.keep_M_J.T) * self.keep_scale
        uncut = float((cond_C_M * kept_C_M).sum()) * (2 * self.prep.K) / self.M
        return self.prep.mean_edges - uncut / (2 * self.prep.K**2)

    def add(self, x: int) -> float:
        probs_C_H, logp_C_H, keep_C_J = self.prep.point64(x)
        value = self._estimate(probs_C_H, keep_C_J)
        if self.proposal == "joint":
            labels = draw_labels(probs_C_H, self.hyp, self.generator)
        else:
            labels = draw_marginal_labels(probs_C_H, self.M, self.generator)
        self.loglik_M_H += logp_C_H[labels]
        self.keep_M_J *= keep_C_J[labels]
        top = float(self.keep_M_J.max())
        if top > 0:
            self.keep_M_J /= top
            self.keep_scale *= top
        return value
