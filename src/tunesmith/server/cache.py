"""Answers to repeated reads, kept for a fraction of a second.

Clients poll: boto3 waiters, dashboards and scripts call ``Describe…`` in loops, often many at
once. One answer per operation and parameters is computed at most once per ``ttl`` seconds, the
others are served from memory; while one request recomputes an expired answer, the others get
the previous one instead of queueing behind it. A change made through the server clears
everything, so a client reads its own writes; changes made by engines show within ``ttl``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

MAX_ENTRIES = 512
"""Answers kept at most (expired ones are dropped first when it is reached)."""


class ReadCache:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._answers: dict[Hashable, tuple[float, bytes]] = {}
        self._refreshing: set[Hashable] = set()
        self._generation = 0
        """Counts clears: an answer computed across a clear may predate the change."""
        self._lock = threading.Lock()

    def fresh(self, key: Hashable) -> bytes | None:
        """The answer for ``key`` if one may be served now, without computing anything."""
        if self.ttl <= 0:
            return None
        with self._lock:
            kept = self._answers.get(key)
            if kept is not None and (kept[0] > self.clock() or key in self._refreshing):
                return kept[1]
        return None

    def get(self, key: Hashable, compute: Callable[[], bytes]) -> bytes:
        """The answer for ``key``, computing it when there is none fresh; errors raised by
        ``compute`` are not kept."""
        if self.ttl <= 0:
            return compute()
        with self._lock:
            kept = self._answers.get(key)
            if kept is not None and (kept[0] > self.clock() or key in self._refreshing):
                return kept[1]
            self._refreshing.add(key)
            generation = self._generation
        try:
            answer = compute()
        finally:
            with self._lock:
                self._refreshing.discard(key)
        with self._lock:
            if generation == self._generation:
                now = self.clock()
                if len(self._answers) >= MAX_ENTRIES:
                    self._answers = {k: v for k, v in self._answers.items() if v[0] > now}
                    if len(self._answers) >= MAX_ENTRIES:
                        self._answers.clear()
                self._answers[key] = (now + self.ttl, answer)
        return answer

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
            self._refreshing.clear()
            self._generation += 1
