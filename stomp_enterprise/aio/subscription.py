"""Subscriptions of the asyncio client: a handler run in the subscription's own task, or an
async iterator with ``await sub.get()``.

Each subscription has a queue the connection fills in ``data_received`` (never blocking:
the connection's consume backlog stops reading the socket when the application holds too
much). A handler subscription has one task that takes messages in order: with
``max_concurrent_handlers=1`` (the default) it awaits each handler before the next message,
so order is kept; with N it runs up to N handlers at a time, each in its own task, so one
slow message does not hold back the others (and order is no longer guaranteed). A plain
(non-coroutine) handler runs inline in the subscription task: it blocks the event loop
while it runs, exactly like any synchronous code in a coroutine, and no thread is started
for it. A failing handler is logged and handed to the error policy; the task goes on.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from stomp_enterprise.core.subscription import (
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
from stomp_enterprise.errors import ConfigError, NotConnected, StompError

if TYPE_CHECKING:
    from stomp_enterprise.aio.client import Client
    from stomp_enterprise.aio.message import Message
    from stomp_enterprise.core.codecs import Codec

__all__ = ["Handler", "Subscription"]

log = logging.getLogger("stomp_enterprise.aio")

#: A coroutine function or a plain function taking a :class:`~stomp_enterprise.aio.Message`.
Handler = Callable[["Message"], Any]

Item = tuple["Message", "int | None"]  # a message, and its size when it was too large


class Subscription(SubscriptionBase):
    """One subscription of :class:`stomp_enterprise.aio.Client`; made by
    :meth:`~stomp_enterprise.aio.Client.subscribe`.

    Attributes: those of the threaded client's subscription (``id``, ``destination``,
    ``ack``, ``headers``, ``handler``, ``on_error``, ``error_destination``), plus
    ``max_concurrent_handlers``.

    Without a handler, iterate (``async for message in sub``) or ``await sub.get()``.
    Every method runs on the event loop's thread, from any task.
    """

    def __init__(
        self,
        client: Client,
        id: str,  # noqa: A002 - the STOMP header name
        destination: str,
        ack: str,
        headers: tuple[tuple[str, str], ...],
        handler: Handler | None,
        on_error: ErrorPolicy,
        error_destination: str | None,
        max_concurrent_handlers: int = 1,
        *,
        model: Any | None = None,
        codec: Codec | None = None,
    ) -> None:
        super().__init__(id, destination, ack, headers, handler, on_error, error_destination)
        self.model, self.codec = model, codec
        if not isinstance(max_concurrent_handlers, int) or max_concurrent_handlers < 1:
            raise ConfigError(
                f"max_concurrent_handlers must be an int >= 1, got {max_concurrent_handlers!r}"
            )
        self._client = client
        self.max_concurrent_handlers = max_concurrent_handlers
        self._queue: deque[Item] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(max_concurrent_handlers)

    def _start(self) -> None:
        """Start the handler task (handler subscriptions only)."""
        if self.handler is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"stomp-subscription-{self.id}"
            )

    # ------------------------------------------------------------ consuming

    async def get(self, timeout: float | None = None) -> Message:
        """The next message (handler-less subscriptions only).

        Cancelling the awaiting task takes nothing from the queue.

        Args:
            timeout: seconds to wait; ``None`` waits until a message arrives or the
                subscription ends.

        Raises:
            TimeoutError: nothing arrived within ``timeout``.
            NotConnected: the subscription ended (unsubscribed, client closed, reconnect
                gave up) and its queue is empty.
        """
        if self.handler is not None:
            raise ConfigError(f"subscription {self.id!r} has a handler; get() is for queues")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        queue = self._queue
        while True:
            while not queue:
                if not self.active:
                    raise NotConnected(f"subscription {self.id!r} has ended")
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"no message on {self.id!r} within {timeout:g}s")
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except asyncio.TimeoutError:
                    continue
            message, oversize = queue.popleft()
            connection = message._connection
            connection.finished(1, len(message.frame.body))
            if oversize is not None:
                await self._too_large(message, oversize)
                continue
            if self.ack != "auto" and not connection.alive:
                log.debug("skipping %r: its connection is lost; the broker redelivers it", message)
                continue
            observer = self._client._observer
            if observer is not None:
                observer.taken(message)
            return message

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        """The next message; the iteration ends with the subscription."""
        try:
            return await self.get()
        except NotConnected:
            raise StopAsyncIteration from None

    async def unsubscribe(self, *, receipt: bool = False, timeout: float | None = None) -> None:
        """Stop the subscription (idempotent), from any task including its handler.

        With ``ack="auto"`` nothing already received is lost: the handler still runs for
        every message read before the UNSUBSCRIBE was written, and :meth:`get` still
        returns what is queued; a message the broker sent after it is reported
        (``discarded``). With client acks, messages not yet handled are left to the broker.
        """
        await self._client._unsubscribe(self, receipt=receipt, timeout=timeout)

    # ------------------------------------------------------------ the connection's side

    def _put(self, message: Message, oversize: int | None = None) -> None:
        """In ``data_received``: queue a message (never blocks, never runs user code)."""
        self._queue.append((message, oversize))
        self._idle.clear()
        self._wakeup.set()

    def _end(self) -> None:
        self._ended = True
        self._wakeup.set()

    # ------------------------------------------------------------ delivery (its own task)

    async def _run(self) -> None:
        queue = self._queue
        client = self._client
        # delivery()'s client-ack case runs the handler here (see the threaded
        # Subscription._deliver_all): no _deliver coroutine and delivery() call per message
        handler = self.handler if self.ack != "auto" else None
        handles = handles_client_ack
        while True:
            if not queue:
                if not self._in_flight:
                    self._idle.set()
                if not self.active:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            item = queue.popleft()
            if self.max_concurrent_handlers == 1:
                message, oversize = item
                connection = message._connection
                if (
                    handler is None
                    or oversize is not None
                    or client._observer is not None
                    or not handles(self, connection.alive)
                ):
                    await self._deliver(item)
                    continue
                try:
                    await self._call(handler, message)
                finally:
                    connection.finished(1, len(message.frame.body))
                continue
            await self._slots.acquire()
            task = asyncio.get_running_loop().create_task(self._deliver(item))
            self._in_flight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slots.release()
        if not self._in_flight and not self._queue:
            self._idle.set()

    async def _deliver(self, item: Item) -> None:
        message, oversize = item
        connection = message._connection
        try:
            if oversize is not None:
                await self._too_large(message, oversize)
                return
            decision = delivery(self, alive=connection.alive, closing=self._client.closing)
            if decision is Delivery.DISCARD:
                self._client._discarded(self.id, 1, "the client was closed first")
                return
            if decision is Delivery.SKIP:
                log.debug(
                    "dropping %r: it can no longer be acked; the broker redelivers it", message
                )
                return
            handler = self.handler
            assert handler is not None
            if self._client._observer is not None:
                await self._observed(handler, message)
                return
            await self._call(handler, message)
        finally:
            connection.finished(1, len(message.frame.body))

    async def _call(self, handler: Handler, message: Message) -> None:
        """Run the handler (awaiting what it returns, if anything), then the error policy
        if it raised."""
        try:
            result = handler(message)
            if result is not None and inspect.isawaitable(result):  # a sync handler: None
                await result
        except Exception as exc:
            await self._failed(message, exc)

    async def _observed(self, handler: Handler, message: Message) -> None:
        """:meth:`_deliver`'s handler call once the client is observed: counted, timed,
        and with OpenTelemetry a ``process`` span (current in the handler), child of the
        message's context."""
        observer = self._client._observer
        assert observer is not None
        span, destination = observer.handling(message)
        error: Exception | None = None
        started = time.perf_counter()
        try:
            result = handler(message)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            error = exc
        finally:
            observer.processed(span, destination, time.perf_counter() - started, error)
        if error is not None:
            await self._failed(message, error)

    async def _failed(self, message: Message, exc: Exception) -> None:
        log.error(
            "handler %r failed on %r (policy %r)",
            self.handler,
            message,
            self.error_destination or self.on_error,
            exc_info=exc,
        )
        self._client._fire("handler_error", message, exc)
        await self._carry_out(failure_action(self), message, exc)

    async def _too_large(self, message: Message, size: int) -> None:
        """A MESSAGE beyond ``max_frame_size`` whose body was skipped: reported to the
        ``handler_error`` listeners, then acked, nacked or forwarded as
        :func:`~stomp_enterprise.core.subscription.oversize_action` says."""
        connection = message._connection
        exc = oversize_error(message.message_id, size, self, self._client.config.max_frame_size)
        log.error("%s", exc)
        self._client._fire("handler_error", message, exc)
        await self._carry_out(
            oversize_action(self, connection.session.version, alive=connection.alive), message, exc
        )

    async def _carry_out(self, action: PolicyAction, message: Message, exc: BaseException) -> None:
        steps: dict[PolicyAction, Callable[[], Awaitable[Any] | Any]] = {
            PolicyAction.FORWARD: lambda: self._forward(message, exc),
            PolicyAction.CALL: lambda: self.on_error(message, exc),  # type: ignore[operator]
            PolicyAction.NACK: message.nack,
            PolicyAction.ACK: message.ack,
            PolicyAction.DISCONNECT: self._client._disconnect_soon,
        }
        step = steps.get(action)
        if step is None:
            return
        try:
            result = step()
            if inspect.isawaitable(result):
                await result
        except (StompError, OSError) as policy_exc:
            log.error("error policy for %r failed: %s", message, policy_exc)  # noqa: TRY400
        except Exception:
            log.exception("custom error policy for %r raised", message)

    async def _forward(self, message: Message, exc: BaseException) -> None:
        """Send ``message`` (headers kept, plus the failure) to the error destination (with
        a receipt), then ack it."""
        assert self.error_destination is not None
        headers = forward_headers(message.headers, exc, message.destination, self.destination)
        await self._client.send(self.error_destination, message.body, headers, receipt=True)
        if self.ack != "auto":
            await message.ack()

    # ------------------------------------------------------------ shutdown

    async def _drain(self) -> None:
        """Wait until the queue is empty and no handler runs (the caller bounds it)."""
        await self._idle.wait()

    async def _stop(self) -> int:
        """Cancel the task and the handlers in flight (not the calling task); returns how
        many auto-ack messages were left undelivered (the caller reports them). A pull
        subscription keeps its queue: ``get()`` still returns what arrived (as with the
        threaded client), then raises NotConnected."""
        if self.handler is None:
            return 0
        current = asyncio.current_task()
        tasks = [t for t in (self._task, *self._in_flight) if t is not None and t is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        left = 0
        while self._queue:
            message, oversize = self._queue.popleft()
            message._connection.finished(1, len(message.frame.body))
            if self.ack == "auto" and oversize is None:
                left += 1
        return left
