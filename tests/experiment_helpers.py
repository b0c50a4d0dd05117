"""Shared by the experiment tests: a quiet quick digits run into a results folder."""

from balance_lite.experiments import run_experiment


def quiet(*args):
    """A ``log`` that prints nothing."""


def run_digits(out, **kw):
    """``run_experiment("digits", ...)``: quick, random, one trial, no progress bar, no log, unless ``kw`` says."""
    kw.setdefault("methods", ["random"])
    kw.setdefault("trials", 1)
    kw.setdefault("quick", True)
    kw.setdefault("progress", False)
    kw.setdefault("log", quiet)
    return run_experiment("digits", out=out, **kw)
