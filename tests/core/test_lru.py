"""The LRU helper: order, bounds, the keep minimum, eviction callbacks and counters."""

from __future__ import annotations

import pytest

from realtime_cppn.core.lru import LRU


def test_get_or_make_keeps_the_most_recently_used_and_counts():
    made, dropped = [], []
    cache = LRU(limit=2, on_evict=lambda k, v: dropped.append((k, v)))

    def make(k):
        made.append(k)
        return k * 10

    assert cache.get_or_make(1, lambda: make(1)) == 10
    assert cache.get_or_make(2, lambda: make(2)) == 20
    assert cache.get_or_make(1, lambda: make(1)) == 10  # a hit: 1 is now the newest
    assert cache.get_or_make(3, lambda: make(3)) == 30  # 2 goes
    assert made == [1, 2, 3] and dropped == [(2, 20)]
    assert list(cache) == [1, 3] and len(cache) == 2
    assert (cache.hits, cache.misses, cache.evictions) == (1, 3, 1)


def test_room_is_made_before_the_new_entry_is_made():
    events = []
    cache = LRU(limit=1, on_evict=lambda k, v: events.append(("drop", k)))
    cache.get_or_make("a", lambda: events.append(("make", "a")) or 1)
    cache.get_or_make("b", lambda: events.append(("make", "b")) or 2)
    assert events == [("make", "a"), ("drop", "a"), ("make", "b")]


def test_peeks_change_neither_order_nor_counters():
    cache = LRU(limit=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert "a" in cache and cache["a"] == 1 and "z" not in cache
    cache.put("c", 3)  # "a" is still the oldest
    assert list(cache.keys()) == ["b", "c"] and list(cache.values()) == [2, 3]
    assert (cache.hits, cache.misses) == (0, 0)


def test_get_counts_a_miss_and_returns_the_default():
    cache = LRU()
    assert cache.get("x") is None and cache.get("x", 5) == 5
    assert cache.misses == 2 and cache.hits == 0


def test_full_predicate_bounds_bytes_but_keeps_the_newest():
    dropped = []
    cache = LRU(full=lambda c: sum(c.values()) > 10, keep=2,
                on_evict=lambda k, v: dropped.append(k))
    for key, size in (("a", 4), ("b", 4), ("c", 4)):
        cache.put(key, size)
    assert list(cache) == ["b", "c"] and dropped == ["a"]
    cache.put("d", 100)  # over the bound alone, but the newest two stay
    assert list(cache) == ["c", "d"] and dropped == ["a", "b"]
    assert cache.evictions == 2


def test_keep_also_holds_against_the_limit():
    cache = LRU(limit=1, keep=2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert list(cache) == ["b", "c"]


def test_pop_hands_the_value_over_and_clear_evicts_everything():
    dropped = []
    cache = LRU(limit=4, on_evict=lambda k, v: dropped.append(k))
    for key in "abc":
        cache.put(key, key.upper())
    assert cache.pop("b") == "B" and cache.pop("b", "gone") == "gone"
    assert dropped == []  # the caller owns what pop returned
    cache.clear()
    assert dropped == ["a", "c"] and len(cache) == 0
    assert cache.evictions == 0  # clear is the owner's, not a drop for room


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError):
        LRU(limit=0)
