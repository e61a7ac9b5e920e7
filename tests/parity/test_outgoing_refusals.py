"""The client refuses what it must never write (a frame beyond ``max_frame_size``, a NUL in a
header) before queueing anything, and the connection stays usable."""

from __future__ import annotations

import pytest

from stomp_enterprise.errors import FrameTooLarge

LIMIT = 64 * 1024


def test_a_send_beyond_max_frame_size_is_refused_and_the_connection_stays_usable(
    make_client, stomp_broker
) -> None:
    with make_client(max_frame_size=LIMIT) as client:
        sub = client.subscribe("/queue/big")
        with pytest.raises(FrameTooLarge, match=f"max_frame_size={LIMIT}"):
            client.send("/queue/big", bytes(LIMIT + 1))
        with pytest.raises(FrameTooLarge):
            client.send("/queue/big", bytes(LIMIT + 1), {"app": "1"}, receipt=True)
        with pytest.raises(FrameTooLarge), client.transaction() as tx:
            tx.send("/queue/big", bytes(LIMIT + 1))
        client.send("/queue/big", b"after", receipt=True)
        assert sub.get(timeout=5).body == b"after"
        assert client.is_connected
        assert len(stomp_broker.received_frames("CONNECT")) == 1  # never dropped or reconnected
        sends = stomp_broker.received_frames("SEND")
        assert [f.body for f in sends] == [b"after"]  # not a byte of the big frames
