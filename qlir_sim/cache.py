"""A size-bounded LRU cache: generated days and zips are reused without letting memory grow."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SizedLRU(Generic[K, V]):
    """Keeps the most recently used values whose sizes (`size(key, value)`) total `max_bytes`."""

    def __init__(self, max_bytes: int, size: Callable[[K, V], int]) -> None:
        self._max = max_bytes
        self._size = size
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The cached value for `key`, or `make()` stored under it (unlocked: may run twice)."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit[0]
        value = make()
        size = self._size(key, value)
        with self._lock:
            if key not in self._items and size <= self._max:
                self._items[key] = (value, size)
                self._total += size
                while self._total > self._max:
                    _, (_, dropped) = self._items.popitem(last=False)
                    self._total -= dropped
        return value
