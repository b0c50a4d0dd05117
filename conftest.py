"""Shared by every pytest run from the repository root: the docstring examples' namespace.

``pytest --doctest-modules balance_lite`` runs every example in the library's docstrings; each
example may use ``torch`` without importing it.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def _doctest_torch(doctest_namespace):
    doctest_namespace["torch"] = torch
