"""Client-agnostic behaviour shared by the threaded client and (next) an asyncio one.

Sans-I/O like :mod:`stomp_enterprise.protocol`: no sockets, threads, asyncio or clock. It may
import :mod:`stomp_enterprise.protocol` and :mod:`stomp_enterprise.errors` only.
"""

from __future__ import annotations

from stomp_enterprise.core.outbox import Outbox, SendTracker, carries_over

__all__ = ["Outbox", "SendTracker", "carries_over"]
