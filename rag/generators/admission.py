"""One generation at a time, a bounded number waiting: ``GenerationQueue``.

``admit()`` answers at once: it returns a ``Slot`` or raises ``BusyError`` when ``max_waiting``
requests already wait behind the running one. ``with slot:`` waits for the slot's turn (first
come, first served) and frees it on exit; ``slot.release()`` frees a slot that never ran.

Example::

    queue = GenerationQueue(max_waiting=8)
    slot = queue.admit()          # BusyError here when full
    with slot:                    # blocks until the generations before it are done
        ...
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from types import TracebackType
from typing import Self

from rag.errors import BusyError


class Slot:
    """A place in a ``GenerationQueue``: enter it to run, release it (idempotent) to leave."""

    def __init__(self, queue: GenerationQueue) -> None:
        self._queue = queue
        self.started_at: float | None = None
        self.released = False

    def __enter__(self) -> Self:
        self._queue._wait_turn(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def release(self) -> None:
        """Leave the queue (after running, or without having run); a second call does nothing."""
        self._queue._release(self)


class GenerationQueue:
    """First-come-first-served: one running slot, at most ``max_waiting`` slots behind it."""

    def __init__(self, max_waiting: int = 8, *, default_retry_after: int = 5) -> None:
        if max_waiting < 0:
            raise ValueError("max_waiting must be >= 0")
        self.max_waiting = max_waiting
        self._default_retry_after = default_retry_after
        self._cond = threading.Condition()
        self._slots: deque[Slot] = deque()  # the head runs (or is about to); the rest wait
        self._durations: deque[float] = deque(maxlen=8)

    @property
    def pending(self) -> int:
        """Requests admitted and not yet released: the running one plus those waiting."""
        with self._cond:
            return len(self._slots)

    def admit(self) -> Slot:
        """A slot at the end of the queue, or ``BusyError`` at once when the queue is full."""
        with self._cond:
            if len(self._slots) >= 1 + self.max_waiting:
                raise BusyError(
                    f"the generator is busy ({len(self._slots)} requests running or waiting)",
                    retry_after=self._retry_after(),
                    hint="retry later",
                )
            slot = Slot(self)
            self._slots.append(slot)
            return slot

    def _retry_after(self) -> int:
        """Seconds until a place is likely free: recent mean duration times the queue length."""
        if not self._durations:
            return self._default_retry_after
        mean = sum(self._durations) / len(self._durations)
        return max(1, min(300, math.ceil(mean * len(self._slots))))

    def _wait_turn(self, slot: Slot) -> None:
        with self._cond:
            if slot.released:
                raise RuntimeError("this slot was released; admit a new one")
            while self._slots[0] is not slot:
                self._cond.wait()
            slot.started_at = time.monotonic()

    def _release(self, slot: Slot) -> None:
        with self._cond:
            if slot.released:
                return
            slot.released = True
            self._slots.remove(slot)
            if slot.started_at is not None:
                self._durations.append(time.monotonic() - slot.started_at)
            self._cond.notify_all()
