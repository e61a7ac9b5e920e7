"""An asyncio program that ends without ``disconnect()`` does not lose what it sent.

``asyncio.run()`` cancels every task when its coroutine returns or raises, then closes the
loop: bytes still in the event loop's transport buffer were dropped with it (the old code
lost ~2,000 of 20,000 sends of 1 KiB here). The client's event task, cancelled while the
client is open, disconnects first. Each test runs its program in a child interpreter
against the in-process broker of the test process.
"""

from __future__ import annotations

import subprocess

from stomp_enterprise.testing import Broker
from tests.subproc import run_program

_EXIT_BOUND = 30.0  # seconds; the children below exit in a few


_PREAMBLE = """
import asyncio, logging, sys
from stomp_enterprise.aio import Client
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
URL = sys.argv[1]
"""


def _run(program: str, url: str) -> subprocess.CompletedProcess[str]:
    return run_program(_PREAMBLE, program, url, timeout=_EXIT_BOUND)


def test_sends_in_the_transport_buffer_arrive_when_asyncio_run_ends(stomp_broker: Broker) -> None:
    result = _run(
        """
        async def main():
            client = Client(URL, heart_beats=(0, 0))
            await client.connect()
            body = b"x" * 1024
            for n in range(20_000):  # more than the socket takes at once
                await client.send("/queue/aio-exit", b"%d " % n + body)

        asyncio.run(main())
        """,
        stomp_broker.url,
    )
    assert result.returncode == 0, result.stderr
    assert "ending without disconnect()" in result.stderr
    messages = stomp_broker.sent_messages("/queue/aio-exit")
    assert len(messages) == 20_000
    assert [m.body.split(b" ", 1)[0] for m in messages[:3]] == [b"0", b"1", b"2"]
    assert messages[-1].body.startswith(b"19999 ")
    assert stomp_broker.received_frames("DISCONNECT")


def test_an_exception_out_of_asyncio_run_keeps_the_sends(stomp_broker: Broker) -> None:
    result = _run(
        """
        async def main():
            client = Client(URL, heart_beats=(0, 0))
            await client.connect()
            for n in range(20_000):
                await client.send("/queue/aio-crash", b"y" * 1024)
            raise RuntimeError("the application failed")

        asyncio.run(main())
        """,
        stomp_broker.url,
    )
    assert result.returncode == 1
    assert "RuntimeError: the application failed" in result.stderr
    assert len(stomp_broker.sent_messages("/queue/aio-crash")) == 20_000


def test_a_program_that_disconnects_is_not_disconnected_again(stomp_broker: Broker) -> None:
    result = _run(
        """
        async def main():
            async with Client(URL, heart_beats=(0, 0)) as client:
                await client.send("/queue/aio-polite", b"x")

        asyncio.run(main())
        """,
        stomp_broker.url,
    )
    assert result.returncode == 0, result.stderr
    assert "ending without disconnect()" not in result.stderr
    assert len(stomp_broker.received_frames("DISCONNECT")) == 1
    assert len(stomp_broker.sent_messages("/queue/aio-polite")) == 1
