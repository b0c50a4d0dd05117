"""Fixtures shared by the test files."""

from __future__ import annotations

import pytest
import torch

from balance_lite import data


@pytest.fixture
def single_thread():
    """Run a test on one thread: the tensors are tiny, and on a busy machine every multi-threaded
    kernel waits for a descheduled worker. Restores the setting after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def digits():
    """The bundled 8x8 digits, split with seed 0 (no download)."""
    return data.load("digits", seed=0)
