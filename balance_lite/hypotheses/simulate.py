r"""Greedy policies on a hypothesis space and the simulator that counts their queries.

Chapters: *The cost of labels* (the problem statement: policy, cost, error goal), then
*EC²: cutting edges between equivalence classes*, *ECED: discounting edges when labels are noisy*
and *When information is not what you need*.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from balance_lite.hypotheses.objectives import (
    class_bald_scores,
    ec2_scores,
    eced_scores,
    hypothesis_bald_scores,
    posterior_update,
)
from balance_lite.hypotheses.space import HypothesisSpace

__all__ = ["POLICIES", "Run", "policy_scores", "class_posterior", "simulate", "query_counts", "fit_slope"]

#: The policies :func:`simulate` knows by name: ``random`` (passive: a uniformly random point),
#: ``bald`` (:func:`~balance_lite.hypotheses.hypothesis_bald_scores`), ``class_bald``
#: (:func:`~balance_lite.hypotheses.class_bald_scores`), ``ec2``
#: (:func:`~balance_lite.hypotheses.ec2_scores`, noise-free only), ``eced``
#: (:func:`~balance_lite.hypotheses.eced_scores`, Eq. 1 of the paper) and ``eced_no_offset`` (ECED's
#: discount without the offset, ``eced_scores(..., offset=False)``: the term BALanCe keeps, Sec. 3.1;
#: not the paper's ECED).
POLICIES = ("random", "bald", "class_bald", "ec2", "eced", "eced_no_offset")

#: A policy given as a function: ``score(space, weights) -> [N] scores``; the simulator queries the argmax.
ScoreFn = Callable[[HypothesisSpace, Tensor], Tensor]


def policy_scores(policy: str, space: HypothesisSpace, weights: Tensor) -> Tensor:
    """``[N]`` scores of a named greedy policy (one of ``POLICIES`` except ``random``).

    Args:
        policy: ``"bald"``, ``"class_bald"``, ``"ec2"``, ``"eced"`` or ``"eced_no_offset"``.
        space: the hypothesis space.
        weights: ``[n]`` unnormalised posterior.

    Returns:
        ``[N]`` float64 scores; the policy queries the highest.

    Raises:
        ValueError: ``policy`` is not a greedy policy name.

    Example:
        >>> space = HypothesisSpace.from_predictions(torch.tensor([[0, 0], [0, 1]]))
        >>> policy_scores("bald", space, space.prior)
        tensor([0.0000, 0.6931], dtype=torch.float64)
    """
    return _named_scores(policy, space.probs, weights, space.classes)


def _named_scores(policy: str, probs: Tensor, weights: Tensor, classes: Tensor) -> Tensor:
    if policy == "bald":
        return hypothesis_bald_scores(probs, weights)
    if policy == "class_bald":
        return class_bald_scores(probs, weights, classes)
    if policy == "ec2":
        return ec2_scores(probs, weights, classes)
    if policy == "eced":
        return eced_scores(probs, weights, classes)
    if policy == "eced_no_offset":
        return eced_scores(probs, weights, classes, offset=False)
    raise ValueError(f"policy must be one of {POLICIES[1:]} (or a function), got {policy!r}")


def class_posterior(space: HypothesisSpace, weights: Tensor) -> Tensor:
    """``[K]`` posterior mass of each equivalence class id ``0..max(classes)`` given ``weights``."""
    w = weights.double()
    return torch.zeros(int(space.classes.max()) + 1, dtype=torch.float64, device=w.device).index_add_(
        0, space.classes, w / w.sum()
    )


def _mass_outside_top_class(space: HypothesisSpace, weights: Tensor) -> float:
    """Posterior mass outside the heaviest class, summed directly so that it is exactly 0 when it should be."""
    mass = class_posterior(space, weights)
    outside = torch.ones_like(mass, dtype=torch.bool)
    outside[mass.argmax()] = False
    return float(mass[outside].sum())


@dataclass(frozen=True)
class Run:
    """What one simulated run of a policy did.

    Attributes:
        queries: the queried points, in order.
        labels: the labels received, in order.
        reached_goal: True when the run stopped because one class holds at least ``1 - slack``
            of the posterior; False when it ran out of queries (``max_queries``, or every point
            already queried in the noise-free case).
        output: the hypothesis it outputs, the posterior mode (lowest index on ties).
        output_class: the class of ``output``.
        error: the output's error against the target, ``space.error(output, target)``.
    """

    queries: list[int]
    labels: list[int]
    reached_goal: bool
    output: int
    output_class: int
    error: float

    @property
    def num_queries(self) -> int:
        """The number of labels the run paid for."""
        return len(self.queries)


def _argmax_lowest(scores: Tensor, rtol: float = 1e-9) -> int:
    """The lowest index whose score is within ``rtol`` (relative) of the maximum: ties broken reproducibly."""
    best = scores.max()
    close = scores >= best - rtol * max(abs(float(best)), 1e-300)
    return int(torch.nonzero(close)[0])


def simulate(
    space: HypothesisSpace,
    policy: str | ScoreFn,
    target: int,
    *,
    slack: float = 0.0,
    max_queries: int | None = None,
    generator: torch.Generator | None = None,
) -> Run:
    r"""Run a policy against a fixed target hypothesis until the error goal is met.

    Each round: stop if one equivalence class holds at least ``1 - slack`` of the posterior;
    otherwise score the candidates, query the best (lowest index on ties; ``random`` draws
    uniformly), receive the label (the target's label noise-free, else a draw from
    :math:`p(y \mid h^*, x)`, independent across queries) and update the posterior
    (:func:`~balance_lite.hypotheses.posterior_update`). Noise-free, ``slack=0`` means the
    consistent hypotheses lie in one class, so the output's error is at most that class's
    diameter. Noise-free runs never query a point twice (a repeat teaches nothing).

    Args:
        space: the hypothesis space (its classes define the goal).
        policy: a name from ``POLICIES`` or a function ``score(space, weights) -> [N]``.
        target: the index of the true hypothesis.
        slack: stop when the top class has posterior mass at least ``1 - slack``; must be in
            [0, 1), and positive when the space is noisy.
        max_queries: the most labels to buy; default N when noise-free, required when noisy.
        generator: random numbers for the ``random`` policy and the noisy labels.

    Returns:
        The :class:`Run`.

    Raises:
        ValueError: ``target``, ``slack`` or ``max_queries`` is out of range, ``max_queries`` or
            a positive ``slack`` is missing for a noisy space, or ``policy`` is unknown.

    Example:
        >>> space = HypothesisSpace.from_predictions(torch.tensor([[0, 0, 0], [0, 0, 1], [0, 1, 1], [1, 1, 1]]))
        >>> simulate(space, "bald", target=3).queries  # binary search: split 2|2, then 1|1
        [1, 0]
    """
    n, N = space.num_hypotheses, space.num_points
    noise_free = space.noise_free
    if not 0 <= target < n:
        raise ValueError(f"target must be in [0, {n}), got {target}")
    if not 0.0 <= slack < 1.0:
        raise ValueError(f"slack must be in [0, 1), got {slack}")
    if not noise_free and slack == 0.0:
        raise ValueError("slack must be positive for a noisy space: no class ever reaches posterior mass 1")
    if max_queries is None:
        if not noise_free:
            raise ValueError("max_queries is required for a noisy space")
        max_queries = N
    if max_queries < 0:
        raise ValueError(f"max_queries must be >= 0, got {max_queries}")
    if isinstance(policy, str) and policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES} (or a function), got {policy!r}")

    weights = space.prior.clone()
    queried = torch.zeros(N, dtype=torch.bool, device=weights.device)
    queries: list[int] = []
    labels: list[int] = []
    reached = False
    while True:
        if _mass_outside_top_class(space, weights) <= slack:
            reached = True
            break
        if len(queries) >= max_queries or (noise_free and bool(queried.all())):
            break
        if policy == "random":
            allowed = torch.nonzero(~queried).flatten() if noise_free else torch.arange(N, device=weights.device)
            x = int(allowed[torch.randint(len(allowed), (1,), generator=generator)])
        else:
            if isinstance(policy, str):
                # Hypotheses of weight 0 contribute nothing to any named score: drop them (the version space
                # shrinks fast, and small tensors keep each step cheap).
                alive = weights > 0
                scores = _named_scores(policy, space.probs[alive], weights[alive], space.classes[alive])
            else:
                scores = policy(space, weights)
            if scores.shape != (N,):
                raise ValueError(f"policy must return [{N}] scores, got {tuple(scores.shape)}")
            scores = scores.double().clone()
            if noise_free:
                scores[queried] = -torch.inf
            x = _argmax_lowest(scores)
        if noise_free:
            y = int(space.probs[target, x].argmax())
        else:
            y = int(torch.multinomial(space.probs[target, x].float(), 1, generator=generator))
        weights = posterior_update(weights, space.probs, x, y)
        weights = weights / weights.sum()
        queried[x] = True
        queries.append(x)
        labels.append(y)
    output = _argmax_lowest(weights)
    return Run(queries, labels, reached, output, int(space.classes[output]), space.error(output, target))


def query_counts(
    space: HypothesisSpace, policy: str | ScoreFn, targets: Sequence[int] | None = None, **kwargs
) -> Tensor:
    """``[len(targets)]`` long: the number of queries :func:`simulate` needs for each target.

    Args:
        space: the hypothesis space.
        policy: as in :func:`simulate`.
        targets: target indices; default every hypothesis (the exact expected cost under the
            prior is then ``(space.prior * counts).sum()``, and the worst case ``counts.max()``).
        **kwargs: passed on to :func:`simulate`.

    Returns:
        ``[T]`` long query counts.

    Raises:
        ValueError: a run did not reach the goal (its count would understate the cost).

    Example:
        >>> space = HypothesisSpace.from_predictions(torch.tensor([[0, 0, 0], [0, 0, 1], [0, 1, 1], [1, 1, 1]]))
        >>> query_counts(space, "bald")
        tensor([2, 2, 2, 2])
    """
    targets = range(space.num_hypotheses) if targets is None else targets
    counts = []
    for t in targets:
        run = simulate(space, policy, int(t), **kwargs)
        if not run.reached_goal:
            raise ValueError(f"policy {policy!r} did not reach the goal for target {t} within {run.num_queries} queries")
        counts.append(run.num_queries)
    return torch.tensor(counts, dtype=torch.long)


def fit_slope(x: Tensor | Sequence[float], y: Tensor | Sequence[float]) -> tuple[float, float]:
    """Least-squares line ``y = slope * x + intercept``.

    Args:
        x: ``[T]`` abscissae, not all equal (e.g. ``log2(n)``).
        y: ``[T]`` ordinates (e.g. query counts).

    Returns:
        ``(slope, intercept)`` as floats.

    Raises:
        ValueError: ``x`` and ``y`` differ in length, have fewer than 2 values, or ``x`` is constant.

    Example:
        >>> fit_slope([1.0, 2.0, 3.0], [3.0, 5.0, 7.0])
        (2.0, 1.0)
    """
    x = torch.as_tensor(x, dtype=torch.float64).flatten()
    y = torch.as_tensor(y, dtype=torch.float64).flatten()
    if x.shape != y.shape or x.numel() < 2:
        raise ValueError(f"x and y must have the same length >= 2, got {x.numel()} and {y.numel()}")
    xc = x - x.mean()
    if float(xc.square().sum()) == 0.0:
        raise ValueError("x must not be constant")
    slope = float((xc * (y - y.mean())).sum() / xc.square().sum())
    return round(slope, 12), round(float(y.mean()) - slope * float(x.mean()), 12)
