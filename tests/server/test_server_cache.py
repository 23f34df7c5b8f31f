"""The read cache: answers reused within their time, recomputed after, cleared by writes."""

from __future__ import annotations

import threading

import pytest

from tunesmith.server.cache import MAX_ENTRIES, ReadCache


def test_an_answer_is_reused_until_it_expires_or_a_write_clears_it() -> None:
    now = [0.0]
    cache = ReadCache(ttl=1, clock=lambda: now[0])
    answers = iter([b"first", b"second", b"third", b"fourth"])
    assert cache.get("k", lambda: next(answers)) == b"first"
    now[0] = 0.9
    assert cache.get("k", lambda: next(answers)) == b"first"
    now[0] = 1.1
    assert cache.get("k", lambda: next(answers)) == b"second"
    cache.clear()
    assert cache.get("k", lambda: next(answers)) == b"third"
    assert ReadCache(ttl=0).get("k", lambda: next(answers)) == b"fourth"


def test_errors_are_not_kept() -> None:
    cache = ReadCache(ttl=60)

    def fail() -> bytes:
        raise LookupError("gone")

    with pytest.raises(LookupError):
        cache.get("k", fail)
    assert cache.get("k", lambda: b"back") == b"back"


def test_an_answer_computed_across_a_write_is_not_kept() -> None:
    cache = ReadCache(ttl=60)
    computing, written = threading.Event(), threading.Event()

    def slow_read() -> bytes:
        computing.set()
        written.wait(10)
        return b"before the write"

    reader = threading.Thread(target=cache.get, args=("k", slow_read))
    reader.start()
    computing.wait(10)
    cache.clear()
    written.set()
    reader.join(10)
    assert cache.get("k", lambda: b"after the write") == b"after the write"


def test_while_one_request_recomputes_the_others_get_the_previous_answer() -> None:
    now = [0.0]
    cache = ReadCache(ttl=1, clock=lambda: now[0])
    cache.get("k", lambda: b"old")
    now[0] = 2.0
    computing, release = threading.Event(), threading.Event()

    def slow_read() -> bytes:
        computing.set()
        release.wait(10)
        return b"new"

    reader = threading.Thread(target=cache.get, args=("k", slow_read))
    reader.start()
    computing.wait(10)
    assert cache.get("k", lambda: b"should not run") == b"old"
    release.set()
    reader.join(10)


def test_the_cache_stays_bounded() -> None:
    now = [0.0]
    cache = ReadCache(ttl=1, clock=lambda: now[0])
    for i in range(MAX_ENTRIES):
        cache.get(i, lambda: b"old")
    now[0] = 5.0
    cache.get("new", lambda: b"new")
    assert cache.get(0, lambda: b"recomputed") == b"recomputed"
    for i in range(3 * MAX_ENTRIES):
        cache.get(("more", i), lambda: b"x")
    assert len(cache._answers) <= MAX_ENTRIES
