"""Tail thresholds: the STUDIES.md example, "not observed" beyond the longest leg, and the
expanding thresholds against a direct computation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlir_core.studies.tails import TAIL_LEVELS, expanding_thresholds, threshold


def test_worked_example_thresholds() -> None:
    """STUDIES.md: nine legs of 1 and one of 3 → 10 % threshold 2, 5 % not observed."""
    lengths = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 3])
    assert threshold(lengths, 0.10) == 2
    assert threshold(lengths, 0.05) is None


def test_the_sma_worked_example_up_legs_are_not_observed() -> None:
    """Up legs of 2 and 4: S(4) = 0.5, so the 10 % threshold would be 5 = max + 1."""
    assert threshold(np.array([2, 4]), 0.10) is None
    assert threshold(np.array([], dtype=np.int64), 0.10) is None


def _direct(lengths: np.ndarray, level: float) -> int | None:
    """Smallest N with S(N) ≤ level, by scanning N; None when it exceeds the longest leg."""
    if lengths.size == 0:
        return None
    for n in range(1, int(lengths.max()) + 2):
        if (lengths >= n).sum() / lengths.size <= level:
            return None if n > lengths.max() else n
    raise AssertionError("S(max + 1) = 0 always meets the level")


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 40), max_size=300),
    level=st.sampled_from(list(TAIL_LEVELS.values())),
)
def test_thresholds_match_a_direct_scan(lengths: list[int], level: float) -> None:
    values = np.array(lengths, dtype=np.int64)
    assert threshold(values, level) == _direct(values, level)
    expanding = expanding_thresholds(values, level)
    for k in range(len(values)):
        expected = _direct(values[:k], level)
        assert (np.isnan(expanding[k]) and expected is None) or expanding[k] == expected


@pytest.mark.parametrize(("n", "level"), [(10, 0.1), (100, 0.01), (1000, 0.001), (30, 0.1)])
def test_exact_level_boundaries(n: int, level: float) -> None:
    """n·level legs at the maximum may reach it: S(max) = level exactly is in the tail."""
    k = round(n * level)
    lengths = np.array([1] * (n - k) + [5] * k)
    assert threshold(lengths, level) == (2 if k else None)
