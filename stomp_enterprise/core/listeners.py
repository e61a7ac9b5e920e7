"""The listener registry shared by both shells: callbacks per connection event, kept in
registration order. The threaded client calls them on its dispatcher thread, the asyncio
client in its event task (where a callback may also be a coroutine function); neither runs
them on the reader. A listener that raises is logged and skipped.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, TypeVar

__all__ = ["EVENTS", "ConnectedInfo", "ListenerRegistry"]

log = logging.getLogger("stomp_enterprise.client.listeners")

F = TypeVar("F", bound=Callable[..., Any])

#: event name -> what its callbacks receive
EVENTS: Final = {
    "connected": "(info: ConnectedInfo)",
    "disconnected": "(error: BaseException | None) - exactly once per lost or closed connection",
    "error": "(error: BrokerError) - an ERROR frame",
    "receipt": "(receipt_id: str)",
    "heartbeat_timeout": "(error: HeartbeatTimeout)",
    "reconnect_failed": "(error: ConnectFailed) - reconnecting gave up; the client is closed",
    "undelivered": "(count: int, error: BaseException) - sends accepted but given up"
    " (no reconnect, reconnect gave up, or closed with sends pending)",
    "handler_error": "(message: Message, error: BaseException)",
    "discarded": "(subscription_id: str, count: int, reason: str) - auto-ack messages received "
    "but never delivered (e.g. in flight when UNSUBSCRIBE was sent)",
}


@dataclass(frozen=True)
class ConnectedInfo:
    """What ``on_connected`` callbacks receive.

    Attributes:
        broker: URL of the broker connected to.
        version: negotiated STOMP version.
        server: the broker's ``server`` header, if any.
        session: the broker's session id, if any.
        heart_beats: ``(send_every_ms, expect_every_ms)`` as negotiated.
        reconnect: True when this connection replaces a lost one (subscriptions replayed).
    """

    broker: str
    version: str
    server: str | None
    session: str | None
    heart_beats: tuple[int, int]
    reconnect: bool


class ListenerRegistry:
    """Callbacks per event. Register with ``client.listeners.on("connected", fn)`` or as a
    decorator (``@client.listeners.on("error")``), or :meth:`add` an object with ``on_<event>``
    methods (stomp.py style).

    Args:
        guard: a context manager held while the lists change (the threaded client passes a
            lock); the lists are replaced, never mutated, so reading needs none.
    """

    def __init__(self, guard: AbstractContextManager[Any] | None = None) -> None:
        self._guard: AbstractContextManager[Any] = guard or contextlib.nullcontext()
        self._callbacks: dict[str, list[Callable[..., Any]]] = {name: [] for name in EVENTS}

    def on(self, event: str, callback: F | None = None) -> Any:
        """Register ``callback`` for ``event``; without ``callback``, return a decorator."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; expected one of {', '.join(EVENTS)}")
        if callback is None:

            def decorator(fn: F) -> F:
                self.on(event, fn)
                return fn

            return decorator
        if not callable(callback):
            raise TypeError(f"listener for {event!r} must be callable, got {callback!r}")
        with self._guard:
            self._callbacks[event] = [*self._callbacks[event], callback]
        return callback

    def add(self, listener: object) -> None:
        """Register every ``on_<event>`` method of ``listener``."""
        found = False
        for event in EVENTS:
            method = getattr(listener, f"on_{event}", None)
            if method is not None:
                self.on(event, method)
                found = True
        if not found:
            raise TypeError(f"{listener!r} has no on_<event> method ({', '.join(EVENTS)})")

    def remove(self, callback_or_listener: object) -> None:
        """Unregister a callback, or every method of a listener object."""
        with self._guard:
            for event, callbacks in self._callbacks.items():
                bound = getattr(callback_or_listener, f"on_{event}", None)
                self._callbacks[event] = [
                    cb for cb in callbacks if cb not in (callback_or_listener, bound)
                ]

    def has(self, event: str) -> bool:
        """True when ``event`` has at least one callback."""
        return bool(self._callbacks[event])

    def callbacks(self, event: str) -> list[Callable[..., Any]]:
        """The callbacks of ``event`` in registration order (a list never mutated later)."""
        return self._callbacks[event]

    def fire(self, event: str, *args: Any) -> None:
        """Call every callback of ``event`` in registration order. Exceptions are logged,
        never propagated. (The asyncio client awaits what a callback returns instead.)"""
        for callback in self._callbacks[event]:  # the list is replaced, never mutated
            try:
                callback(*args)
            except Exception:
                log.exception("listener %r for %r failed", callback, event)
