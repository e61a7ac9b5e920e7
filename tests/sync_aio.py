"""A blocking facade over :class:`stomp_enterprise.aio.Client`, for tests ONLY.

It lets one test body, written against the threaded client's API, drive the asyncio client
too (``tests/parity``, ``integration``): the facade owns an event loop running in a
test-owned thread (``aio-facade-loop``) and forwards every call to the aio client with
:func:`asyncio.run_coroutine_threadsafe`, waiting for the result.

What it maps, and nothing else:

* any attribute of a wrapped object (client, subscription, message, transaction, listener
  registry) is read on the loop thread; a method is called there and, when it returns an
  awaitable, awaited there; objects of ``stomp_enterprise.aio`` in results are wrapped again
  (the same aio subscription always gives the same wrapper, so ``is`` holds);
* arguments that are wrappers are unwrapped; plain callables (handlers, ``on_error``
  policies, listeners) become coroutine functions that run the callable in the loop's default
  executor with wrapped arguments, so a handler may block without blocking the loop; what it
  calls back into the facade (``message.ack()``, ``client.send()``, even
  ``client.disconnect()``) is awaited by the handler's own task, as in an async handler;
* ``with``/``for`` become ``async with``/``async for``; ``Subscription.get`` turns the
  asyncio timeout into :class:`queue.Empty` (the threaded client's answer).

Exceptions raised by the aio client pass through unchanged, so a test's ``pytest.raises``
checks the same typed error for both clients.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import queue
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

__all__ = [
    "AIO_KNOWN_BUGS",
    "AIO_KNOWN_RACES",
    "SyncAioClient",
    "is_aio_object",
    "mark_aio_known_bugs",
]

_LOOP_THREAD_NAME = "aio-facade-loop"
_CALL_TIMEOUT = 120.0  # a bound for every forwarded call: a hung call fails the test


def is_aio_object(value: object) -> bool:
    """Whether ``value`` must be wrapped: an object of the asyncio client's package, or of
    the shared core, whose class has coroutine methods (a subscription, a message, a
    transaction) or registers callbacks (the listener registry). Plain data (a
    ``ConnectedInfo``, an exception) is handed over as it is."""
    return _needs_wrapper(type(value))


@functools.cache
def _needs_wrapper(cls: type) -> bool:
    module = cls.__module__
    if not module.startswith(("stomp_enterprise.aio", "stomp_enterprise.core")):
        return False
    if cls.__name__ == "Listeners" or hasattr(cls, "__aiter__") or hasattr(cls, "__aenter__"):
        return True
    return any(
        inspect.iscoroutinefunction(getattr(cls, name, None))
        for name in dir(cls)
        if not name.startswith("__")
    )


_handler = threading.local()  # .channel: set on a thread running a handler for a task


class _Channel:
    """Calls a handler's thread asks its task (on ``loop``) to await on its behalf."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.requests: asyncio.Queue[tuple[Coroutine[Any, Any, Any], Any]] = asyncio.Queue()
        self.served = True  # False once the task stopped serving (it ended or was cancelled)

    def submit(self, coro: Coroutine[Any, Any, Any], reply: concurrent.futures.Future[Any]) -> None:
        """On the loop: hand ``coro`` to the handler's task, or run it as a task of its own
        when that task no longer serves (the handler's thread outlived it)."""
        if self.served:
            self.requests.put_nowait((coro, reply))
            return
        task = asyncio.ensure_future(coro)
        task.add_done_callback(lambda done: _settle(reply, done))


def _settle(reply: concurrent.futures.Future[Any], done: asyncio.Future[Any]) -> None:
    if done.cancelled():
        reply.cancel()
    elif done.exception() is not None:
        reply.set_exception(done.exception())  # type: ignore[arg-type]
    else:
        reply.set_result(done.result())


