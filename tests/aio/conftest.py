"""Fixtures for the asyncio client's tests: no pytest-asyncio (not a dependency); ``run``
runs one coroutine per test on a fresh event loop (the default loop, or uvloop for tests
parametrized with ``loop``), and every test fails if it leaves a task pending."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

from stomp_enterprise.aio import Client
from stomp_enterprise.testing import Broker

_GRACE = 2.0  # seconds the tasks a test started get to end after its body returned
LOOPS = ["asyncio", "uvloop"]


def _loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if kind == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.new_event_loop  # type: ignore[no-any-return]
    return asyncio.new_event_loop


class Runner:
    """``run(coro)``: run ``coro`` on a new loop; record tasks it left pending."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.leftover: list[str] = []

    def __call__(self, coro: Coroutine[Any, Any, Any]) -> Any:
        loop = _loop_factory(self.kind)()
        try:
            return loop.run_until_complete(self._main(coro))
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _main(self, coro: Coroutine[Any, Any, Any]) -> Any:
        me = asyncio.current_task()
        result = await coro
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _GRACE
        while True:
            pending = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
            if not pending or loop.time() > deadline:
                break
            await asyncio.sleep(0.01)
        self.leftover = [t.get_name() for t in pending]
        return result


async def eventually(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll ``predicate`` on the loop (without blocking it) until it is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate!r}")
        await asyncio.sleep(0.01)


class Recorder:
    """Collects calls (sync or awaited); ``await wait(n)`` until n arrived (bounded)."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def __call__(self, *args: Any) -> None:
        self.items.append(args[0] if len(args) == 1 else args)

    async def wait(self, count: int = 1, timeout: float = 5.0) -> list[Any]:
        await eventually(lambda: len(self.items) >= count, timeout)
        return list(self.items)


@pytest.fixture(params=["asyncio"])
def run(request: pytest.FixtureRequest) -> Iterator[Runner]:
    """Run a coroutine on a fresh default event loop (override ``loop`` to use uvloop)."""
    runner = Runner(request.param)
    yield runner
    if runner.leftover:
        pytest.fail(f"tasks left pending: {', '.join(runner.leftover)}")


@pytest.fixture(params=LOOPS)
def run_any_loop(request: pytest.FixtureRequest) -> Iterator[Runner]:
    """``run`` on the default loop and on uvloop."""
    runner = Runner(request.param)
    yield runner
    if runner.leftover:
        pytest.fail(f"tasks left pending: {', '.join(runner.leftover)}")


@pytest.fixture
def make_client(stomp_broker: Broker) -> Callable[..., Client]:
    """Build asyncio clients for the test's broker (``url`` may be overridden); heart-beats
    off and short receipt/disconnect timeouts unless given."""

    def make(url: str | None = None, **options: Any) -> Client:
        options.setdefault("heart_beats", (0, 0))
        options.setdefault("timeouts", {"receipt": 5.0, "disconnect": 2.0})
        return Client(url or stomp_broker.url, **options)

    return make
