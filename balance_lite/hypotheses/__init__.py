r"""Active learning on an explicit, finite hypothesis space: EC², ECED and BALD, exactly.

Chapters: *The cost of labels*, *EC²: cutting edges between equivalence classes*,
*ECED: discounting edges when labels are noisy* and *When information is not what you need*.

The book's first theory part computes everything on a small
:class:`HypothesisSpace`: the EC² edge-cutting objective (App. A.1 of the paper), ECED's
edge discount with its offset (Eq. 1 of the paper), BALD's mutual information, greedy
policies built from them, a simulator that counts their queries, and the stylized example of
Sec. 2.1 / Fig. 2 of the paper (:func:`stylized_example`).

Example:
    >>> from balance_lite.hypotheses import stylized_example, query_counts
    >>> space = stylized_example(16, sigma=0.25)
    >>> int(query_counts(space, "bald").max()), int(query_counts(space, "ec2").max())
    (4, 3)
"""

from balance_lite.hypotheses.objectives import (
    class_bald_scores,
    cut_edges,
    ec2_objective,
    ec2_scores,
    eced_edge_discount,
    eced_offset,
    eced_scores,
    edge_weight,
    hypothesis_bald_scores,
    likelihood_ratios,
    posterior_update,
    predictive,
)
from balance_lite.hypotheses.simulate import POLICIES, Run, class_posterior, fit_slope, policy_scores, query_counts, simulate
from balance_lite.hypotheses.space import HypothesisSpace, stylized_example, threshold_space, weighted_hamming

__all__ = [
    "HypothesisSpace",
    "weighted_hamming",
    "threshold_space",
    "stylized_example",
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
    "POLICIES",
    "Run",
    "policy_scores",
    "class_posterior",
    "simulate",
    "query_counts",
    "fit_slope",
]
