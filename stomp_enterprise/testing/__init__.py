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
:mod:`stomp_enterprise.testing.pytest_plugin`; enable them with
``pytest_plugins = ["stomp_enterprise.testing.pytest_plugin"]`` in your root ``conftest.py``.
"""

from __future__ import annotations

from stomp_enterprise.testing._destinations import BrokerMessage, Delivery, is_topic
from stomp_enterprise.testing.broker import Broker, ReceivedFrame

__all__ = ["Broker", "BrokerMessage", "Delivery", "ReceivedFrame", "is_topic"]
