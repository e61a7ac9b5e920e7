"""Typed subscription options (durable, selector, prefetch) mapped to each broker's headers.

Pure: no I/O. Verified on ActiveMQ 5.17.2, RabbitMQ 3.10.8, Artemis 2.40.0 and Apollo 1.7.1
(subscribe durable, disconnect, send, reconnect, receive; then remove and check it is gone):

==========  =============================  ===========================  ==================
broker      durable subscription           removal (UNSUBSCRIBE ``id``)  selector / prefetch
==========  =============================  ===========================  ==================
ActiveMQ    CONNECT ``client-id`` +        ``activemq.subscriptionName``  ``selector`` /
            ``activemq.subscriptionName``                                ``activemq.prefetchSize``
Artemis     CONNECT ``client-id`` +        ``durable-subscription-name``  ``selector`` /
            ``durable-subscription-name``                                ``consumer-window-size``
                                                                         (bytes)
RabbitMQ    ``durable:true``,              ``durable:true`` +            refused /
            ``auto-delete:false``,         ``x-queue-name``              ``prefetch-count``
            ``x-queue-name``
Apollo      ``persistent:true``, ``id`` =  ``persistent:true``           ``selector`` /
            the name                                                     ``credit:N,0``
other       as ActiveMQ                    as ActiveMQ                   as ActiveMQ
==========  =============================  ===========================  ==================

The subscription ``id`` of a durable subscription is its name (Apollo names the durable
subscription by its id; the others accept any id, and a stable one keeps replays simple).
Removal, measured on each broker: ActiveMQ, Artemis and Apollo take an UNSUBSCRIBE with
``id`` = the name and the removal headers once no consumer is attached (ActiveMQ refuses it
while one is: "Durable consumer is in use"), so a live subscription is unsubscribed first.
RabbitMQ only takes the removal headers on the UNSUBSCRIBE of a live subscription ("No
subscription found" otherwise), so the client attaches first when it is not subscribed
(:func:`durable_removal_attached`).
"""

from __future__ import annotations

from dataclasses import dataclass

from stomp_enterprise.core.backlog import prefetch_for
from stomp_enterprise.core.flavour import Flavour
from stomp_enterprise.errors import ConfigError

__all__ = ["SubscribeOptions", "durable_removal_attached", "durable_removal_headers"]

_DURABLE_NAME = {
    Flavour.ACTIVEMQ: "activemq.subscriptionName",
    Flavour.OTHER: "activemq.subscriptionName",
    Flavour.ARTEMIS: "durable-subscription-name",
}
_NEEDS_CLIENT_ID = (Flavour.ACTIVEMQ, Flavour.ARTEMIS, Flavour.OTHER)


def _name_check(name: str, option: str) -> None:
    if not isinstance(name, str) or not name or any(c in name for c in "\r\n:"):
        raise ConfigError(
            f"{option} must be a non-empty str without ':' or line breaks", option=option
        )


