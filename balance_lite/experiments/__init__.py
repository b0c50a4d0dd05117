r"""Experiment runner: the paper's experiments as presets, resumable runs, curves and tables.

Chapter: *The active learning loop in 30 lines* (the last section: one line with the library, one
command with the CLI).

The command line ``balance-lite`` (see :mod:`balance_lite.cli`) wraps these functions::

    balance-lite run mnist --quick --methods batch-balance,random --trials 3
    balance-lite plot results/mnist-quick
    balance-lite table results/mnist-quick --at 40
    balance-lite compare results/mnist-quick
"""

from .compare import aubc_table, penalty_matrix
from .presets import PRESETS, Preset, available, get_preset, shrink
from .report import curves, figure, format_table, plot_results, results_table
from .results import load_results, read_manifest, read_records
from .runner import EXECUTORS, Unit, plan_units, run_experiment, run_unit

__all__ = [
    "EXECUTORS",
    "PRESETS",
    "Preset",
    "Unit",
    "available",
    "aubc_table",
    "curves",
    "figure",
    "format_table",
    "get_preset",
    "load_results",
    "penalty_matrix",
    "plan_units",
    "plot_results",
    "read_manifest",
    "read_records",
    "results_table",
    "run_experiment",
    "run_unit",
    "shrink",
]
