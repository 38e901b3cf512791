"""Group commit: concurrent callers' changes go to the gateway together, in one command.

Each caller queues its change and then takes the lock; whoever holds the lock sends every change
queued so far. Under load many logins share one SSH round trip; alone, a caller waits for none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Pending(Generic[T]):
    item: T
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommit(Generic[T]):
    def __init__(self, send: Callable[[list[T]], None],
                 lock: AbstractContextManager[Any] | None = None):
        self._send = send
        self._lock = lock or threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending[T]] = []

    def submit(self, items: list[T]) -> None:
        """Send `items` (possibly together with others'); raise what the send raised."""
        if not items:
            return
        mine = [_Pending(item) for item in items]
        with self._queue_lock:
            self._queue.extend(mine)
        try:
            self._lock.__enter__()  # a down gateway's lock refuses at once
        except BaseException:
            with self._queue_lock:  # a batch takes the whole queue: ours are all in or out
                if any(p is mine[0] for p in self._queue):
                    self._queue = [p for p in self._queue if not any(p is m for m in mine)]
                    raise  # withdrawn: nobody will send them
            for pending in mine:  # a holder took them into its batch: its result is ours
                pending.done.wait()
        else:
            try:
                if not all(p.done.is_set() for p in mine):
                    self._send_queued()
            finally:
                self._lock.__exit__(None, None, None)
        for pending in mine:
            if pending.error is not None:
                raise pending.error

    def _send_queued(self) -> None:
        """With the lock held: send everything queued, in one call."""
        with self._queue_lock:
            batch, self._queue = self._queue, []
        error: BaseException | None = None
        try:
            self._send([p.item for p in batch])
        except BaseException as exc:  # reported to every caller in the batch
            error = exc
        for pending in batch:
            pending.error = error
            pending.done.set()
