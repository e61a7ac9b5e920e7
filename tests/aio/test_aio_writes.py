"""The asyncio client's writes: what is queued goes to the stream in pieces of about
``WRITE_CHUNK`` bytes (a burst of sends that never yields queues up to ``MAX_QUEUED``), and
such a burst arrives whole and in order, with and without send tracking."""

from __future__ import annotations

import pytest

from stomp_enterprise.aio.connection import WRITE_CHUNK, next_piece
from stomp_enterprise.testing import Broker

#: a burst of 1 KiB sends three pieces and a bit long
BURST = 3 * WRITE_CHUNK // 1024 + 10


def test_next_piece_takes_frames_up_to_the_limit_and_never_splits_one() -> None:
    frames = [b"a" * 100] * 5
    assert next_piece(frames, 250) == (3, 300)
    assert next_piece(frames, 300) == (3, 300)
    assert next_piece(frames, 10_000) == (5, 500)
    assert next_piece([b"x" * 1000, b"y"], 10) == (1, 1000)
    assert next_piece([], 10) == (0, 0)


@pytest.mark.parametrize("tracked", [False, True], ids=["plain", "trackMessages"])
def test_a_burst_bigger_than_a_piece_arrives_whole_and_in_order(
    run_any_loop, make_client, stomp_broker: Broker, tracked: bool
) -> None:
    url = f"failover:(tcp://127.0.0.1:{stomp_broker.port})?trackMessages=true" if tracked else None

    async def body() -> None:
        async with make_client(url) as client:
            sub = await client.subscribe("/queue/burst")
            for index in range(BURST):  # never yields: everything queues, then is written
                await client.send("/queue/burst", b"%08d" % index + b"x" * 1016)
            await client.send("/queue/burst", b"end", receipt=True)
            for index in range(BURST):
                message = await sub.get(timeout=10)
                assert message.body[:8] == b"%08d" % index
            assert (await sub.get(timeout=10)).body == b"end"

    run_any_loop(body())
