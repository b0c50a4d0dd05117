r"""Acquisition functions: score and select pool points from MC-dropout predictions.

Chapters: *BALD and BatchBALD*, *MC dropout as hypotheses*, *BALanCe*, *Batch-BALanCe* and the
appendix on BALanCe-Partition.

Conventions (all functions):

- One-point scores and BatchBALD take log-probabilities ``[N, S, C]``: N pool points,
  S hypotheses (the same S dropout masks for every pool point), C classes.
- BALanCe takes K hypothesis *pairs* as two tensors ``log_probs_a``, ``log_probs_b`` of shape
  ``[N, K, C]`` and a ``[K]`` bool mask ``edges`` of the pairs that are cut
  (:func:`hamming_edges`).
- ``*_scores`` functions return one float64 value per pool point ``[N]``; batch selectors
  return a :class:`Selection`; :func:`top_b` turns scores into a batch.
- Everything runs on the device of the input tensors; bad input raises ``ValueError`` or
  ``TypeError`` naming the argument.
"""

from __future__ import annotations

from .balance import balance_scores, lambda_ratios
from .bald import bald_scores
from .batchbald import MAX_EXACT_JOINT_ELEMENTS, batchbald, joint_mutual_information
from .batch_balance import MAX_ENUMERATE_ELEMENTS, batch_balance, batch_balance_value
from .hamming import annealed_tau, hamming_distances, hamming_edges
from .partition import partition_classes, partition_scores
from .scores import mean_std_scores, predictive_entropy_scores, variation_ratio_scores
from .selection import Selection, top_b

__all__ = [
    "MAX_ENUMERATE_ELEMENTS",
    "MAX_EXACT_JOINT_ELEMENTS",
    "Selection",
    "annealed_tau",
    "balance_scores",
    "bald_scores",
    "batch_balance",
    "batch_balance_value",
    "batchbald",
    "hamming_distances",
    "hamming_edges",
    "joint_mutual_information",
    "lambda_ratios",
    "mean_std_scores",
    "partition_classes",
    "partition_scores",
    "predictive_entropy_scores",
    "top_b",
    "variation_ratio_scores",
]
