"""Issue 13 items 1-3 against the in-process broker: nothing accepted from the application is
lost on a connection loss. Frames still queued are written on the next connection (failover)
or reported (plain URI, gave up, closed); with ``trackMessages=true`` every SEND written
since the broker's last confirmation is written again; receipted sends survive a drop;
transactions fail clearly and are never replayed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stomp_enterprise import (
    Client,
    TransactionError,
)
from stomp_enterprise.testing import Broker
from tests.parity.test_outbound import WAIT, failover, open_transaction


@pytest.mark.parametrize("verb", ["send", "ack"])
@pytest.mark.parametrize("event", ["commit", "loss"])
def test_a_transactional_frame_built_just_before_its_commit_or_loss_is_never_written(
    stomp_broker: Broker, make_client: Callable[..., Client], verb: str, event: str
) -> None:
    """A SEND/ACK of a transaction is built outside the session lock; when the COMMIT or
    the connection's loss comes between building and queueing, it is refused with
    TransactionError: never written after the COMMIT, nor on the next connection."""
    client, message, tx = open_transaction(make_client(failover(stomp_broker), timeouts=WAIT))
    connection = client._connection
    assert connection is not None
    session = connection.session
    real = getattr(session, verb)
    happened: list[str] = []

    def build(*args: Any, **kwargs: Any) -> bytes:
        data: bytes = real(*args, **kwargs)
        if not happened:  # between building and queueing, as another thread might
            happened.append(event)
            if event == "commit":
                tx.commit()
            else:
                stomp_broker.drop_connections()
                stomp_broker.wait_for(lambda: client.is_connected and client.reconnects == 1)
        return data

    setattr(session, verb, build)
    attempt = (
        (lambda: tx.send("/queue/tx-out", b"raced"))
        if verb == "send"
        else (lambda: tx.ack(message))
    )
    with pytest.raises(TransactionError, match="committed" if event == "commit" else "lost"):
        attempt()
    assert happened == [event]
    client.send("/queue/tx-race-sync", b"x", receipt=True)  # everything written has arrived
    frames = [r.frame for r in stomp_broker.received]
    tail = frames[[f.command for f in frames].index("BEGIN") + 2 :]  # after BEGIN, "before"
    assert [f.command for f in tail if f.headers.get("transaction") == tx.id] == (
        ["COMMIT"] if event == "commit" else []
    )
    expected = [b"before"] if event == "commit" else []
    assert [m.body for m in stomp_broker.sent_messages("/queue/tx-out")] == expected
