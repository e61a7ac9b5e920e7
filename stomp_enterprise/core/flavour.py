"""Which broker we talk to, from the CONNECTED frame's ``server`` header.

Brokers spell the same feature with different headers (prefetch, expiry, durable
subscriptions). Every per-broker mapping in :mod:`stomp_enterprise.core` keys on a
:class:`Flavour`, decided here once, so the prefixes are written in one place.
"""

from __future__ import annotations

import enum

__all__ = ["Flavour", "flavour_of"]


class Flavour(enum.Enum):
    """A broker family, as far as its STOMP headers go.

    ``OTHER`` is every broker we hold no mapping for (the in-process testing broker, coilmq,
    a STOMP 1.0 broker that sends no ``server`` header): it gets the documented default
    mappings, the JMS-style header names ActiveMQ, Artemis and Apollo share.
    """

    ACTIVEMQ = "activemq"
    ARTEMIS = "artemis"
    RABBITMQ = "rabbitmq"
    APOLLO = "apollo"
    OTHER = "other"


#: ``server`` header prefixes, most specific first (Artemis also starts with "ActiveMQ").
_PREFIXES = (
    ("ActiveMQ-Artemis", Flavour.ARTEMIS),
    ("ActiveMQ", Flavour.ACTIVEMQ),
    ("RabbitMQ", Flavour.RABBITMQ),
    ("apache-apollo", Flavour.APOLLO),
)


def flavour_of(server: str | None) -> Flavour:
    """The broker family named by a CONNECTED ``server`` header (``None``: not sent).

    Any thread; pure.
    """
    if server:
        for prefix, flavour in _PREFIXES:
            if server.startswith(prefix):
                return flavour
    return Flavour.OTHER