class _Loop:
    """An event loop running in its own thread until :meth:`close`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(ready,), name=_LOOP_THREAD_NAME, daemon=True
        )
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the loop and return its result (from any other thread).

        Called from a handler's thread (see :meth:`SyncAioClient._in_executor`), ``coro`` is
        awaited by that handler's own task, as an async handler would await it."""
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("the sync facade was called from its own event loop thread")
        channel: _Channel | None = getattr(_handler, "channel", None)
        if channel is not None and channel.loop is self.loop:
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            self.loop.call_soon_threadsafe(channel.submit, coro, future)
        else:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(_CALL_TIMEOUT)
        except concurrent.futures.TimeoutError:
            if future.done():
                raise  # the call itself raised a TimeoutError
            future.cancel()
            raise AssertionError(f"aio call did not finish within {_CALL_TIMEOUT}s") from None

    def close(self) -> None:
        """Cancel what is left, stop the executor and the loop, join the thread."""
        if self.loop.is_closed():
            return

        async def finish() -> None:
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()
            await self.loop.shutdown_default_executor()

        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(finish(), self.loop).result(30)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
        self.loop.close()


class _Wrapper:
    """Forwards attribute reads and calls of one aio object through the facade's loop."""

    _target: Any
    _facade: SyncAioClient

    def __init__(self, facade: SyncAioClient, target: Any) -> None:
        object.__setattr__(self, "_facade", facade)
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        facade = self._facade
        target = self._target

        async def read() -> Any:
            return getattr(target, name)

        value = facade._loop.run(read())
        if callable(value) and not isinstance(value, type):
            return functools.partial(facade._call, value)
        return facade._wrap(value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Wrapper):
            return bool(self._target == other._target)
        return bool(self._target == other)

    def __hash__(self) -> int:
        return hash(self._target)

    def __repr__(self) -> str:
        return repr(self._target)

    def __str__(self) -> str:
        return str(self._target)


class SyncContext(_Wrapper):
    """A wrapped async context manager (a transaction) used with ``with``."""

    def __enter__(self) -> Any:
        result = self._facade._call(self._target.__aenter__)
        return self if result is None or result is self._target else self._facade._wrap(result)

    def __exit__(self, *exc_info: Any) -> bool:
        return bool(self._facade._call(self._target.__aexit__, *exc_info))


class SyncSubscription(_Wrapper):
    """A wrapped aio subscription: ``get`` raises :class:`queue.Empty` on a timeout and
    ``for message in sub`` iterates the async iterator."""

    def get(self, timeout: float | None = None) -> Any:
        """``await sub.get(timeout)``; the asyncio timeout becomes :class:`queue.Empty`."""
        try:
            return self._facade._call(self._target.get, timeout=timeout)
        except (asyncio.QueueEmpty, queue.Empty):
            raise queue.Empty from None
        except TimeoutError as exc:
            if type(exc).__module__.startswith("stomp_enterprise"):
                raise
            raise queue.Empty from None

    def __iter__(self) -> Iterator[Any]:
        target = self._target

        async def start() -> Any:
            return target.__aiter__()

        iterator = self._facade._loop.run(start())  # the raw async iterator
        while True:
            try:
                yield self._facade._call(iterator.__anext__)
            except StopAsyncIteration:
                return


class SyncClient(SyncContext):
    """The wrapped client itself (see :class:`SyncAioClient`)."""


