"""Testing helpers shipped with stomp_enterprise: an in-process STOMP broker.

:class:`Broker` speaks STOMP 1.0, 1.1 and 1.2 over real loopback sockets (optionally TLS),
with queues, topics, every ack mode, transactions, receipts and heart-beats, plus fault
injection (dropped connections, a silent half-open broker, delays, refused or failed
connects, ERROR frames, restarts on the same port)::

    from stomp_enterprise.testing import Broker

    with Broker() as broker:
        ...  # connect a client to broker.url
        broker.wait_for(lambda: broker.queue_depth("/queue/out") == 1)

pytest fixtures (``stomp_broker``, ``stomp_broker_factory``) live in
:mod:`stomp_enterprise.testing.pytest_plugin`, registered as a ``pytest11`` entry point: they
are available in every pytest run once the package is installed.

:func:`transport_of` is a test hook: the socket transport of a client's current connection,
for its diagnostic counters and its ``write_observer`` (see docs/testing.md), so tests need
neither private attributes nor patches of the standard library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stomp_enterprise.testing._destinations import BrokerMessage, Delivery, is_topic
from stomp_enterprise.testing.broker import Broker, ReceivedFrame

if TYPE_CHECKING:
    from stomp_enterprise.client import Client
    from stomp_enterprise.transport.socket import SocketTransport

__all__ = ["Broker", "BrokerMessage", "Delivery", "ReceivedFrame", "is_topic", "transport_of"]


def transport_of(client: Client) -> SocketTransport | None:
    """The :class:`~stomp_enterprise.transport.socket.SocketTransport` of ``client``'s current
    connection (None when it has none). A test hook: read ``writer_wakeups``, set
    ``write_observer``; do not write through it. Any thread."""
    connection = client._connection
    return None if connection is None else connection.transport
