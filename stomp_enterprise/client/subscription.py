"""Subscriptions: a handler called per message, or a bounded queue to ``get()`` from; and the
policy applied when a handler fails."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from stomp_enterprise.errors import ConfigError, ConnectionLost, NotConnected, StompError

if TYPE_CHECKING:
    from stomp_enterprise.client.client import Client
    from stomp_enterprise.client.message import Message
    from stomp_enterprise.transport.socket import SocketTransport

__all__ = ["ErrorPolicy", "Handler", "Subscription"]

log = logging.getLogger(__name__)

Handler = Callable[["Message"], Any]
#: What to do when a handler raises: ``"disconnect"`` (graceful disconnect, stompest's
#: poison-pill default), ``"nack"``, ``"ack"`` (drop it), ``"ignore"`` (leave it unacked), or a
#: callable ``(message, error)``. ``error_destination=`` on subscribe forwards then acks.
ErrorPolicy = (
    Literal["disconnect", "nack", "ack", "ignore"] | Callable[["Message", BaseException], Any]
)

_POLICIES = ("disconnect", "nack", "ack", "ignore")
_POLL = 0.25
_HOLD_LIMIT = 0.002  # a batch's queued frames wait at most this long past a handler's return

FAILURE_HEADER = "x-stomp-enterprise-error"
ORIGINAL_DESTINATION_HEADER = "x-original-destination"


def _write_held(transport: SocketTransport) -> None:
    with contextlib.suppress(ConnectionLost):  # reported as the connection's loss
        transport.release()


class Subscription:
    """One subscription; created by :meth:`Client.subscribe`.

    Attributes:
        id: the subscription id (the routing key for its messages; kept across reconnects).
        destination: what was subscribed to.
        ack: the ack mode.
        headers: extra SUBSCRIBE headers.
        handler: the callable messages go to, or None (then use :meth:`get` / iteration).

    Thread-safety: :meth:`get` and iteration from any one consumer thread at a time;
    :meth:`unsubscribe` from any thread, including the handler.
    """

    def __init__(
        self,
        client: Client,
        id: str,  # noqa: A002
        destination: str,
        ack: str,
        headers: tuple[tuple[str, str], ...],
        handler: Handler | None,
        on_error: ErrorPolicy,
        error_destination: str | None,
        queue_size: int,
    ) -> None:
        if handler is not None and not callable(handler):
            raise ConfigError(f"handler must be callable, got {handler!r}")
        if not (callable(on_error) or on_error in _POLICIES):
            raise ConfigError(
                f"on_error must be one of {_POLICIES} or a callable, got {on_error!r}"
            )
        if error_destination is not None and not error_destination:
            raise ConfigError("error_destination must be a non-empty destination")
        self._client = client
        self.id = id
        self.destination = destination
        self.ack = ack
        self.headers = headers
        self.handler = handler
        self.on_error = on_error
        self.error_destination = error_destination
        self._queue: queue.Queue[Message] | None = (
            queue.Queue(maxsize=queue_size) if handler is None else None
        )
        self._active = threading.Event()
        self._active.set()

    @property
    def active(self) -> bool:
        """False once unsubscribed or the client closed."""
        return self._active.is_set()

    # ------------------------------------------------------------ consuming

    def get(self, timeout: float | None = None) -> Message:
        """The next message (handler-less subscriptions only).

        Args:
            timeout: seconds to wait; ``None`` waits until a message arrives or the
                subscription ends.

        Raises:
            queue.Empty: nothing arrived within ``timeout``.
            NotConnected: the subscription ended (unsubscribed or client closed) and its
                queue is empty.
        """
        q = self._queue
        if q is None:
            raise ConfigError(f"subscription {self.id!r} has a handler; get() is for queues")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = _POLL if deadline is None else min(_POLL, deadline - time.monotonic())
            try:
                return q.get(timeout=max(0.0, wait))
            except queue.Empty:
                if not self.active:
                    raise NotConnected(f"subscription {self.id!r} has ended") from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    def __iter__(self) -> Iterator[Message]:
        """Yield messages until the subscription ends."""
        while True:
            try:
                yield self.get()
            except NotConnected:
                return

    def unsubscribe(self, *, receipt: bool = False, timeout: float | None = None) -> None:
        """Stop the subscription (idempotent). Messages already queued can still be read."""
        self._client._unsubscribe(self, receipt=receipt, timeout=timeout)

    def _end(self) -> None:
        self._active.clear()

    # ------------------------------------------------------------ delivery (dispatcher thread)

    def _deliver_all(self, messages: list[Message]) -> None:
        """Deliver the messages of one read in order (a failure is handled per message).

        While a handler runs, the ACK of its own message waits in the queue: the ACKs of a
        batch are written together on this thread (one system call, no writer wake-up)
        when the batch is done, or as soon as a handler returns ``_HOLD_LIMIT`` seconds
        after the batch (or the last write) began. Nothing else waits: sends, other
        messages' ACKs, receipts, flushes and heart-beats go as before."""
        deliver = self._deliver
        connection = messages[0]._connection
        transport = connection.transport
        transport.hold()
        started = time.monotonic()
        try:
            for message in messages:
                connection.delivering = message
                try:
                    deliver(message)
                except Exception:
                    log.exception("delivering %r failed", message)
                if time.monotonic() - started > _HOLD_LIMIT:
                    _write_held(transport)
                    transport.hold()
                    started = time.monotonic()
        finally:
            connection.delivering = None
            _write_held(transport)

    def _deliver(self, message: Message) -> None:
        if not self._active.is_set():
            log.debug("dropping %r: subscription %s ended", message, self.id)
            return
        if self.ack != "auto" and not message._connection.alive:
            # its connection is gone: it cannot be acked, and the broker redelivers it
            log.debug("dropping %r: its connection is lost; the broker redelivers it", message)
            return
        handler = self.handler
        if handler is None:
            q = self._queue
            assert q is not None
            while self._active.is_set():
                try:
                    q.put(message, timeout=_POLL)
                    return
                except queue.Full:
                    continue
            return
        try:
            handler(message)
        except Exception as exc:
            self._failed(message, exc)

    def _failed(self, message: Message, exc: Exception) -> None:
        log.error(
            "handler %r failed on %r (policy %r)",
            self.handler,
            message,
            self.error_destination or self.on_error,
            exc_info=exc,
        )
        client = self._client
        client.listeners.fire("handler_error", message, exc)
        try:
            if self.error_destination is not None:
                headers = {k: v for k, v in message.headers.items() if k not in _NOT_FORWARDED}
                headers[FAILURE_HEADER] = f"{type(exc).__name__}: {exc}"[:1000]
                headers[ORIGINAL_DESTINATION_HEADER] = message.destination or self.destination
                client.send(self.error_destination, message.body, headers, receipt=True)
                if self.ack != "auto":
                    message.ack()
            elif callable(self.on_error):
                self.on_error(message, exc)
            elif self.on_error == "nack":
                message.nack()
            elif self.on_error == "ack":
                if self.ack != "auto":
                    message.ack()
            elif self.on_error == "disconnect":
                log.error("disconnecting after handler failure (policy 'disconnect')")
                client.disconnect()
        except (StompError, OSError) as policy_exc:
            log.error("error policy for %r failed: %s", message, policy_exc)  # noqa: TRY400
        except Exception:
            log.exception("custom error policy for %r raised", message)

    def __repr__(self) -> str:
        return (
            f"Subscription(id={self.id!r}, destination={self.destination!r}, ack={self.ack!r}, "
            f"active={self.active})"
        )


#: MESSAGE headers that must not be copied onto a forwarded SEND.
_NOT_FORWARDED = frozenset(
    {"subscription", "ack", "message-id", "destination", "content-length", "receipt", "transaction"}
)
