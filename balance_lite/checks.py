r"""Argument checks shared by the whole library: one rule, one message per kind of mistake.

Chapter: *Numerics and pitfalls* (bad input fails at once and says why).

Every check returns the value it accepted (converted to a plain Python type) and raises

- :class:`TypeError` when the value has the wrong type (``True`` is not an integer, ``2.0`` is
  not an integer, a string is not a number), and
- :class:`ValueError` when the type is right but the value is out of range,

with a message that names the argument, says what was expected and shows what came. No check
clamps or repairs its input. The tensor checks of the acquisition functions build on these
(``balance_lite.acquisition._checks``).

Example:
    >>> check_positive_int(3, "num_pairs")
    3
    >>> check_positive_int(True, "num_pairs")
    Traceback (most recent call last):
        ...
    TypeError: num_pairs must be a positive integer, got True
"""

from __future__ import annotations

import math
import numbers
import operator

__all__ = [
    "check_choice",
    "check_int",
    "check_positive_int",
    "check_positive_real",
    "check_real",
    "check_unit_interval",
]


def check_int(value, name: str, *, expected: str = "an int") -> int:
    """``value`` as a Python ``int``; bools, floats and other non-integers raise a TypeError naming ``name``.

    Integer-like objects (numpy integers, 0-d integer tensors) are accepted through ``__index__``.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}") from None


def check_positive_int(value, name: str) -> int:
    """Check that ``value`` is an integer ``>= 1`` and return it.

    Raises:
        TypeError: ``value`` is not an integer (bools included).
        ValueError: ``value < 1``.
    """
    v = check_int(value, name, expected="a positive integer")
    if v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v}")
    return v


def check_real(value, name: str) -> float:
    """``value`` as a Python ``float``: a real number (a one-element tensor is read out); bools raise.

    Raises:
        TypeError: ``value`` is not a real number.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if hasattr(value, "numel") and hasattr(value, "item"):  # a tensor, without importing torch here
        if value.numel() != 1:
            raise TypeError(f"{name} must be a real number, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def check_positive_real(value, name: str, *, hint: str = "") -> float:
    """Check that ``value`` is a finite real number ``> 0`` and return it as a float.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: ``value <= 0``, infinite or NaN.
    """
    v = check_real(value, name)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a positive finite number{hint}, got {v}")
    return v


def check_unit_interval(value, name: str) -> float:
    """Check that ``value`` is a real number in [0, 1] and return it as a float.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: ``value`` is outside [0, 1] or NaN.
    """
    v = check_real(value, name)
    if not 0.0 <= v <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1], got {v}")
    return v


def check_choice(value, name: str, allowed) -> str:
    """Check that ``value`` is one of ``allowed`` and return it.

    Raises:
        ValueError: it is not.
    """
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")
    return value
