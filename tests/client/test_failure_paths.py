"""Failure paths of the client, driven through the in-process broker's fault injection.

Each test names the one-line mutant of the library it kills (see tools/mutants.py, which
applies them and runs this file)."""

from __future__ import annotations

from concurrent.futures import Future

from stomp_enterprise import (
    ConnectionLost,
)


def test_pending_receipts_counts_what_is_awaited(make_client, stomp_broker) -> None:
    with make_client() as client:
        stomp_broker.go_silent()
        futures = [client.send_async("/queue/p", b"%d" % n) for n in range(3)]
        assert client.pending_receipts == 3
        stomp_broker.resume()
        for future in futures:
            future.result(5)
        assert client.pending_receipts == 0
    assert client.pending_receipts == 0


def test_disconnect_resolves_every_pending_send_async(make_client, stomp_broker) -> None:
    """Mutant: Connection.close clears the pending receipts without failing their futures
    (callers of send_async wait forever)."""
    client = make_client(timeouts={"receipt": 5.0, "disconnect": 0.3, "drain": 0.3})
    client.connect()
    stomp_broker.go_silent()  # no RECEIPT will come
    futures = [client.send_async("/queue/pending", b"%d" % n) for n in range(5)]
    client.disconnect()
    assert all(isinstance(future, Future) and future.done() for future in futures)
    for future in futures:
        error = future.exception(0)
        assert isinstance(error, ConnectionLost)
        assert "closed" in str(error) or "lost" in str(error)
    assert client.pending_receipts == 0
    stomp_broker.resume()


def test_a_loss_fails_every_pending_send_async_on_a_plain_uri(make_client, stomp_broker) -> None:
    """Mutant: Connection._lost forgets the futures of the receipts it clears."""
    client = make_client()
    client.connect()
    stomp_broker.go_silent()  # the receipts never come...
    futures = [client.send_async("/queue/pending", b"%d" % n) for n in range(5)]
    stomp_broker.drop_connections()  # ...and the connection breaks
    for future in futures:
        assert isinstance(future.exception(10), ConnectionLost)
    assert client.pending_receipts == 0
    stomp_broker.resume()