@dataclass(frozen=True, slots=True)
class SubscribeOptions:
    """The typed options of one SUBSCRIBE, validated at construction.

    Attributes:
        durable: the durable subscription's name (a topic subscription that keeps messages
            while the client is away).
        selector: a JMS/SQL-92 message selector (ActiveMQ, Artemis, Apollo).
        prefetch: messages the broker may send ahead of the client's acks (>= 1).

    Raises:
        ConfigError: an option of the wrong type or out of range, named.
    """

    durable: str | None = None
    selector: str | None = None
    prefetch: int | None = None

    def __post_init__(self) -> None:
        if self.durable is not None:
            _name_check(self.durable, "durable")
        if self.selector is not None and (
            not isinstance(self.selector, str) or not self.selector.strip()
        ):
            raise ConfigError("selector must be a non-empty str", option="selector")
        prefetch = self.prefetch
        if prefetch is not None and (
            isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 1
        ):
            raise ConfigError(f"prefetch must be an int >= 1, got {prefetch!r}", option="prefetch")

    @property
    def given(self) -> bool:
        """Whether any option is set."""
        return self.durable is not None or self.selector is not None or self.prefetch is not None

    def subscription_id(self, requested: str | None) -> str | None:
        """The subscription id to use: a durable subscription's id is its name.

        Raises:
            ConfigError: ``requested`` differs from the durable name.
        """
        if self.durable is None:
            return requested
        if requested is not None and requested != self.durable:
            raise ConfigError(
                f"a durable subscription's id is its name: id={requested!r} differs from "
                f"durable={self.durable!r}",
                option="id",
            )
        return self.durable

    def headers(
        self,
        flavour: Flavour,
        destination: str,
        *,
        client_id: str | None,
        bytes_per_message: int,
    ) -> dict[str, str]:
        """The SUBSCRIBE headers for ``flavour``.

        Args:
            destination: what is subscribed (a durable subscription needs a ``/topic/``).
            client_id: the client's ``client_id`` (ActiveMQ, Artemis: needed for durable).
            bytes_per_message: turns ``prefetch`` into Artemis' byte window; the client
                passes its backlog bounds' ratio, so explicit and default prefetch agree.

        Raises:
            ConfigError: the broker refuses the option by design (a selector on RabbitMQ),
                or a durable subscription without the ``client_id`` it needs or on a queue.
        """
        out: dict[str, str] = {}
        if self.durable is not None:
            out.update(self._durable_headers(flavour, destination, client_id))
        if self.selector is not None:
            if flavour is Flavour.RABBITMQ:
                raise ConfigError(
                    "RabbitMQ's STOMP plugin has no message selectors (the header would be "
                    "ignored); bind a queue with a routing key or headers exchange instead",
                    option="selector",
                )
            out["selector"] = self.selector
        if self.prefetch is not None:
            header = prefetch_for(
                Flavour.ACTIVEMQ if flavour is Flavour.OTHER else flavour,
                self.prefetch,
                self.prefetch * max(1, bytes_per_message),
            )
            assert header is not None  # every flavour above has one
            out[header[0]] = header[1]
        return out

    def _durable_headers(
        self, flavour: Flavour, destination: str, client_id: str | None
    ) -> dict[str, str]:
        name = self.durable
        assert name is not None
        if not destination.startswith("/topic/"):
            raise ConfigError(
                f"durable= needs a /topic/ destination (a queue keeps its messages anyway), "
                f"got {destination!r}",
                option="durable",
            )
        if flavour in _NEEDS_CLIENT_ID and not client_id:
            raise ConfigError(
                f"a durable subscription on {flavour.value} needs Client(client_id=...): the "
                "broker keys it by client id and name",
                option="durable",
            )
        if flavour is Flavour.RABBITMQ:
            return {"durable": "true", "auto-delete": "false", "x-queue-name": name}
        if flavour is Flavour.APOLLO:
            return {"persistent": "true"}
        return {_DURABLE_NAME[flavour]: name}


def durable_removal_attached(flavour: Flavour) -> bool:
    """Whether ``flavour`` removes a durable subscription through the UNSUBSCRIBE of a live
    (attached) subscription rather than a separate one after it (RabbitMQ)."""
    return flavour is Flavour.RABBITMQ


def durable_removal_headers(flavour: Flavour, name: str) -> dict[str, str]:
    """The headers of the UNSUBSCRIBE (``id`` = ``name``) that deletes durable subscription
    ``name`` and its stored messages, once no consumer is attached.

    Raises:
        ConfigError: ``name`` is not a valid durable name.
    """
    _name_check(name, "name")
    if flavour is Flavour.RABBITMQ:
        return {"durable": "true", "x-queue-name": name}
    if flavour is Flavour.APOLLO:
        return {"persistent": "true"}
    return {_DURABLE_NAME[flavour]: name}
