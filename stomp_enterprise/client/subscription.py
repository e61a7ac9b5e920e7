"""Subscriptions: a handler called per message, or a bounded queue to ``get()`` from; and the
policy applied when a handler fails."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from stomp_enterprise.core.subscription import (
    FAILURE_HEADER,
    ORIGINAL_DESTINATION_HEADER,
    Delivery,
    ErrorPolicy,
    PolicyAction,
    SubscriptionBase,
    delivery,
    failure_action,
    forward_headers,
    handles_client_ack,
    oversize_action,
    oversize_error,
)
from stomp_enterprise.errors import ConfigError, ConnectionLost, NotConnected, StompError

if TYPE_CHECKING:
    from stomp_enterprise.client.client import Client
    from stomp_enterprise.client.message import Message
    from stomp_enterprise.core.codecs import Codec
    from stomp_enterprise.transport.socket import SocketTransport

__all__ = [
    "FAILURE_HEADER",
    "ORIGINAL_DESTINATION_HEADER",
    "ErrorPolicy",
    "Handler",
    "Subscription",
]

log = logging.getLogger(__name__)

Handler = Callable[["Message"], Any]

_POLL = 0.25
_HOLD_LIMIT = 0.002  # a batch's queued frames wait at most this long past a handler's return


def _write_held(transport: SocketTransport) -> None:
    try:  # noqa: SIM105 (once or twice per read: suppress() costs three Python calls)
        transport.release()
    except ConnectionLost:
        pass  # reported as the connection's loss


class Subscription(SubscriptionBase):
    """One subscription; created by :meth:`Client.subscribe`.

    Attributes:
        id: the subscription id (the routing key for its messages; kept across reconnects).
        destination: what was subscribed to.
        ack: the ack mode.
        headers: extra SUBSCRIBE headers.
        handler: the callable messages go to, or None (then use :meth:`get` / iteration).
        model: what ``message.model`` validates the body as (``None``: the codec's plain
            objects).
        codec: the codec that decodes ``message.model`` (``None``: chosen by content type).

    A handler-less subscription is fed by the connection's reader directly (never through
    the dispatcher), so a handler may wait on another subscription's :meth:`get` even with
    one dispatch worker, and an unread queue blocks no handler or listener. Its queue is
    bounded by the broker's prefetch with client acks (``queue_size`` sets the default
    prefetch header, see :meth:`Client.subscribe`) and, with auto acks, by the
    connection's backlog: while that is full the reader stops reading the socket.

    Thread-safety: :meth:`get` and iteration from any thread (each message goes to one
    caller); :meth:`unsubscribe` from any thread, including the handler.
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
        *,
        model: Any | None = None,
        codec: Codec | None = None,
    ) -> None:
        super().__init__(id, destination, ack, headers, handler, on_error, error_destination)
        self.model, self.codec = model, codec
        self._client = client
        self._queue: deque[Message] | None = deque() if handler is None else None
        self._ready = threading.Condition(threading.Lock())  # guards _queue

    # ------------------------------------------------------------ consuming

    def get(self, timeout: float | None = None) -> Message:
        """The next message (handler-less subscriptions only).

        Any thread; blocks only the caller (bounded by ``timeout``).

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
        ready = self._ready
        while True:
            with ready:
                while not q:
                    if not self.active:
                        raise NotConnected(f"subscription {self.id!r} has ended")
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise queue.Empty
                    # the poll notices an ending subscription without a wake-up
                    ready.wait(_POLL if remaining is None else min(_POLL, remaining))
                message = q.popleft()
            connection = message._connection
            connection.finished(1, len(message.frame.body))
            if self.ack != "auto" and not connection.alive:
                # its connection is gone: it cannot be acked, and the broker redelivers it
                log.debug("skipping %r: its connection is lost; the broker redelivers it", message)
                continue
            observer = self._client._observer
            if observer is not None:
                observer.taken(message)
            return message

    def __iter__(self) -> Iterator[Message]:
        """Yield messages until the subscription ends."""
        while True:
            try:
                yield self.get()
            except NotConnected:
                return

    def unsubscribe(self, *, receipt: bool = False, timeout: float | None = None) -> None:
        """Stop the subscription (idempotent). Any thread, including its handler.

        With ``ack="auto"`` nothing already received is lost: the handler still runs for
        every message read before the UNSUBSCRIBE was written, and :meth:`get` still
        returns what is queued. A message the broker sent after it (in flight while the
        UNSUBSCRIBE travelled) is reported: a ``discarded`` listener event and a WARNING.
        With client acks, messages not yet handled are dropped; the broker redelivers them.
        """
        self._client._unsubscribe(self, receipt=receipt, timeout=timeout)

    def _end(self) -> None:
        self._ended = True
        with self._ready:
            self._ready.notify_all()

    def _put(self, messages: list[Message]) -> None:
        """Reader thread: queue messages of one read (handler-less subscriptions). Never
        blocks: the connection's backlog (which counts them until taken) pauses its reader."""
        q = self._queue
        assert q is not None
        with self._ready:
            q.extend(messages)
            self._ready.notify_all()

    # ------------------------------------------------------------ delivery (dispatcher thread)

    def _deliver_all(self, messages: list[Message], size: int) -> None:
        """Deliver the messages of one read in order (a failure is handled per message);
        ``size``: their body bytes (counted by the reader, which handed them on).

        While a handler runs, the ACK of its own message waits in the queue: the ACKs of a
        batch are written together on this thread (one system call, no writer wake-up)
        when the batch is done, or as soon as a handler returns ``_HOLD_LIMIT`` seconds
        after the batch (or the last write) began. Nothing else waits: sends, other
        messages' ACKs, receipts, flushes and heart-beats go as before.

        The per-message work of :meth:`_deliver` is inlined here for the common case (no
        observer): this loop runs once per message received."""
        deliver = self._deliver
        connection = messages[0]._connection
        transport = connection.transport
        client = self._client
        # delivery()'s client-ack case runs the handler here (when no observer is installed)
        handler = self.handler if self.ack != "auto" else None
        handles = handles_client_ack
        monotonic = time.monotonic
        transport.hold()
        started = monotonic()
        discarded = 0
        try:
            for message in messages:
                connection.delivering = message
                try:
                    if (
                        handler is not None
                        and client._observer is None
                        and handles(self, connection.alive)
                    ):
                        try:
                            handler(message)
                        except Exception as exc:
                            self._failed(message, exc)
                    elif not deliver(message):
                        discarded += 1
                except Exception:
                    log.exception("delivering %r failed", message)
                if monotonic() - started > _HOLD_LIMIT:
                    _write_held(transport)
                    transport.hold()
                    started = monotonic()
        finally:
            connection.delivering = None
            _write_held(transport)
            connection.finished(len(messages), size)
            if discarded:
                client._discarded(self.id, discarded, "the client was closed first")

    def _deliver(self, message: Message) -> bool:
        """Run the handler; False when an auto-ack message could not be delivered."""
        decision = delivery(
            self, alive=message._connection.alive, closing=self._client._closing.is_set()
        )
        if decision is Delivery.DISCARD:
            return False  # disconnect() waited its drain time: reported by _deliver_all
        if decision is Delivery.SKIP:
            # unsubscribed, or its connection is gone: the broker redelivers it
            log.debug("dropping %r: it can no longer be acked; the broker redelivers it", message)
            return True
        handler = self.handler
        assert handler is not None
        if self._client._observer is not None:
            self._observed(handler, message)
            return True
        try:
            handler(message)
        except Exception as exc:
            self._failed(message, exc)
        return True

    def _observed(self, handler: Handler, message: Message) -> None:
        """:meth:`_deliver`'s handler call once the client is observed: counted, timed,
        and with OpenTelemetry a ``process`` span, child of the message's context."""
        observer = self._client._observer
        assert observer is not None
        span, destination = observer.handling(message)
        error: Exception | None = None
        started = time.perf_counter()
        try:
            handler(message)
        except Exception as exc:
            error = exc
        finally:
            # the span ends (and the context is restored) before the error policy runs
            observer.processed(span, destination, time.perf_counter() - started, error)
        if error is not None:
            self._failed(message, error)

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
            self._apply(failure_action(self), message, exc)
        except (StompError, OSError) as policy_exc:
            log.error("error policy for %r failed: %s", message, policy_exc)  # noqa: TRY400
        except Exception:
            log.exception("custom error policy for %r raised", message)

    def _apply(self, action: PolicyAction, message: Message, exc: BaseException) -> None:
        """Carry out what the error policy decided (dispatcher thread)."""
        if action is PolicyAction.FORWARD:
            self._forward(message, exc)
        elif action is PolicyAction.CALL:
            assert callable(self.on_error)
            self.on_error(message, exc)
        elif action is PolicyAction.NACK:
            message.nack()
        elif action is PolicyAction.ACK:
            message.ack()
        elif action is PolicyAction.DISCONNECT:
            log.error("disconnecting after handler failure (policy 'disconnect')")
            self._client.disconnect()

    def _forward(self, message: Message, exc: BaseException) -> None:
        """Send ``message`` (headers kept, plus the failure) to the error destination (with
        a receipt), then ack it."""
        assert self.error_destination is not None
        headers = forward_headers(message.headers, exc, message.destination, self.destination)
        self._client.send(self.error_destination, message.body, headers, receipt=True)
        if self.ack != "auto":
            message.ack()

    def _too_large(self, message: Message, size: int) -> None:
        """Dispatcher thread: a MESSAGE beyond ``max_frame_size`` whose body was skipped
        (``message.body`` is empty). The connection survives; the broker must not redeliver
        it for ever, so: with ``error_destination`` its headers are forwarded there (no
        body) and it is acked; with ``on_error="nack"`` (STOMP 1.1+) it is nacked;
        otherwise it is acked (client acks) or just skipped (auto). Always reported to the
        ``handler_error`` listeners with a :class:`FrameTooLarge`."""
        connection = message._connection
        exc = oversize_error(message.message_id, size, self, self._client.config.max_frame_size)
        log.error("%s", exc)
        self._client.listeners.fire("handler_error", message, exc)
        action = oversize_action(self, connection.session.version, alive=connection.alive)
        try:
            self._apply(action, message, exc)
        except (StompError, OSError) as policy_exc:
            log.error("error policy for oversize %r failed: %s", message, policy_exc)  # noqa: TRY400
