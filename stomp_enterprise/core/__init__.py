"""Client-agnostic behaviour shared by the threaded and the asyncio client: messages,
subscriptions and their error policies, listeners, receipts, transactions, the lifecycle
between connections and the reconnect decisions, flow control, liveness, send tracking
(see docs/design.md, "One core, two shells").

Sans-I/O like :mod:`stomp_enterprise.protocol`: no sockets, threads, asyncio or clock. It may
import :mod:`stomp_enterprise.protocol` and :mod:`stomp_enterprise.errors` only.
"""

from __future__ import annotations

from stomp_enterprise.core.outbox import Outbox, SendTracker, carries_over
from stomp_enterprise.core.requests import Reply
from stomp_enterprise.core.stats import ClientStats

__all__ = ["ClientStats", "Outbox", "Reply", "SendTracker", "carries_over"]
