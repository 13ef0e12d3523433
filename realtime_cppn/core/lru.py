"""A least-recently-used cache: the one bound every per-size and per-network cache follows.

Entries are kept most recently used last. Beyond ``limit`` entries, or while ``full(cache)``
says so, the least recently used go through ``on_evict(key, value)`` (which releases what they
hold, e.g. GL objects); the newest ``keep`` entries are never dropped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING = object()


class LRU(Generic[K, V]):
    """Most recently used last; ``hits``, ``misses`` and ``evictions`` count lookups and drops
    made for room (``pop`` and ``clear`` are the owner's and are not evictions)."""

    def __init__(self, limit: int | None = None,
                 on_evict: Callable[[K, V], None] | None = None,
                 full: Callable[[LRU[K, V]], bool] | None = None, keep: int = 0) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"an LRU limit must be at least 1, not {limit}")
        self.limit = limit
        self.on_evict = on_evict
        self.full = full
        self.keep = keep
        self._entries: OrderedDict[K, V] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries  # a peek: neither the order nor the counters change

    def __getitem__(self, key: K) -> V:
        return self._entries[key]  # a peek, as above

    def __iter__(self) -> Iterator[K]:
        return iter(self._entries)

    def keys(self):
        return self._entries.keys()

    def values(self):
        return self._entries.values()

    def items(self):
        return self._entries.items()

    def get(self, key: K, default=None):
        """``key``'s value, now the most recently used; ``default`` when missing."""
        value = self._entries.get(key, _MISSING)
        if value is _MISSING:
            self.misses += 1
            return default
        self.hits += 1
        self._entries.move_to_end(key)
        return value

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """``key``'s value, made by ``make()`` when missing; room is made first, so the old
        entries are released before the new one is allocated."""
        value = self.get(key, _MISSING)
        if value is not _MISSING:
            return value
        self._trim(room=1)
        value = make()
        self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` as the most recently used, then drop what is over the bounds."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        self._trim()

    def pop(self, key: K, default=None):
        """Remove ``key`` without ``on_evict``: the caller takes its value over."""
        return self._entries.pop(key, default)

    def clear(self) -> None:
        """Drop every entry through ``on_evict``, oldest first."""
        while self._entries:
            key, value = self._entries.popitem(last=False)
            if self.on_evict is not None:
                self.on_evict(key, value)

    def _over(self, room: int) -> bool:
        if self.limit is not None and len(self._entries) + room > self.limit:
            return True
        return room == 0 and self.full is not None and self.full(self)

    def _trim(self, room: int = 0) -> None:
        while len(self._entries) > max(self.keep - room, 0) and self._over(room):
            key, value = self._entries.popitem(last=False)
            self.evictions += 1
            if self.on_evict is not None:
                self.on_evict(key, value)
