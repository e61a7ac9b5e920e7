"""The listener registry of the threaded client: callbacks for connection events, run in
registration order on the dispatcher (never on the reader thread). A listener that raises is
logged and skipped. The registry is :class:`~stomp_enterprise.core.listeners.ListenerRegistry`,
shared with the asyncio client; here it is guarded by a lock, since any thread may register.
"""

from __future__ import annotations

import threading

from stomp_enterprise.core.listeners import EVENTS, ConnectedInfo, ListenerRegistry

__all__ = ["EVENTS", "ConnectedInfo", "Listeners"]


class Listeners(ListenerRegistry):
    """Callbacks per event. Register with ``client.listeners.on("connected", fn)`` or as a
    decorator (``@client.listeners.on("error")``), or :meth:`add` an object with ``on_<event>``
    methods (stomp.py style). Any thread."""

    def __init__(self) -> None:
        super().__init__(threading.Lock())
