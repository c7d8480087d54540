"""Tail thresholds of leg lengths (docs/STUDIES.md, "SMA study" 6 and "Per-candle marks").

The threshold of level p over a set of legs is the smallest N with S(N) = P(L ≥ N) ≤ p. When that
N is beyond the longest leg (more than p of the legs share the maximum length), it is not observed:
None here, NaN in arrays, null in tables, never max + 1.
"""

from __future__ import annotations

import heapq

import numpy as np

from qlir_core.indicators import FloatArray, IntArray

# S(N) levels, by the column name under which tables report them.
TAIL_LEVELS = {"tail_10pct": 0.10, "tail_5pct": 0.05, "tail_1pct": 0.01, "tail_0_1pct": 0.001}


def allowed(n: int, level: float) -> int:
    """The largest count c with c / n ≤ level: how many of n legs may reach the threshold."""
    c = int(level * n)
    while (c + 1) / n <= level:
        c += 1
    while c > 0 and c / n > level:
        c -= 1
    return c


def threshold(lengths: IntArray, level: float) -> int | None:
    """The smallest N with S(N) ≤ level over `lengths`; None without legs or when not observed."""
    n = int(lengths.size)
    if n == 0:
        return None
    # S(N) ≤ level ⟺ at most c legs last ≥ N ⟺ N exceeds the (c+1)-th largest length.
    rank = n - allowed(n, level) - 1
    kth = int(np.partition(lengths, rank)[rank])
    return None if kth >= int(lengths.max()) else kth + 1


def expanding_thresholds(lengths: IntArray, level: float) -> FloatArray:
    """out[k] = threshold(lengths[:k], level) (NaN for None): what leg k may be compared with,
    knowing only the legs before it. Two heaps keep the (c+1) largest apart from the rest."""
    out = np.full(len(lengths), np.nan)
    top: list[int] = []  # min-heap: the c+1 largest lengths so far
    rest: list[int] = []  # max-heap (negated): the others
    longest = 0
    for k, value in enumerate(lengths.tolist()):
        if k:
            kth = top[0]
            if kth < longest:
                out[k] = kth + 1
        if top and value > top[0]:
            heapq.heappush(top, value)
        else:
            heapq.heappush(rest, -value)
        longest = max(longest, value)
        size = allowed(k + 1, level) + 1
        while len(top) < size:
            heapq.heappush(top, -heapq.heappop(rest))
        while len(top) > size:
            heapq.heappush(rest, -heapq.heappop(top))
    return out
