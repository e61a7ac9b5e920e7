"""The asyncio client: ``stomp_enterprise.aio.Client``, on the same sans-I/O core as the
threaded :class:`stomp_enterprise.Client` (see docs/asyncio.md).

    from stomp_enterprise.aio import Client

    async with Client("tcp://127.0.0.1:61613", login="app", passcode="...") as client:
        sub = await client.subscribe("/queue/in")
        await client.send("/queue/in", b"hello")
        message = await sub.get(timeout=5)

No thread is started: everything runs on the event loop the client connected on (the
default loop or uvloop).
"""

from __future__ import annotations

from stomp_enterprise.aio.client import Client
from stomp_enterprise.aio.message import Message
from stomp_enterprise.aio.subscription import Subscription
from stomp_enterprise.aio.transaction import Transaction
from stomp_enterprise.core.listeners import ConnectedInfo

__all__ = ["Client", "ConnectedInfo", "Message", "Subscription", "Transaction"]
