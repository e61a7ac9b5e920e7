"""Runs user code (handlers and listeners) off the reader thread, in order.

One worker by default, so everything runs in arrival order. With ``workers > 1`` each task
goes to the worker chosen by its key (the subscription id), so one subscription's messages
stay in order while different subscriptions run in parallel. A failing task is logged and
handed to ``on_error``; the worker survives.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)

Task = tuple[Callable[..., Any], tuple[Any, ...]]
_STOP = object()


class Dispatcher:
    """A fixed set of named worker threads fed by FIFO queues.

    Args:
        name: thread name prefix, e.g. ``"stomp-dispatch-127.0.0.1:61613"``.
        workers: number of threads (>= 1).
    """

    def __init__(self, name: str, workers: int = 1) -> None:
        self._queues: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in range(workers)]
        self._threads = [
            threading.Thread(
                target=self._run,
                args=(q,),
                name=f"{name}-{i}" if workers > 1 else name,
                daemon=True,
            )
            for i, q in enumerate(self._queues)
        ]
        self._idents: set[int] = set()
        self._stopped = False
        for thread in self._threads:
            thread.start()
            if thread.ident is not None:
                self._idents.add(thread.ident)

    @property
    def alive(self) -> bool:
        """True until :meth:`stop`."""
        return not self._stopped

    def in_worker(self) -> bool:
        """True when called from one of this dispatcher's threads."""
        return threading.get_ident() in self._idents

    def submit(self, key: str | None, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)`` on the worker for ``key``. Safe from any thread; never blocks.

        The worker is ``crc32(key) % workers``: the same in every process and run (Python's
        ``hash`` of a str is salted per process), so a deployment's assignment is reproducible.
        """
        queues = self._queues
        target = (
            queues[zlib.crc32(key.encode()) % len(queues)] if len(queues) > 1 and key else queues[0]
        )
        target.put((fn, args))

    def drain(self, timeout: float) -> bool:
        """Wait until everything queued so far has run (bounded). Tasks queued meanwhile may
        still be pending. Returns False on timeout. From a worker thread, that worker's own
        queue is not waited for (it is busy running the caller)."""
        markers = []
        for q, thread in zip(self._queues, self._threads, strict=True):
            if thread.ident == threading.get_ident() or not thread.is_alive():
                continue
            done = threading.Event()
            q.put((done.set, ()))
            markers.append(done)
        deadline = time.monotonic() + timeout
        return all(done.wait(max(0.0, deadline - time.monotonic())) for done in markers)

    def stop(self, timeout: float) -> None:
        """Stop the workers after what is queued, and join them (bounded; a worker calling
        this is not joined). Idempotent."""
        if not self._stopped:
            self._stopped = True
            for q in self._queues:
                q.put(_STOP)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.ident != threading.get_ident():
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    log.warning("dispatcher thread %s still busy after %.1fs", thread.name, timeout)

    @staticmethod
    def _run(q: queue.SimpleQueue[Any]) -> None:
        get = q.get
        while True:
            task = get()
            if task is _STOP:
                return
            fn, args = task
            try:
                fn(*args)
            except Exception:
                log.exception("uncaught error in dispatched task %r", fn)
