"""balance_lite: the tested library behind balance-book.

Chapter: *Deep Bayesian active learning with equivalence classes* (the introduction).

Deep Bayesian active learning with equivalence classes: the acquisition functions of
BALD, BatchBALD, BALanCe and Batch-BALanCe, MC-dropout networks, the active-learning loop
and the paper's datasets.
"""

__version__ = "0.1.0"
