r"""Acquisition functions: score and select pool points from MC-dropout predictions.

Chapters: *BALD and BatchBALD*, *Hypotheses from MC dropout*, *BALanCe (Eq. 2-3, Alg. 1)* and
*Batch-BALanCe (Eq. 4, Alg. 2)*. Beyond the paper: stochastic batches of any one-point score
(:func:`stochastic_batch`, Kirsch et al., TMLR 2023: PowerBALD, PowerBALanCe, PowerEPIG), EPIG
(:func:`epig_scores`, Bickford Smith et al., AISTATS 2023), BADGE (:func:`badge`, Ash et al., ICLR
2020) and Core-Set (:func:`coreset`, Sener and Savarese, ICLR 2018).

This package owns the whole contract from predictions to a batch: typed predictions in
(:class:`SamplePredictions`, :class:`PairPredictions`, :class:`TargetPredictions`,
:class:`EmbeddingPredictions`, :class:`PoolSize`), one :class:`Selection` out (one ``select_*``
function per method, e.g. :func:`select_batch_balance`, :func:`select_power_scores`,
:func:`select_power_balance`, :func:`select_epig`, :func:`select_power_epig`, :func:`select_badge`,
:func:`select_coreset`).

Conventions (all functions; the glossary is the book's *Notation* page):

- One-point scores and BatchBALD take log-probabilities ``[N, S, C]``: N pool points,
  S = ``num_samples`` hypotheses (the same S dropout masks for every pool point), C classes.
- BALanCe takes K = ``num_pairs`` hypothesis *pairs* as two tensors ``log_probs_a``,
  ``log_probs_b`` of shape ``[N, K, C]`` and a ``[K]`` bool mask ``edges`` of the pairs that are
  cut (:func:`hamming_edges`, on ``[K, U]`` predictions on D̄pool).
- EPIG takes pool log-probabilities ``[N, S, C]`` and ``[T, S, C]`` on T target inputs under
  the same S masks (:class:`TargetPredictions`).
- BADGE and Core-Set take no MC-dropout samples but the dropout-off network's penultimate
  embedding ``features`` ``[N, D]`` (D its width), with BADGE's ``[N, C]`` log-probabilities or
  Core-Set's labeled embeddings ``labeled_features`` ``[L, D]``.
- M = ``num_configurations`` counts sampled label configurations (BatchBALD, Eq. 5); B =
  ``batch_size``. ``route`` names how :func:`batch_balance` computes (not which method it is).
- ``*_scores`` functions return one float64 value per pool point ``[N]``; batch selectors
  return a :class:`Selection`; :func:`top_b` turns scores into a batch.
- Everything runs on the device of the input tensors; bad input raises ``ValueError`` or
  ``TypeError`` naming the argument.
"""

from __future__ import annotations

from .balance import balance_scores, likelihood_ratios
from .bald import bald_scores
from .batch_balance import MAX_ENUMERATE_ELEMENTS, ROUTES, batch_balance, batch_balance_value
from .batchbald import MAX_EXACT_JOINT_ELEMENTS, batchbald, joint_mutual_information
from .diversity import ZERO_GRADIENTS, badge, coreset, gradient_embeddings, gradient_sq_distances
from .epig import epig_scores
from .hamming import annealed_tau, hamming_distances, hamming_edges, resolve_tau
from .partition import partition_classes, partition_scores
from .predictions import EmbeddingPredictions, PairPredictions, PoolSize, SamplePredictions, TargetPredictions
from .scores import mean_std_scores, predictive_entropy_scores, predictive_log_probs, variation_ratio_scores
from .select import (select_badge, select_balance, select_batch_balance, select_batchbald, select_coreset,
                     select_epig, select_partition, select_power_balance, select_power_epig, select_power_scores,
                     select_random, select_top_scores)
from .selection import NO_EDGE, Selection, no_edge_fallback, random_selection, top_b
from .stochastic import NO_WEIGHT, POWER_NEGATIVE_RTOL, SAMPLING_MODES, sampling_log_weights, stochastic_batch

__all__ = [
    "EmbeddingPredictions",
    "MAX_ENUMERATE_ELEMENTS",
    "MAX_EXACT_JOINT_ELEMENTS",
    "NO_EDGE",
    "NO_WEIGHT",
    "POWER_NEGATIVE_RTOL",
    "PairPredictions",
    "PoolSize",
    "ROUTES",
    "SAMPLING_MODES",
    "SamplePredictions",
    "Selection",
    "TargetPredictions",
    "ZERO_GRADIENTS",
    "annealed_tau",
    "badge",
    "balance_scores",
    "bald_scores",
    "batch_balance",
    "batch_balance_value",
    "batchbald",
    "coreset",
    "epig_scores",
    "gradient_embeddings",
    "gradient_sq_distances",
    "hamming_distances",
    "hamming_edges",
    "joint_mutual_information",
    "likelihood_ratios",
    "mean_std_scores",
    "no_edge_fallback",
    "partition_classes",
    "partition_scores",
    "predictive_entropy_scores",
    "predictive_log_probs",
    "random_selection",
    "resolve_tau",
    "sampling_log_weights",
    "select_badge",
    "select_balance",
    "select_batch_balance",
    "select_batchbald",
    "select_coreset",
    "select_epig",
    "select_partition",
    "select_power_balance",
    "select_power_epig",
    "select_power_scores",
    "select_random",
    "select_top_scores",
    "stochastic_batch",
    "top_b",
    "variation_ratio_scores",
]