class SyncAioClient(SyncClient):
    """``SyncAioClient(url, **options)``: an :class:`stomp_enterprise.aio.Client` built on a
    private loop thread, driven with the threaded client's blocking API.

    :meth:`close` (called by the test fixtures) disconnects and stops the loop thread.
    """

    def __init__(self, url: str, **options: Any) -> None:
        loop = _Loop()
        object.__setattr__(self, "_loop", loop)
        object.__setattr__(self, "_wrappers", {})
        from stomp_enterprise import aio

        async def build() -> Any:
            return aio.Client(url, **options)

        try:
            target = loop.run(build())
        except BaseException:
            loop.close()
            raise
        super().__init__(self, target)

    _loop: _Loop
    _wrappers: dict[int, tuple[Any, _Wrapper]]

    @property
    def aio(self) -> Any:
        """The wrapped :class:`stomp_enterprise.aio.Client` (touch it on the loop only)."""
        return self._target

    def close(self) -> None:
        """Disconnect (bounded) and stop the loop thread; idempotent."""
        if self._loop.loop.is_closed():
            return
        try:
            self._call(self._target.disconnect)
        finally:
            self._loop.close()

    # ------------------------------------------------------------ plumbing

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn`` on the loop with unwrapped arguments, await an awaitable result, and
        wrap what comes back."""
        args = tuple(self._unwrap(a) for a in args)
        kwargs = {k: self._unwrap(v) for k, v in kwargs.items()}

        async def call() -> Any:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result

        return self._wrap(self._loop.run(call()))

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, _Wrapper) or not is_aio_object(value):
            if isinstance(value, list):
                return [self._wrap(v) for v in value]
            return value
        known = self._wrappers.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        name = type(value).__name__
        kind: type[_Wrapper]
        if hasattr(value, "__aiter__") or name == "Subscription":
            kind = SyncSubscription
        elif hasattr(value, "__aenter__"):
            kind = SyncContext
        else:
            kind = _Wrapper
        wrapper = kind(self, value)
        self._wrappers[id(value)] = (value, wrapper)  # keeps value alive: ids stay unique
        return wrapper

    def _unwrap(self, value: Any) -> Any:
        if isinstance(value, _Wrapper):
            return value._target
        if callable(value) and not isinstance(value, type) and not _is_async(value):
            return self._in_executor(value)
        return value

    def _in_executor(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A coroutine function that runs the plain callable ``fn`` in the loop's default
        executor with wrapped arguments (a handler may block and call the facade)."""
        wrap = self._wrap

        async def run(*args: Any) -> Any:
            wrapped = [wrap(a) for a in args]
            channel = _Channel(asyncio.get_running_loop())

            def call() -> Any:
                _handler.channel = channel
                try:
                    return fn(*wrapped)
                finally:
                    _handler.channel = None

            done = channel.loop.run_in_executor(None, call)
            try:
                while True:  # await, in this task, what the handler's thread asks for
                    request = asyncio.ensure_future(channel.requests.get())
                    try:
                        await asyncio.wait({done, request}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        if not request.done():
                            request.cancel()
                    if not request.done() or request.cancelled():
                        return done.result()
                    coro, reply = request.result()
                    try:
                        reply.set_result(await coro)
                    except BaseException as exc:  # the handler's thread sees it raised
                        reply.set_exception(exc)
                        if isinstance(exc, asyncio.CancelledError):
                            raise
            finally:
                channel.served = False
                while not channel.requests.empty():  # asked for just before the end
                    coro, reply = channel.requests.get_nowait()
                    channel.submit(coro, reply)

        run.__name__ = getattr(fn, "__name__", "handler")
        run.__qualname__ = run.__name__
        return run


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    )


#: Behaviour the asyncio client does not share yet: test name -> why. Its ``asyncio`` case is
#: marked ``xfail(strict=True)``, so it fails the suite the day the behaviour is fixed (then
#: delete the entry). Each one is reported to the owner of ``stomp_enterprise/aio``. Names are
#: test function names of ``tests/parity`` and ``integration``.
AIO_KNOWN_BUGS: dict[str, str] = {}


#: The same for behaviour that differs only sometimes (a race in the asyncio client): a
#: non-strict xfail, since a strict one would fail whenever the race goes the right way.
AIO_KNOWN_RACES: dict[str, str] = {}


def mark_aio_known_bugs(items: list[pytest.Item]) -> None:
    """Mark the ``asyncio`` case of every test named in AIO_KNOWN_BUGS (strict xfail) or
    AIO_KNOWN_RACES (non-strict); ``tests/parity`` and ``integration`` call it."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("client_kind") != "asyncio":
            continue
        name = getattr(item, "originalname", "")
        if name in AIO_KNOWN_BUGS:
            item.add_marker(pytest.mark.xfail(strict=True, reason=AIO_KNOWN_BUGS[name]))
        elif name in AIO_KNOWN_RACES:
            item.add_marker(pytest.mark.xfail(strict=False, reason=AIO_KNOWN_RACES[name]))
